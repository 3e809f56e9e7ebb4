"""What every provider's stream format implements: events in, the non-streaming body out."""

from __future__ import annotations

from typing import Any, Protocol


class Fold(Protocol):
    """One streamed answer being rebuilt. `feed` takes each event in order: its name (the SSE
    `event:` field, or the AWS event stream's `:event-type` header; None when the format names
    none) and its decoded JSON payload. `body()` may be called at any point: after the last event
    it is the body the provider answers without streaming; before it (a stream cut off) it is what
    arrived so far, usage included, so a partial answer is billed as the provider bills it.

    An error event in the stream (Anthropic's `event: error`, an AWS exception event) sets
    `failed` to the HTTP status and error body the same error has when it is not streamed, so it
    is classified exactly as an online error is. `done` turns True with the format's last event;
    a stream that ends before it (and before `failed`) was cut off."""

    @property
    def failed(self) -> tuple[int, dict[str, Any]] | None: ...

    @property
    def done(self) -> bool: ...

    def feed(self, event: str | None, data: Any) -> None: ...

    def body(self) -> dict[str, Any]: ...


class Watched:
    """A fold that passes everything to `inner`; a subclass adds what it watches for in `feed`
    (the first event's time, the deltas shown to a caller)."""

    __slots__ = ("inner",)

    def __init__(self, inner: Fold) -> None:
        self.inner = inner

    @property
    def failed(self) -> tuple[int, dict[str, Any]] | None:
        return self.inner.failed

    @property
    def done(self) -> bool:
        return self.inner.done

    def feed(self, event: str | None, data: Any) -> None:
        self.inner.feed(event, data)

    def body(self) -> dict[str, Any]:
        return self.inner.body()
