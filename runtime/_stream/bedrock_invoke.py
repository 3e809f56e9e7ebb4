"""Bedrock's InvokeModelWithResponseStream for Anthropic's models, folded into the message
InvokeModel answers without streaming.

Each `chunk` event's `bytes` is base64 of one Anthropic Messages event (see
`anthropic_messages`); the last, `message_stop`, also carries Bedrock's
`amazon-bedrock-invocationMetrics` (token counts and latencies), which the unstreamed answer has
in headers, not in its body, so the fold leaves it out. An exception event (see `aws_eventstream`)
fails the stream, as does an Anthropic `error` inside a chunk.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from cloudburst._stream.anthropic_messages import AnthropicMessagesFold
from cloudburst._stream.aws_eventstream import failure


class BedrockInvokeFold:
    def __init__(self) -> None:
        self.failed: tuple[int, dict[str, Any]] | None = None
        self._messages = AnthropicMessagesFold("Amazon Bedrock")

    def feed(self, event: str | None, data: Any) -> None:
        if event == "chunk":
            self._messages.feed(None, _decoded(data))
            self.failed = self._messages.failed
        elif event is not None:
            self.failed = failure(event, data) or self.failed

    @property
    def done(self) -> bool:
        return self._messages.done

    def body(self) -> dict[str, Any]:
        return self._messages.body()


def _decoded(data: Any) -> Any:
    encoded = data.get("bytes") if isinstance(data, dict) else None
    if isinstance(encoded, str):
        try:
            return orjson.loads(base64.b64decode(encoded, validate=True))
        except (binascii.Error, orjson.JSONDecodeError):
            pass
    raise ValueError(f"Amazon Bedrock streamed a chunk whose bytes are not base64 of JSON: {str(data)[:200]}")


FOLD = BedrockInvokeFold
