"""The events Bedrock's ConverseStream sends for an answer, from the answer Converse gives
without streaming (botocore's `ConverseStreamOutput`).

`messageStart` names the role. A tool call's block opens with a `contentBlockStart` (its id and
name), its input following as pieces of JSON; a text or reasoning block has no start, its first
delta opens it; reasoning text comes in pieces, then its signature, a redacted block as one
`redactedContent`. Every block ends with `contentBlockStop`; `messageStop` has the stop reason,
and `metadata`, last, the usage and metrics. Each payload is padded with a field `p` of varying
length, as Bedrock pads its events so their size does not tell the text's.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import orjson

from cloudburst._sim.answers import cut, pieces
from cloudburst._sim.anthropic_messages_stream import Event

METADATA = ("usage", "metrics", "trace", "performanceConfig", "serviceTier")
_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def padded(events: list[Event]) -> list[Event]:
    """Each payload with Bedrock's padding `p`, its length drawn from the event's place."""
    return [
        (name, {**data, "p": _PADDING[: 1 + (7 * place) % len(_PADDING)]}) for place, (name, data) in enumerate(events)
    ]


def events(body: dict[str, Any], request: dict[str, Any] | None = None) -> list[Event]:
    """The stream of the Converse answer `body`; the request changes nothing of it."""
    message = body["output"]["message"]
    rng = random.Random(orjson.dumps(message["content"]))
    out: list[Event] = [("messageStart", {"role": message["role"]})]
    for index, block in enumerate(message["content"]):
        out.extend(_block(index, block, rng))
        out.append(("contentBlockStop", {"contentBlockIndex": index}))
    stop: dict[str, Any] = {k: body[k] for k in ("stopReason", "additionalModelResponseFields") if k in body}
    out.append(("messageStop", stop))
    out.append(("metadata", {k: body[k] for k in METADATA if k in body}))
    return padded(out)


def _block(index: int, block: dict[str, Any], rng: random.Random) -> Iterator[Event]:
    deltas: list[dict[str, Any]] = []
    if "text" in block:
        deltas = [{"text": piece} for piece in pieces(block["text"], rng)]
    elif "toolUse" in block:
        tool = block["toolUse"]
        yield (
            "contentBlockStart",
            {"start": {"toolUse": {k: v for k, v in tool.items() if k != "input"}}, "contentBlockIndex": index},
        )
        deltas = [{"toolUse": {"input": piece}} for piece in cut(orjson.dumps(tool["input"]).decode(), rng)]
    elif "reasoningContent" in block:
        reasoning = block["reasoningContent"]
        if "redactedContent" in reasoning:
            deltas = [{"reasoningContent": {"redactedContent": reasoning["redactedContent"]}}]
        else:
            text = reasoning["reasoningText"]
            deltas = [{"reasoningContent": {"text": piece}} for piece in pieces(text["text"], rng)]
            deltas += [{"reasoningContent": {"signature": text["signature"]}}] if "signature" in text else []
    for delta in deltas:
        yield "contentBlockDelta", {"delta": delta, "contentBlockIndex": index}
