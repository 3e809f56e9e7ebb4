"""Streamed answers folded back into the body the provider would have sent without streaming.

A stream is framed (server-sent events, or AWS's binary event stream), each frame is one event of
the provider's format, and a `Fold` of that format rebuilds the whole answer from them. The
folded body goes through the same generated `parse_body` as a non-streaming answer, so a streamed
response is the same `APIResponse`, field by field, and the cache, journal and retries never see
the difference.

How the pieces plug in (the interfaces the format modules implement):

- **Spec.** A chat API's mapping.yaml says how it streams in a `stream:` section (see
  `codegen/spec.py` `StreamMap`): the fold `format` (one of `FORMATS`), the `framing` (one of
  `FRAMINGS`), the `body` fields a streaming request adds (`{stream: true}`), a `path` when the
  streaming endpoint differs (Gemini's `:streamGenerateContent?alt=sse`, Bedrock's
  `/converse-stream`), and `required_above` when the provider refuses to answer more output
  tokens than that without streaming. Codegen writes it into the adapter as `STREAM`, a
  `Streaming`; `Route` reads it and decides per the client's policy (`stream=`).
- **Client side, a format.** `cloudburst/_stream/<format>.py` defines one class implementing
  `fold.Fold` (`feed(event, data)`, `body()`, `failed`, `done`) and names it `FOLD`:
  `Streaming.fold()` imports the module by the format's name and calls `FOLD()`, once per
  attempt. `done` turns True on the format's last event (OpenAI's `[DONE]`, Anthropic's
  `message_stop`, ...): a stream that ends before it is a `StreamInterruptedError`, its
  partial `body()` billed.
- **Client side, a framing.** `cloudburst/_stream/<framing>.py` defines a class `Decoder`:
  `Decoder().feed(chunk: bytes) -> list[(event name | None, decoded JSON payload)]`, the
  events complete so far, the rest kept for the next chunk; a frame that does not decode
  raises `BrokenFrame` carrying the chunk's events before it. `sse.Decoder` is SSE whose data
  is JSON (OpenAI's `[DONE]` passed as the string "[DONE]"); an AWS event stream decoder
  gives each message's `:event-type` (or `:exception-type`) header and its payload's JSON.
  The transport (`_stream.reader.StreamReader`) feeds each event to the fold, caps the bytes,
  and returns the folded body; an event the fold cannot read (KeyError, TypeError, ...) ends
  the attempt as interrupted, never the job.
- **Simulator side.** `cloudburst/_sim/<format>_stream.py` defines
  `events(answer: dict, request: dict) -> list[(event name | None, payload)]`, the sequence
  the real provider sends for the non-streaming `answer` the endpoint built, given the
  `request` (OpenAI sends the usage chunk only with `stream_options.include_usage`);
  `_sim.answers.pieces(text, rng)` cuts text into deltas. A `ModelEndpoint` streams with
  `stream=StreamPlay(events, flag="stream", frame=sse_frame, content_type="text/event-stream")`
  (`_sim/provider.py`): `flag` is the body field asking for a stream, or None when the route
  itself streams (register the streaming path as its own model route); `frame(name, payload)
  -> bytes` frames one event (an AWS event-stream framer for Bedrock). The server draws the
  answer as for the same request unstreamed (`StreamPlay.request_fields` are left out of the
  draw), frames, chunks and paces the events, injects the stream faults (`slow_stream`,
  `disconnect`, `hang`, and `truncated`/`malformed`/`reset` on streams), and sends the same
  rate-limit headers as a non-streaming answer. The endpoint's `validate` must accept the
  streaming request (drop the old "does not stream" refusal).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cloudburst._stream.fold import Fold

FORMATS = frozenset(
    {
        "openai_chat",
        "openai_responses",
        "anthropic_messages",
        "gemini",
        "cohere_chat",
        "bedrock_converse",
        "bedrock_invoke",
    }
)
"""The fold formats a spec may name: one module each in this package."""
FRAMINGS = frozenset({"sse", "aws_eventstream"})
"""How a stream's bytes are cut into events: one module each in this package."""


class Decoder(Protocol):
    def feed(self, chunk: bytes) -> list[tuple[str | None, Any]]:
        """The events complete so far; a frame that does not decode raises BrokenFrame."""
        ...


class BrokenFrame(ValueError):
    """A frame of the stream that does not decode; `events` are those of the same chunk before
    it, which still count (their tokens were generated, and billed)."""

    def __init__(self, message: str, events: list[tuple[str | None, Any]]) -> None:
        super().__init__(message)
        self.events = events


class StreamSource(Protocol):
    """What a transport needs to read a stream: a fresh fold and decoder per attempt. A
    `Streaming`, or a wrapper of one watching its events (the engine's first-token clock)."""

    def fold(self) -> Fold: ...

    def decoder(self) -> Decoder: ...


@dataclass(frozen=True, slots=True)
class Streaming:
    """How one chat API streams, from its spec (generated as the adapter's `STREAM`)."""

    format: str
    framing: str = "sse"
    body: Mapping[str, Any] | None = None
    """Fields a streaming request adds to the body (top level)."""
    path: str | None = None
    """The streaming endpoint's path, when it is not the API's own."""
    required_above: int | None = None
    """The provider refuses answers of more output tokens than this unless streamed."""

    def fold(self) -> Fold:
        module = importlib.import_module(f"cloudburst._stream.{self.format}")
        fold: Fold = module.FOLD()
        return fold

    def decoder(self) -> Decoder:
        module = importlib.import_module(f"cloudburst._stream.{self.framing}")
        decoder: Decoder = module.Decoder()
        return decoder
