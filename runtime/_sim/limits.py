"""Rate limits as providers enforce them: continuous token buckets per API key and model, two per
limited dimension.

The minute bucket holds up to the per-minute limit and refills at limit/60 per second; it is what
the rate-limit headers report (remaining, and the reset as the time until it is full again). The
window bucket holds only `window_seconds` worth of the limit (a second's by default) and refills
at the same rate; it is enforced silently, as OpenAI and Anthropic enforce a per-minute limit
over short intervals ("60,000 requests/minute may be enforced as 1,000 requests/second"). So a
client that spends evenly never waits and a burst is cut off within the window, long before the
headers show the minute's budget spent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

MINUTE = 60.0


@dataclass(slots=True)
class TokenBucket:
    """Refilled continuously at `limit` per minute up to `capacity`.

    A window bucket (`overdraw`) admits a request once its level reaches the smaller of the
    request and its capacity, then may go negative: one request larger than a window's share
    still passes when the window is not in debt, as providers admit a single request bigger than
    limit/60 tokens. A minute bucket admits only what it holds."""

    limit: int
    capacity: float
    level: float
    updated: float
    overdraw: bool = False

    @classmethod
    def full(cls, limit: int, capacity: float, now: float, overdraw: bool = False) -> TokenBucket:
        return cls(limit, capacity, capacity, now, overdraw)

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.limit / MINUTE)
            self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` is admitted (after `refill`); 0 if it is now."""
        needed = min(amount, self.capacity) if self.overdraw else amount
        return 0.0 if needed <= self.level else (needed - self.level) * MINUTE / self.limit

    def take(self, amount: float) -> None:
        self.level -= amount

    def give_back(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)

    @property
    def remaining(self) -> int:
        return max(0, math.floor(self.level))

    def seconds_to_full(self) -> float:
        return (self.capacity - self.level) * MINUTE / self.limit


@dataclass(frozen=True, slots=True)
class Cost:
    """What one request asks of each dimension; a dimension without a limit is ignored."""

    requests: int = 1
    tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


DIMENSIONS = ("requests", "tokens", "input_tokens", "output_tokens")


@dataclass(frozen=True, slots=True)
class Refusal:
    """The first dimension a request did not fit in, and how long until it would."""

    cause: str
    limit: int
    requested: int
    retry_after: float
    used: int = 0
    """What the minute bucket shows spent (OpenAI's "Used"): far below the limit when the window
    refused."""


@dataclass(slots=True)
class RateLimiter:
    """Buckets by (API key, model, dimension), created full on first use: a minute bucket each,
    and a window bucket unless the window is the whole minute (then the two coincide)."""

    limits: dict[str, int | None]
    window_seconds: float = MINUTE
    buckets: dict[tuple[str, str, str], TokenBucket] = field(default_factory=dict)
    windows: dict[tuple[str, str, str], TokenBucket] = field(default_factory=dict)

    def bucket(self, key: str, model: str, dimension: str, now: float) -> TokenBucket | None:
        """The minute bucket, refilled to `now`: what the headers report."""
        limit = self.limits.get(dimension)
        if limit is None:
            return None
        found = self.buckets.get((key, model, dimension))
        if found is None:
            found = self.buckets[(key, model, dimension)] = TokenBucket.full(limit, limit, now)
        else:
            found.refill(now)
        return found

    def _both(self, key: str, model: str, dimension: str, now: float) -> tuple[TokenBucket, ...]:
        minute = self.bucket(key, model, dimension, now)
        if minute is None:
            return ()
        if self.window_seconds >= MINUTE:
            return (minute,)
        window = self.windows.get((key, model, dimension))
        if window is None:
            capacity = minute.limit * self.window_seconds / MINUTE
            window = self.windows[(key, model, dimension)] = TokenBucket.full(minute.limit, capacity, now, True)
        else:
            window.refill(now)
        return minute, window

    def acquire(self, key: str, model: str, cost: Cost, now: float) -> Refusal | None:
        """Take `cost` from every limited dimension's buckets, or nothing and say which refused."""
        chosen: list[tuple[tuple[TokenBucket, ...], int]] = []
        for dimension in DIMENSIONS:
            amount = getattr(cost, dimension)
            buckets = self._both(key, model, dimension, now)
            if not buckets or (amount == 0 and dimension != "requests"):
                continue
            wait = max(bucket.wait_for(amount) for bucket in buckets)
            if wait > 0:
                minute = buckets[0]
                return Refusal(dimension, minute.limit, amount, wait, minute.limit - minute.remaining)
            chosen.append((buckets, amount))
        for buckets, amount in chosen:
            for bucket in buckets:
                bucket.take(amount)
        return None

    def refund(self, key: str, model: str, dimension: str, amount: int, now: float) -> None:
        if amount > 0:
            for bucket in self._both(key, model, dimension, now):
                bucket.give_back(amount)


def go_duration(seconds: float) -> str:
    """A duration as OpenAI writes its resets, Go's format: `6m0s`, `1.2s`, `20ms`, `1h0m0s`, `0s`."""
    millis = round(seconds * 1000)
    if seconds <= 0:
        return "0s"
    if millis < 1000:
        return f"{max(1, millis)}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    text = f"{rest / 1000:g}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    return f"{hours}h{text}" if hours else text


def rfc3339(epoch_seconds: float) -> str:
    """A UTC instant as Anthropic writes its resets: `2026-11-25T06:45:12Z`."""
    return datetime.fromtimestamp(math.ceil(epoch_seconds), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


ABSURD = (
    {"limit": "0.01", "remaining": "-1000000000", "duration": "876000h0m0s", "rfc3339": "2199-12-31T23:59:59Z"},
    {"limit": "unlimited", "remaining": "NaN", "duration": "-3s", "rfc3339": "1970-01-01T00:00:00Z"},
    {"limit": "-1", "remaining": "1e309", "duration": "soon", "rfc3339": "yesterday"},
)
"""Nonsense rate-limit values, one set an answer in turn: a fractional limit, a hugely negative
remaining, a reset centuries ahead or in the past, values that are not numbers."""
ABSURD_RETRY = ("31536000", "-1", "later")


def absurd_headers(names: Iterable[str], reset_format: str, retry_names: Iterable[str], turn: int) -> dict[str, str]:
    """Nonsense for every rate-limit header in `names` (kind read from the name's `limit`,
    `remaining` or `reset` segment) and for the retry-after headers in `retry_names`."""
    values = ABSURD[turn % len(ABSURD)]
    out: dict[str, str] = {}
    for name in names:
        segments = name.split("-")
        kind = next(kind for kind in ("limit", "remaining", "reset") if kind in segments)
        out[name] = values[reset_format] if kind == "reset" else values[kind]
    for name in retry_names:
        out[name] = ABSURD_RETRY[turn % len(ABSURD_RETRY)]
    return out
