"""OpenAI Responses API events folded into a `response` object.

The stream opens with `response.created` (the response, `in_progress`, no output), then per
output item `response.output_item.added`, its deltas (`response.output_text.delta` with the
token logprobs, `response.function_call_arguments.delta`, `response.reasoning_summary_text.delta`)
and `response.output_item.done` with the whole item. It ends with `response.completed` or
`response.incomplete` (a cut answer, still a 200 answer), whose `response` is the very body the
API answers without streaming, or `response.failed` (its `response.error` says why); an `error`
event is a failure outside any response. A failure is folded into the error body and status the
same failure has when not streamed.

A stream cut off before its end is the items so far, deltas applied, billed one output token a
delta (the usage comes only with the last event).
"""

from __future__ import annotations

from typing import Any

_ENDS = frozenset({"response.completed", "response.incomplete"})
_STATUS_OF_CODE = {"rate_limit_exceeded": 429, "insufficient_quota": 429, "invalid_prompt": 400, "server_error": 500}
"""The HTTP status of an error code met in a stream, as the same error has online."""


class OpenAIResponsesFold:
    __slots__ = ("_deltas", "_final", "_items", "_response", "done", "failed")

    def __init__(self) -> None:
        self.failed: tuple[int, dict[str, Any]] | None = None
        self.done = False
        self._response: dict[str, Any] = {}
        self._final: dict[str, Any] | None = None
        self._items: dict[int, dict[str, Any]] = {}
        self._deltas = 0

    def feed(self, event: str | None, data: Any) -> None:
        if not isinstance(data, dict):
            return
        kind = data.get("type", event)
        if kind in _ENDS:
            self._final = data["response"]
            self.done = True
        elif kind == "response.failed":
            error = (data.get("response") or {}).get("error") or {}
            code = str(error.get("code"))
            self.failed = (_STATUS_OF_CODE.get(code, 500), {"error": {"type": code, **error}})
        elif kind == "error":
            fields = {key: data.get(key) for key in ("message", "type", "param", "code")}
            self.failed = (_STATUS_OF_CODE.get(str(fields["code"]), 500), {"error": fields})
        elif kind in ("response.created", "response.in_progress"):
            self._response = data.get("response") or {}
        elif kind in ("response.output_item.added", "response.output_item.done"):
            self._items[data["output_index"]] = data["item"]
        elif kind == "response.output_text.delta":
            self._deltas += 1
            part = self._part(data)
            if part is not None:
                part["text"] = part.get("text", "") + data.get("delta", "")
                part["logprobs"] = (part.get("logprobs") or []) + (data.get("logprobs") or [])
        elif kind == "response.function_call_arguments.delta":
            self._deltas += 1
            item = self._items.get(data.get("output_index", -1))
            if item is not None:
                item["arguments"] = item.get("arguments", "") + data.get("delta", "")
        elif kind == "response.content_part.added":
            item = self._items.get(data.get("output_index", -1))
            if item is not None:
                item.setdefault("content", []).append(dict(data["part"]))

    def _part(self, data: dict[str, Any]) -> dict[str, Any] | None:
        item = self._items.get(data.get("output_index", -1))
        content = item.get("content") if item is not None else None
        index = data.get("content_index", 0)
        return content[index] if isinstance(content, list) and index < len(content) else None

    def body(self) -> dict[str, Any]:
        if self._final is not None:
            return self._final
        partial = {**self._response, "output": [self._items[index] for index in sorted(self._items)]}
        partial["usage"] = {"input_tokens": 0, "output_tokens": self._deltas, "total_tokens": self._deltas}
        return partial


FOLD = OpenAIResponsesFold
