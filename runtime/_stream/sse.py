"""Server-sent events, decoded incrementally as the bytes arrive (the WHATWG event-stream rules).

Lines end in `\\n`, `\\r\\n` or `\\r`, and a chunk may end anywhere, even between the two bytes
of a `\\r\\n`; an event is the lines up to a blank one. `data:` lines of one event are joined
with `\\n`; `:` lines are comments (keep-alives); `id:` and `retry:` do not concern a client
that never reconnects. An event without data is not dispatched; a last event not closed by a
blank line is not either (the standard's rule; a stream cut there misses its end anyway).

Every provider streaming SSE sends JSON data, decoded here; OpenAI's closing `data: [DONE]` is
passed as the string "[DONE]".
"""

from __future__ import annotations

from typing import Any

import orjson

from cloudburst._stream import BrokenFrame

DONE = "[DONE]"


class Decoder:
    """Bytes in, `(event name or None, decoded data)` out, each event once its blank line
    arrived. Data that is not JSON raises BrokenFrame."""

    __slots__ = ("_buffer", "_cr", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []
        self._cr = False
        """The last chunk ended in `\\r`: a `\\n` starting the next one ends no second line."""

    def feed(self, chunk: bytes) -> list[tuple[str | None, Any]]:
        if self._cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._cr = chunk.endswith(b"\r")
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        events: list[tuple[str | None, Any]] = []
        for raw in lines:
            self._line(raw.decode("utf-8", "replace"), events)
        return events

    def _line(self, line: str, events: list[tuple[str | None, Any]]) -> None:
        if not line:
            if self._data:
                data = "\n".join(self._data)
                try:
                    events.append((self._event, data if data == DONE else orjson.loads(data)))
                except orjson.JSONDecodeError as exc:
                    raise BrokenFrame(f"an event whose data is not JSON ({exc})", events) from None
            self._event, self._data = None, []
            return
        if line.startswith(":"):
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
