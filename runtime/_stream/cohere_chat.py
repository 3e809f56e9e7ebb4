"""Cohere's v2 chat stream (`stream: true` on `/v2/chat`): typed events, each naming its `type`
in the SSE `event:` field and again in its data.

`message-start` carries the answer's `id`; each content block (thinking, then text) is a
`content-start` with its type, `content-delta`s of text (with their `logprobs` when asked) and a
`content-end`, all under the block's `index`; a tool call's plan streams as `tool-plan-delta`s,
each call as a `tool-call-start` (id, name), `tool-call-delta`s of its JSON arguments and a
`tool-call-end`; citations come as `citation-start`/`citation-end`. `message-end` is last, with
the `finish_reason` and the whole `usage`: a stream cut before it has no usage to bill. The
fold gives the ChatResponse Cohere answers without streaming: fields the stream opens empty
(`content`, `tool_plan`, `tool_calls`, `citations`) are left out unless something filled them.
"""

from __future__ import annotations

from typing import Any


class _Piecewise:
    """A content block or tool call: what its start event said, and the pieces of its `key` (the
    block's type names the field its text is in: `text`, `thinking`; a call's is `arguments`)."""

    __slots__ = ("key", "pieces", "start")

    def __init__(self, start: dict[str, Any], key: str) -> None:
        self.start = start
        self.key = key
        self.pieces: list[str] = []

    def text(self, opened: Any) -> str:
        return (opened if isinstance(opened, str) else "") + "".join(self.pieces)


class CohereChatFold:
    """Cohere v2 chat stream events in, the v2 ChatResponse out."""

    __slots__ = ("_calls", "_citations", "_content", "_end", "_head", "_logprobs", "_plan", "_role", "done", "failed")

    def __init__(self) -> None:
        self.failed: tuple[int, dict[str, Any]] | None = None
        self.done = False
        self._head: dict[str, Any] = {}
        self._role = "assistant"
        self._content: dict[int, _Piecewise] = {}
        self._plan: list[str] = []
        self._calls: dict[int, _Piecewise] = {}
        self._citations: list[Any] = []
        self._end: dict[str, Any] = {}
        self._logprobs: list[Any] = []

    def feed(self, event: str | None, data: Any) -> None:
        if not isinstance(data, dict):  # the `data: [DONE]` Cohere closes with
            return
        kind = data.get("type", event)
        delta = _object(data.get("delta"))
        message = _object(delta.get("message"))
        index = data["index"] if isinstance(data.get("index"), int) else 0
        if kind == "message-start":
            if "id" in data:
                self._head["id"] = data["id"]
            self._role = message.get("role") or self._role
        elif kind in ("content-start", "content-delta"):
            content = _object(message.get("content"))
            block = self._content.get(index)
            if block is None:
                key = str(content.get("type") or ("thinking" if "thinking" in content else "text"))
                block = self._content[index] = _Piecewise({"type": key, **content}, key)
            elif kind == "content-delta" and isinstance(content.get(block.key), str):
                block.pieces.append(content[block.key])
            if "logprobs" in data:
                self._logprobs.append(data["logprobs"])
        elif kind == "tool-plan-delta" and isinstance(message.get("tool_plan"), str):
            self._plan.append(message["tool_plan"])
        elif kind in ("tool-call-start", "tool-call-delta"):
            call = _object(message.get("tool_calls"))
            function = _object(call.get("function"))
            if kind == "tool-call-start":
                self._calls[index] = _Piecewise(call, "arguments")
            elif index in self._calls and isinstance(function.get("arguments"), str):
                self._calls[index].pieces.append(function["arguments"])
        elif kind == "citation-start" and isinstance(message.get("citations"), dict):
            self._citations.append(message["citations"])
        elif kind == "message-end":
            self._end = {key: delta[key] for key in ("finish_reason", "usage") if key in delta}
            self.done = True

    def body(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self._role}
        if self._plan:
            message["tool_plan"] = "".join(self._plan)
        if self._calls:
            message["tool_calls"] = [self._call(self._calls[index]) for index in sorted(self._calls)]
        if self._content:
            message["content"] = [self._block(self._content[index]) for index in sorted(self._content)]
        if self._citations:
            message["citations"] = list(self._citations)
        out = {**self._head, "message": message, **self._end}
        if self._logprobs:
            out["logprobs"] = list(self._logprobs)
        return out

    @staticmethod
    def _block(block: _Piecewise) -> dict[str, Any]:
        return {**block.start, block.key: block.text(block.start.get(block.key))}

    @staticmethod
    def _call(call: _Piecewise) -> dict[str, Any]:
        function = _object(call.start.get("function"))
        return {**call.start, "function": {**function, "arguments": call.text(function.get("arguments"))}}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


FOLD = CohereChatFold
