"""Anthropic's Messages stream (`stream: true`) folded into the Message it answers without streaming.

The events, in order: `message_start` (the message with empty content and the input usage); per
content block a `content_block_start`, its `content_block_delta`s (`text_delta`,
`input_json_delta`, `thinking_delta`, `signature_delta`, `citations_delta`) and a
`content_block_stop`; `message_delta` (stop reason, usage so far: counts are cumulative, so they
replace); `message_stop`, the last. `ping`s come at any point, and `error` ends a stream with the
error the same failure answers online. Anthropic counts the output once, at the end: a stream cut
off before it bills, as its output, one token a delta that carried some (a delta is a few
tokens), or the count `message_start` gave if more. A tool call's input is an object, whole only
once its block stops: the body has the call from then on, never half of it. Event and delta types this fold does not know are skipped, as
Anthropic asks of clients (it adds new ones), and as its SDK's own accumulation does; a known
event of the wrong shape raises ValueError naming it (the stream reader ends the attempt there).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import orjson

ERROR_STATUS = MappingProxyType(
    {
        "invalid_request_error": 400,
        "authentication_error": 401,
        "billing_error": 402,
        "permission_error": 403,
        "not_found_error": 404,
        "request_too_large": 413,
        "rate_limit_error": 429,
        "api_error": 500,
        "timeout_error": 504,
        "overloaded_error": 529,
    }
)
"""The HTTP status each error type has when it is not streamed (Anthropic's errors page); an
`error` event of another type is taken as a 500."""
_GROWS = MappingProxyType(
    {
        "text_delta": ("text", "text"),
        "thinking_delta": ("thinking", "thinking"),
        "input_json_delta": ("input", "partial_json"),
    }
)
"""Delta type -> (the block field it extends, the delta field holding the piece)."""


class AnthropicMessagesFold:
    """One Anthropic message being rebuilt from its events. Deltas are kept as lists of pieces
    and joined when the body is asked for: a long answer is many thousands of deltas."""

    def __init__(self, provider: str = "Anthropic") -> None:
        self.failed: tuple[int, dict[str, Any]] | None = None
        self.done = False
        self._provider = provider
        self._deltas = 0
        self._message: dict[str, Any] = {}
        self._blocks: dict[int, dict[str, Any]] = {}
        self._pieces: dict[int, tuple[str, list[str]]] = {}
        """Block index -> the field its deltas extend, and the pieces so far."""
        self._open_tools: set[int] = set()
        """Tool calls started and not yet stopped: their input is whole only at their stop."""

    def feed(self, event: str | None, data: Any) -> None:
        if not isinstance(data, dict):
            raise _malformed(self._provider, f"an event that is not an object: {str(data)[:200]}")
        kind = data.get("type")
        if kind == "message_start":
            message = _mapping(self._provider, data, "message")
            self._message = {**message, "usage": dict(_mapping(self._provider, message, "usage"))}
        elif kind == "content_block_start":
            block = _mapping(self._provider, data, "content_block")
            index = self._index(data, started=False)
            self._blocks[index] = dict(block)
            if "input" in block:
                self._open_tools.add(index)
        elif kind == "content_block_delta":
            self._delta(self._index(data), _mapping(self._provider, data, "delta"))
        elif kind == "content_block_stop":
            self._close(self._index(data))
        elif kind == "message_delta":
            self._message.update(_mapping(self._provider, data, "delta"))
            usage = {k: v for k, v in _mapping(self._provider, data, "usage").items() if v is not None}
            self._message["usage"] = {**self._message.get("usage", {}), **usage}
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            error = data.get("error")
            self.failed = (ERROR_STATUS.get(str(error.get("type")) if isinstance(error, dict) else "", 500), data)

    def body(self) -> dict[str, Any]:
        if not self._message:
            return {}
        content = []
        for index in sorted(self._blocks):
            if index in self._open_tools:  # a call joins the answer whole, once its input is
                continue
            block = self._blocks[index]
            field, pieces = self._pieces.get(index, ("", []))
            if pieces:
                block = {**block, field: block[field] + "".join(pieces)}
            content.append(block)
        message = {**self._message, "content": content}
        if not self.done and "usage" in message:
            usage = message["usage"]
            message["usage"] = {**usage, "output_tokens": max(self._deltas, usage.get("output_tokens") or 0)}
        return message

    def _index(self, data: dict[str, Any], *, started: bool = True) -> int:
        index = data.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or (started and index not in self._blocks):
            raise _malformed(self._provider, f"{data.get('type')} for content block {index!r}, which was never started")
        return index

    def _delta(self, index: int, delta: dict[str, Any]) -> None:
        block = self._blocks[index]
        kind = str(delta.get("type"))
        if kind in _GROWS:
            field, source = _GROWS[kind]
            piece = delta.get(source)
            if not isinstance(piece, str):
                raise _malformed(self._provider, f"{kind} of block {index} whose {source} is not a string")
            if field not in block or (field != "input" and not isinstance(block[field], str)):
                raise _malformed(self._provider, f"{kind} for block {index}, a {block.get('type')!r} block")
            self._pieces.setdefault(index, (field, []))[1].append(piece)
            self._deltas += bool(piece)
        elif kind == "signature_delta":
            block["signature"] = delta.get("signature")
        elif kind == "citations_delta":
            block["citations"] = [*(block.get("citations") or ()), delta.get("citation")]

    def _close(self, index: int) -> None:
        """A tool's input is whole once its block stops: its JSON is parsed then, not before."""
        self._open_tools.discard(index)
        if self._pieces.get(index, ("",))[0] != "input":
            return
        text = "".join(self._pieces.pop(index)[1])
        if not text:
            return
        block = self._blocks[index]
        try:
            block["input"] = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise _malformed(
                self._provider, f"the input of tool call {block.get('id')!r} is not JSON: {text[:200]!r}"
            ) from None


def _mapping(provider: str, data: dict[str, Any], field: str) -> dict[str, Any]:
    value = data.get(field)
    if not isinstance(value, dict):
        raise _malformed(provider, f"{data.get('type')} whose {field} is not an object")
    return value


def _malformed(provider: str, what: str) -> ValueError:
    return ValueError(f"{provider} streamed {what}")


FOLD = AnthropicMessagesFold
