"""A chat completion as OpenAI streams it (and, with `mistral_events`, as Mistral does).

Every chunk is a `chat.completion.chunk` repeating the answer's id, created, model (and
OpenAI's service tier and fingerprint). Per choice: a first chunk with the role and an empty
content (null before a tool call); the text in pieces of a few tokens (one token a chunk when logprobs are asked for, each
chunk carrying its token's entry); a tool call's id and name first, then its arguments' JSON in
pieces cut anywhere; a last chunk with an empty delta and the finish reason. OpenAI then sends
the usage in a chunk with no choices, only when `stream_options.include_usage` is set (and then
`"usage": null` on every other chunk); Mistral puts it in the finish chunk, sends each tool call
whole in one chunk, and no `logprobs`. `[DONE]` ends both.
"""

from __future__ import annotations

import random
from typing import Any

from cloudburst._sim.answers import cut, pieces

_TOP = ("id", "created", "model", "service_tier", "system_fingerprint")


def events(answer: dict[str, Any], request: dict[str, Any]) -> list[tuple[str | None, Any]]:
    usage_chunk = bool((request.get("stream_options") or {}).get("include_usage"))
    return _events(answer, usage_chunk=usage_chunk, mistral=False)


def mistral_events(answer: dict[str, Any], request: dict[str, Any]) -> list[tuple[str | None, Any]]:
    return _events(answer, usage_chunk=False, mistral=True)


def _events(answer: dict[str, Any], *, usage_chunk: bool, mistral: bool) -> list[tuple[str | None, Any]]:
    top = {key: answer[key] for key in _TOP if key in answer}
    top["object"] = "chat.completion.chunk"
    rng = random.Random(str(answer.get("id")))
    chunks: list[dict[str, Any]] = []

    def chunk(index: int, delta: dict[str, Any], logprobs: Any = None, finish: str | None = None) -> None:
        choice = {"index": index, "delta": delta, "finish_reason": finish}
        if not mistral:
            choice["logprobs"] = logprobs
        chunks.append({**top, "choices": [choice]})

    for choice in answer["choices"]:
        index, message = choice["index"], choice["message"]
        content = message.get("content")
        chunk(index, {"role": "assistant", "content": "" if content is not None else None, "refusal": None})
        if isinstance(content, list):  # Mistral's thinking and text chunks
            for part in content:
                for piece in pieces(_part_text(part), rng):
                    chunk(index, {"content": [_part_with(part, piece)]})
        elif content:
            entries = (choice.get("logprobs") or {}).get("content")
            if entries:
                for entry in entries:
                    chunk(index, {"content": entry["token"]}, {"content": [entry], "refusal": None})
            else:
                for piece in pieces(content, rng):
                    chunk(index, {"content": piece})
        if message.get("refusal"):
            for piece in pieces(message["refusal"], rng):
                chunk(index, {"refusal": piece})
        for position, call in enumerate(message.get("tool_calls") or ()):
            function = call["function"]
            head = {"index": position, "id": call["id"], "type": "function", "function": {"name": function["name"]}}
            head["function"]["arguments"] = function["arguments"] if mistral else ""
            chunk(index, {"tool_calls": [head]})
            arguments = "" if mistral else function["arguments"]
            for piece in cut(arguments, rng):
                chunk(index, {"tool_calls": [{"index": position, "function": {"arguments": piece}}]})
        chunk(index, {}, None, choice["finish_reason"])
    if mistral and "usage" in answer:
        chunks[-1]["usage"] = answer["usage"]
    if usage_chunk:
        for each in chunks:
            each["usage"] = None
        chunks.append({**top, "choices": [], "usage": answer.get("usage")})
    return [(None, each) for each in chunks] + [(None, "[DONE]")]


def _part_text(part: dict[str, Any]) -> str:
    if part.get("type") == "thinking":
        return "".join(p.get("text", "") for p in part.get("thinking") or ())
    return str(part.get("text", ""))


def _part_with(part: dict[str, Any], text: str) -> dict[str, Any]:
    if part.get("type") == "thinking":
        return {"type": "thinking", "thinking": [{"type": "text", "text": text}]}
    return {"type": part.get("type", "text"), "text": text}
