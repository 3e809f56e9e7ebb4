"""OpenAI chat completion chunks folded into a `chat.completion` (also the OpenAI-compatible
hosts' and Mistral's, which send the same chunks).

Each chunk carries the answer's id, model and fingerprint, and per choice a `delta`: strings
(`content`, `refusal`, a host's `reasoning_content`) arrive in pieces to be joined, `tool_calls`
by their `index`, the first piece with the call's id and name and every piece with some of its
arguments' JSON text. `logprobs.content` entries come with the text they score. OpenAI sends the
usage in a last chunk with no choices (only with `stream_options.include_usage`); Mistral puts it
in the chunk with the finish reason. `data: [DONE]` ends the stream. A Mistral reasoning answer's
`content` is a list of chunks (a thinking chunk, then text), each delta adding to the last chunk
of its type.

A stream cut off before its usage chunk says nothing of what was billed; its partial body then
counts one output token per delta that carried some (OpenAI streams about a token a chunk), and
the engine adds its estimate of the prompt.
"""

from __future__ import annotations

from typing import Any

_TOP = ("id", "created", "model", "service_tier", "system_fingerprint")
"""Answer fields every chunk repeats."""


class OpenAIChatFold:
    __slots__ = ("_choices", "_deltas", "_top", "_usage", "done", "failed")

    def __init__(self) -> None:
        self.failed: tuple[int, dict[str, Any]] | None = None
        self.done = False
        self._top: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}
        self._usage: dict[str, Any] | None = None
        self._deltas = 0

    def feed(self, event: str | None, data: Any) -> None:
        if data == "[DONE]":
            self.done = True
            return
        if not isinstance(data, dict):
            return
        if "error" in data and "choices" not in data:  # an error sent mid-stream
            error = data["error"]
            self.failed = (_status(error), data)
            return
        top = self._top
        if not top:
            top.update((key, data[key]) for key in _TOP if key in data)
        elif data.get("system_fingerprint") is not None:
            top["system_fingerprint"] = data["system_fingerprint"]
        if data.get("usage"):
            self._usage = data["usage"]
        for piece in data.get("choices") or ():
            self._choice(piece)

    def _choice(self, piece: dict[str, Any]) -> None:
        index = piece.get("index", 0)
        choice = self._choices.get(index)
        if choice is None:
            choice = self._choices[index] = {
                "index": index,
                "message": {"role": "assistant", "content": None, "refusal": None},
                "logprobs": None,
                "finish_reason": None,
            }
        message = choice["message"]
        delta = piece.get("delta") or {}
        if delta.get("content") or delta.get("tool_calls") or delta.get("refusal"):
            self._deltas += 1
        for key, value in delta.items():
            if key == "tool_calls":
                _tool_calls(message, value or ())
            elif key == "content" and isinstance(value, list):
                _content_chunks(message, value)
            elif isinstance(value, str) and key != "role":
                message[key] = (message.get(key) or "") + value
            elif value is not None:
                message[key] = value
        logprobs = piece.get("logprobs")
        if logprobs:
            mine = choice["logprobs"]
            if mine is None:
                mine = choice["logprobs"] = {"content": None, "refusal": None}
            for key in ("content", "refusal"):
                if logprobs.get(key):
                    mine[key] = (mine[key] or []) + logprobs[key]
        if piece.get("finish_reason") is not None:
            choice["finish_reason"] = piece["finish_reason"]

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self._top.get("id", ""),
            "object": "chat.completion",
            "created": self._top.get("created", 0),
            "model": self._top.get("model", ""),
            "choices": [self._choices[index] for index in sorted(self._choices)],
        }
        for key in ("service_tier", "system_fingerprint"):
            if key in self._top:
                body[key] = self._top[key]
        if self._usage is not None:
            body["usage"] = self._usage
        elif not self.done:
            body["usage"] = {"prompt_tokens": 0, "completion_tokens": self._deltas, "total_tokens": self._deltas}
        return body


def _tool_calls(message: dict[str, Any], pieces: Any) -> None:
    calls: list[dict[str, Any]] = message.setdefault("tool_calls", [])
    for piece in pieces:
        index = piece.get("index", len(calls))
        while len(calls) <= index:
            calls.append({"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
        call = calls[index]
        if piece.get("id"):
            call["id"] = piece["id"]
        if piece.get("type"):
            call["type"] = piece["type"]
        function = piece.get("function") or {}
        if function.get("name"):
            call["function"]["name"] += function["name"]
        if function.get("arguments"):
            call["function"]["arguments"] += function["arguments"]


def _content_chunks(message: dict[str, Any], chunks: list[Any]) -> None:
    """Mistral's content chunks: text joins the last text chunk, thinking the last thinking's."""
    content = message.get("content")
    held: list[dict[str, Any]] = (
        content if isinstance(content, list) else ([] if not content else [{"type": "text", "text": content}])
    )
    for chunk in chunks:
        last = held[-1] if held else None
        if last is not None and last.get("type") == chunk.get("type") == "text":
            last["text"] += chunk.get("text", "")
        elif last is not None and last.get("type") == chunk.get("type") == "thinking":
            last["thinking"] = _joined(last["thinking"], chunk.get("thinking") or [])
        else:
            held.append(dict(chunk))
    message["content"] = held


def _joined(have: list[dict[str, Any]], more: list[dict[str, Any]]) -> list[dict[str, Any]]:
    have = list(have)
    for part in more:
        if have and have[-1].get("type") == part.get("type") == "text":
            have[-1] = {**have[-1], "text": have[-1]["text"] + part.get("text", "")}
        else:
            have.append(dict(part))
    return have


def _status(error: Any) -> int:
    """The HTTP status an error sent in the stream would have had: its own code when numeric,
    else a server error (OpenAI sends mid-stream errors only for server-side failures)."""
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) and 400 <= code < 600 else 500


FOLD = OpenAIChatFold
