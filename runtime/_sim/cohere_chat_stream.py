"""Cohere's v2 chat stream as the simulator plays it: the answer `/v2/chat` would give, sent as
typed events (named in the SSE `event:` field and in each event's `type`), in the order Cohere
sends them: `message-start` with the id and an empty message; each content block (thinking,
then text) opened, streamed in small deltas and closed, its citations after its text; the tool
plan in deltas, then each tool call opened with its id and name, its arguments streamed cut
mid-JSON, and closed; `message-end` with the finish reason and the whole usage; then
`data: [DONE]`, which the cohere SDK stops at.
"""

from __future__ import annotations

import random
from typing import Any

from cloudburst._sim.answers import cut

TEXT_PIECE = (2, 12)
"""Characters a delta carries, low and high: Cohere streams about a token an event."""
ARGUMENTS_PIECE = (3, 16)


def events(answer: dict[str, Any], request: dict[str, Any]) -> list[tuple[str | None, Any]]:
    rng = random.Random(str(answer.get("id")))
    message = answer.get("message") or {}
    empty = {
        "role": message.get("role", "assistant"),
        "content": [],
        "tool_plan": "",
        "tool_calls": [],
        "citations": [],
    }
    out: list[tuple[str | None, Any]] = [_event("message-start", id=answer.get("id"), delta={"message": empty})]
    citations = list(message.get("citations") or ())
    for index, block in enumerate(message.get("content") or ()):
        key = str(block.get("type"))
        out.append(_event("content-start", index=index, delta={"message": {"content": {"type": key, key: ""}}}))
        for piece in cut(str(block.get(key) or ""), rng, TEXT_PIECE):
            out.append(_event("content-delta", index=index, delta={"message": {"content": {key: piece}}}))
        if key == "text":
            for number, citation in enumerate(citations):
                out.append(_event("citation-start", index=number, delta={"message": {"citations": citation}}))
                out.append(_event("citation-end", index=number))
            citations = []
        out.append(_event("content-end", index=index))
    for piece in cut(message.get("tool_plan") or "", rng, TEXT_PIECE):
        out.append(_event("tool-plan-delta", delta={"message": {"tool_plan": piece}}))
    for index, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") or {}
        start = {**call, "function": {**function, "arguments": ""}}
        out.append(_event("tool-call-start", index=index, delta={"message": {"tool_calls": start}}))
        for piece in cut(function.get("arguments") or "", rng, ARGUMENTS_PIECE):
            delta = {"message": {"tool_calls": {"function": {"arguments": piece}}}}
            out.append(_event("tool-call-delta", index=index, delta=delta))
        out.append(_event("tool-call-end", index=index))
    end = {key: answer[key] for key in ("finish_reason", "usage") if key in answer}
    out.append(_event("message-end", delta=end))
    return [*out, (None, "[DONE]")]


def _event(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return kind, {"type": kind, **fields}
