"""What the simulator saw, so tests can assert on the server's side of an exchange."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Stats:
    """Counters since start or the last reset. Only the server's event loop writes them."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    rate_limited: Counter[str] = field(default_factory=Counter)
    """429s by the dimension that refused: requests, tokens, input_tokens, output_tokens."""
    faults: Counter[str] = field(default_factory=Counter)
    overload_spikes: int = 0
    """Requests answered overloaded because they came during a spike."""
    in_flight: int = 0
    peak_in_flight: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    streams: int = 0
    """Answers streamed."""
    uploads: Counter[str] = field(default_factory=Counter)
    """Files uploaded to completion, by provider."""
    upload_bytes: Counter[str] = field(default_factory=Counter)
    """Bytes received by upload routes, by provider (a resumable upload's chunks as they come)."""

    def started(self) -> None:
        self.requests += 1
        self.in_flight += 1
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight

    def finished(self, status: int | None) -> None:
        """`status` None: the connection was dropped without an answer."""
        self.in_flight -= 1
        if status is not None:
            self.statuses[status] += 1

    def uploaded(self, provider: str, size: int, files: int = 1) -> None:
        """`size` bytes received for `provider`, completing `files` uploads."""
        self.uploads[provider] += files
        self.upload_bytes[provider] += size

    def snapshot(self) -> dict[str, Any]:
        """The JSON `GET /_sim/stats` answers."""
        return {
            "requests": self.requests,
            "statuses": {str(status): count for status, count in sorted(self.statuses.items())},
            "rate_limited": dict(sorted(self.rate_limited.items())),
            "faults": dict(sorted(self.faults.items())),
            "overload_spikes": self.overload_spikes,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "streams": self.streams,
            "uploads": dict(sorted(self.uploads.items())),
            "upload_bytes": dict(sorted(self.upload_bytes.items())),
        }

    def clear(self) -> None:
        """Zero everything but requests still in flight, which will finish and count down."""
        in_flight = self.in_flight
        fresh = Stats(in_flight=in_flight, peak_in_flight=in_flight)
        for name in self.__slots__:
            setattr(self, name, getattr(fresh, name))
