"""The events Anthropic streams for a message (`stream: true`), from the message the simulator
answers without streaming.

`message_start` holds the message with empty content, no stop reason and the usage so far (the
input, and one output token); a `ping` follows the first block's start. Text and thinking come
in several deltas, a tool's input as pieces of its JSON cut anywhere (the first one empty, as
Anthropic sends it), a thinking block's signature in one `signature_delta` before its stop, a
text's citations as `citations_delta`s before its text; a redacted thinking block comes whole in
its start. `message_delta` carries the stop reason and the cumulative usage, `message_stop` ends.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import orjson

from cloudburst._sim.answers import cut, pieces

Event = tuple[str | None, dict[str, Any]]
STOP_FIELDS = ("stop_reason", "stop_sequence", "stop_details", "container")
"""Message fields unknown until the end: null in `message_start`, set by `message_delta`."""
CUMULATIVE_USAGE = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "server_tool_use",
)
"""The usage counts `message_delta` repeats, as totals so far."""


def events(body: dict[str, Any], request: dict[str, Any] | None = None) -> list[Event]:
    """The stream of the message `body`; the request changes nothing of it."""
    rng = random.Random(str(body.get("id")))
    usage = body.get("usage") or {}
    started = {**usage, "output_tokens": min(1, usage.get("output_tokens", 0))}
    message = {**body, "content": [], **{k: None for k in STOP_FIELDS if k in body}, "usage": started}
    out: list[Event] = [("message_start", {"type": "message_start", "message": message})]
    for index, block in enumerate(body.get("content") or ()):
        out.extend(_block(index, block, rng))
        if index == 0:
            out.insert(2, ("ping", {"type": "ping"}))
    out.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {k: body[k] for k in STOP_FIELDS if k in body},
                "usage": {k: usage[k] for k in CUMULATIVE_USAGE if k in usage},
            },
        )
    )
    out.append(("message_stop", {"type": "message_stop"}))
    return out


def _block(index: int, block: dict[str, Any], rng: random.Random) -> Iterator[Event]:
    kind = block.get("type")
    start = block
    deltas: list[dict[str, Any]] = []
    if kind == "text":
        citations = block.get("citations") or []
        start = {k: v for k, v in block.items() if not (k == "citations" and citations)} | {"text": ""}
        deltas = [{"type": "citations_delta", "citation": citation} for citation in citations]
        deltas += [{"type": "text_delta", "text": piece} for piece in pieces(block["text"], rng)]
    elif kind == "thinking":
        start = {**block, "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": piece} for piece in pieces(block["thinking"], rng)]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind in ("tool_use", "server_tool_use"):
        start = {**block, "input": {}}
        arguments = orjson.dumps(block["input"]).decode()
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in ["", *cut(arguments, rng)]]
    yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": start}
    for delta in deltas:
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": index}
