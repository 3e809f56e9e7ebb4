"""The events Bedrock's InvokeModelWithResponseStream sends for an Anthropic model's message: each
of Anthropic's stream events (see `anthropic_messages_stream`; Bedrock forwards no `ping`) as a
`chunk` whose `bytes` is base64 of its JSON, padded as Bedrock pads (see
`bedrock_converse_stream`). The last, `message_stop`, adds `amazon-bedrock-invocationMetrics`:
the token counts and latencies the unstreamed answer sends as headers.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from cloudburst._sim import anthropic_messages_stream
from cloudburst._sim.anthropic_messages_stream import Event
from cloudburst._sim.bedrock_converse_stream import padded

METRICS = "amazon-bedrock-invocationMetrics"


def events(body: dict[str, Any], request: dict[str, Any] | None = None) -> list[Event]:
    """The stream of the message `body`; the request changes nothing of it."""
    usage = body["usage"]
    chunks: list[Event] = []
    for name, data in anthropic_messages_stream.events(body):
        if name == "ping":
            continue
        if name == "message_stop":
            data = {
                **data,
                METRICS: {
                    "inputTokenCount": usage["input_tokens"],
                    "outputTokenCount": usage["output_tokens"],
                    "invocationLatency": 120 + 8 * usage["output_tokens"],
                    "firstByteLatency": 120,
                },
            }
        chunks.append(("chunk", {"bytes": base64.b64encode(orjson.dumps(data)).decode()}))
    return padded(chunks)
