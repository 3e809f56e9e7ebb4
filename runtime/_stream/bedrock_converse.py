"""Bedrock's ConverseStream folded into the answer Converse gives without streaming.

The events (botocore's `ConverseStreamOutput`): `messageStart` (the role); per content block,
`contentBlockStart` only for a tool call (`start.toolUse`: its id and name; a text or reasoning
block starts with its first delta), `contentBlockDelta`s (`text`, `toolUse.input` as pieces of
JSON, `reasoningContent` with `text`, `signature` or `redactedContent`) and `contentBlockStop`;
`messageStop` (the stop reason, `additionalModelResponseFields`); `metadata` (usage, metrics,
trace, performance config, service tier), which comes last: a stream cut off before it has no
usage Bedrock said, so its partial body counts one output token a delta that carried some, and
no input (the engine then counts the prompt itself). A tool call joins the body once its block
stops, its input whole. An exception event (see `aws_eventstream`)
fails the stream. Every payload carries a padding field `p` that is not the answer's; it, and
deltas this fold does not know (citations, tool results, images), are left out; a known event
of the wrong shape raises ValueError naming it.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from cloudburst._stream.aws_eventstream import failure

_METADATA = ("usage", "metrics", "trace", "performanceConfig", "serviceTier")
"""The fields of the `metadata` event that the answer has at its top level."""


class BedrockConverseFold:
    """One Converse answer being rebuilt. Text, reasoning and tool input arrive as pieces, kept
    in lists and joined when the body is asked for."""

    def __init__(self) -> None:
        self.failed: tuple[int, dict[str, Any]] | None = None
        self.done = False
        self._deltas = 0
        self._role = "assistant"
        self._blocks: dict[int, dict[str, Any]] = {}
        self._pieces: dict[tuple[int, str], list[str]] = {}
        self._top: dict[str, Any] = {}
        self._open_tools: set[int] = set()
        """Tool calls started and not yet stopped: their input is whole only at their stop."""

    def feed(self, event: str | None, data: Any) -> None:
        if not isinstance(data, dict):
            raise _malformed(f"a {event} event that is not an object")
        if event == "messageStart":
            self._role = data.get("role") or "assistant"
        elif event == "contentBlockStart":
            tool = (data.get("start") or {}).get("toolUse")
            if isinstance(tool, dict):
                self._blocks[_index(data)] = {"toolUse": {**tool, "input": {}}}
                self._open_tools.add(_index(data))
        elif event == "contentBlockDelta":
            self._delta(_index(data), data.get("delta"))
        elif event == "contentBlockStop":
            self._close(_index(data))
        elif event == "messageStop":
            self._top.update({k: v for k, v in data.items() if k in ("stopReason", "additionalModelResponseFields")})
        elif event == "metadata":
            self._top.update({k: v for k, v in data.items() if k in _METADATA})
            self.done = True
        elif event is not None:
            self.failed = failure(event, data) or self.failed

    def body(self) -> dict[str, Any]:
        content = []
        for index in sorted(self._blocks):
            block = self._blocks[index]
            if index in self._open_tools:  # a call joins the answer whole, once its input is
                continue
            if "text" in block:
                block = {"text": "".join(self._pieces.get((index, "text"), ()))}
            elif "reasoningText" in block.get("reasoningContent", {}):
                reasoning = {**block["reasoningContent"]["reasoningText"]}
                reasoning["text"] = "".join(self._pieces.get((index, "reasoning"), ()))
                block = {"reasoningContent": {"reasoningText": reasoning}}
            content.append(block)
        answer = {"output": {"message": {"role": self._role, "content": content}}, **self._top}
        if not self.done and "usage" not in answer:
            answer["usage"] = {"inputTokens": 0, "outputTokens": self._deltas, "totalTokens": self._deltas}
        return answer

    def _delta(self, index: int, delta: Any) -> None:
        if not isinstance(delta, dict):
            raise _malformed(f"a contentBlockDelta of block {index} without its delta")
        if "text" in delta:
            self._grow(index, "text", delta["text"], {"text": ""})
        elif "toolUse" in delta:
            if "toolUse" not in self._blocks.get(index, {}):
                raise _malformed(f"tool input for block {index}, which no toolUse start opened")
            self._grow(index, "input", (delta["toolUse"] or {}).get("input"), {})
        elif isinstance(delta.get("reasoningContent"), dict):
            self._reasoning(index, delta["reasoningContent"])

    def _reasoning(self, index: int, delta: dict[str, Any]) -> None:
        if "redactedContent" in delta:
            block = self._blocks.setdefault(index, {"reasoningContent": {"redactedContent": ""}})
            before = base64.b64decode(block["reasoningContent"].get("redactedContent", ""))
            added = base64.b64decode(str(delta["redactedContent"]))
            block["reasoningContent"] = {"redactedContent": base64.b64encode(before + added).decode()}
            return
        opened = {"reasoningContent": {"reasoningText": {"text": ""}}}
        if "text" in delta:
            self._grow(index, "reasoning", delta["text"], opened)
        if "signature" in delta:
            reasoning = self._blocks.setdefault(index, opened)["reasoningContent"]["reasoningText"]
            reasoning["signature"] = delta["signature"]

    def _grow(self, index: int, field: str, piece: Any, opened: dict[str, Any]) -> None:
        if not isinstance(piece, str):
            raise _malformed(f"a {field} delta of block {index} that is not a string")
        self._blocks.setdefault(index, opened)
        self._pieces.setdefault((index, field), []).append(piece)
        self._deltas += bool(piece)

    def _close(self, index: int) -> None:
        """A tool's input is whole once its block stops: its JSON is parsed then."""
        self._open_tools.discard(index)
        text = "".join(self._pieces.pop((index, "input"), ()))
        if not text:
            return
        tool = self._blocks[index]["toolUse"]
        try:
            tool["input"] = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise _malformed(
                f"the input of tool call {tool.get('toolUseId')!r} that is not JSON: {text[:200]!r}"
            ) from None


def _index(data: dict[str, Any]) -> int:
    index = data.get("contentBlockIndex")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise _malformed(f"a content block event whose contentBlockIndex is {index!r}")
    return index


def _malformed(what: str) -> ValueError:
    return ValueError(f"Amazon Bedrock streamed {what}")


FOLD = BedrockConverseFold
