"""A Responses API answer as OpenAI streams it: named events, each carrying its `type` and a
`sequence_number`, from `response.created` to `response.completed` (`response.incomplete` for a
cut answer), whose `response` is the whole answer.

Per output item: `response.output_item.added` (the item with empty content, arguments or
summary), then for a message `response.content_part.added`, `response.output_text.delta` pieces
(one token each, with its logprobs, when logprobs were asked for), `response.output_text.done`
and `response.content_part.done`; for a function call `response.function_call_arguments.delta`
pieces cut anywhere in the JSON and `.done`; for a reasoning summary
`response.reasoning_summary_part.added`, `response.reasoning_summary_text.delta` pieces and
their `.done` events; and `response.output_item.done` with the whole item.
"""

from __future__ import annotations

import random
from typing import Any

from cloudburst._sim.answers import cut, pieces


def events(answer: dict[str, Any], request: dict[str, Any]) -> list[tuple[str | None, Any]]:
    rng = random.Random(str(answer.get("id")))
    out: list[tuple[str | None, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        out.append((kind, {"type": kind, "sequence_number": len(out), **fields}))

    opening = {**answer, "status": "in_progress", "output": [], "usage": None, "completed_at": None}
    opening["incomplete_details"] = None
    emit("response.created", response=opening)
    emit("response.in_progress", response=opening)
    for index, item in enumerate(answer["output"]):
        emit("response.output_item.added", output_index=index, item=_opened(item))
        where = {"item_id": item.get("id"), "output_index": index}
        if item["type"] == "message":
            for position, part in enumerate(item["content"]):
                at = {**where, "content_index": position}
                emit("response.content_part.added", **at, part={**part, "text": "", "logprobs": []})
                entries = part.get("logprobs") or []
                deltas = [(e["token"], [e]) for e in entries] or [(p, []) for p in pieces(part["text"], rng)]
                for delta, logprobs in deltas:
                    emit("response.output_text.delta", **at, delta=delta, logprobs=logprobs)
                emit("response.output_text.done", **at, text=part["text"], logprobs=entries)
                emit("response.content_part.done", **at, part=part)
        elif item["type"] == "function_call":
            for piece in cut(item["arguments"], rng):
                emit("response.function_call_arguments.delta", **where, delta=piece)
            emit("response.function_call_arguments.done", **where, arguments=item["arguments"])
        elif item["type"] == "reasoning":
            for position, summary in enumerate(item.get("summary") or ()):
                at = {**where, "summary_index": position}
                emit("response.reasoning_summary_part.added", **at, part={"type": "summary_text", "text": ""})
                for delta in pieces(summary["text"], rng):
                    emit("response.reasoning_summary_text.delta", **at, delta=delta)
                emit("response.reasoning_summary_text.done", **at, text=summary["text"])
                emit("response.reasoning_summary_part.done", **at, part=summary)
        emit("response.output_item.done", output_index=index, item=item)
    emit("response.incomplete" if answer["status"] == "incomplete" else "response.completed", response=answer)
    return out


def _opened(item: dict[str, Any]) -> dict[str, Any]:
    """An output item as `response.output_item.added` shows it: nothing generated yet."""
    if item["type"] == "message":
        return {**item, "status": "in_progress", "content": []}
    if item["type"] == "function_call":
        return {**item, "status": "in_progress", "arguments": ""}
    if item["type"] == "reasoning":
        return {key: value for key, value in item.items() if key != "encrypted_content"} | {"summary": []}
    return item
