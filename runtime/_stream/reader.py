"""A streamed answer as the transport reads it: bytes to events to the fold, within the size cap,
ending in the folded body or in the error that says how the stream broke."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from cloudburst._errors import ResponseTooLargeError, StreamInterruptedError
from cloudburst._stream import BrokenFrame, StreamSource


class StreamReader:
    __slots__ = ("bytes", "decoder", "events", "fold", "limit", "url")

    def __init__(self, streaming: StreamSource, limit: int, url: str) -> None:
        self.fold = streaming.fold()
        self.decoder = streaming.decoder()
        self.limit = limit
        self.url = url
        self.bytes = 0
        self.events = 0

    def feed(self, chunk: bytes) -> None:
        self.bytes += len(chunk)
        if self.bytes > self.limit:
            raise ResponseTooLargeError(f"the stream from {self.url} passed {self.limit:,} bytes; cut off")
        try:
            events = self.decoder.feed(chunk)
        except BrokenFrame as exc:
            self._fold(exc.events)
            raise self.interrupted(str(exc)) from None
        self._fold(events)

    def _fold(self, events: list[tuple[str | None, Any]]) -> None:
        fold = self.fold
        for name, data in events:
            try:
                fold.feed(name, data)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
                raise self.interrupted(f"an event {name or ''} not of the stream's format ({exc!r})") from None
            self.events += 1

    def answer(self, status: int, headers: Mapping[str, str]) -> tuple[int, Mapping[str, str], bytes]:
        """At the end of the bytes: the folded body, or the error event's status and body."""
        fold = self.fold
        if fold.failed is not None:
            return fold.failed[0], headers, orjson.dumps(fold.failed[1])
        if not fold.done:
            raise self.interrupted("the stream ended before its last event")
        return status, headers, orjson.dumps(fold.body())

    def interrupted(self, why: str) -> StreamInterruptedError:
        """The error for a stream cut off after `self.events` events, carrying what arrived."""
        error = StreamInterruptedError(f"{why}, after {self.events} events from {self.url}")
        try:
            error.partial = orjson.dumps(self.fold.body())
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):  # a fold a bad event broke
            error.partial = b"{}"
        return error
