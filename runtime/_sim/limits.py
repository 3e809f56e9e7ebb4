"""Rate limits as providers enforce them: continuous token buckets per API key and model.

A bucket holds up to its per-minute limit and refills at limit/60 per second, so a client that
spends evenly never waits and a burst is cut off, as on the real APIs. The reset a provider
reports is the time until the bucket is full again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone


@dataclass(slots=True)
class TokenBucket:
    """`limit` per minute, refilled continuously."""

    limit: int
    level: float
    updated: float

    @classmethod
    def full(cls, limit: int, now: float) -> TokenBucket:
        return cls(limit, float(limit), now)

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(float(self.limit), self.level + (now - self.updated) * self.limit / 60.0)
            self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` fits (after `refill`); 0 if it fits now."""
        return 0.0 if amount <= self.level else (amount - self.level) * 60.0 / self.limit

    def take(self, amount: float) -> None:
        self.level -= amount

    def give_back(self, amount: float) -> None:
        self.level = min(float(self.limit), self.level + amount)

    @property
    def remaining(self) -> int:
        return max(0, math.floor(self.level))

    def seconds_to_full(self) -> float:
        return (self.limit - self.level) * 60.0 / self.limit


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


@dataclass(slots=True)
class RateLimiter:
    """Buckets by (API key, model, dimension), created full on first use."""

    limits: dict[str, int | None]
    buckets: dict[tuple[str, str, str], TokenBucket] = field(default_factory=dict)

    def bucket(self, key: str, model: str, dimension: str, now: float) -> TokenBucket | None:
        limit = self.limits.get(dimension)
        if limit is None:
            return None
        found = self.buckets.get((key, model, dimension))
        if found is None:
            found = self.buckets[(key, model, dimension)] = TokenBucket.full(limit, now)
        else:
            found.refill(now)
        return found

    def acquire(self, key: str, model: str, cost: Cost, now: float) -> Refusal | None:
        """Take `cost` from every limited dimension, or nothing and say which one refused."""
        chosen: list[tuple[TokenBucket, int]] = []
        for dimension in DIMENSIONS:
            amount = getattr(cost, dimension)
            bucket = self.bucket(key, model, dimension, now)
            if bucket is None or (amount == 0 and dimension != "requests"):
                continue
            wait = bucket.wait_for(amount)
            if wait > 0:
                return Refusal(dimension, bucket.limit, amount, wait)
            chosen.append((bucket, amount))
        for bucket, amount in chosen:
            bucket.take(amount)
        return None

    def refund(self, key: str, model: str, dimension: str, amount: int, now: float) -> None:
        bucket = self.bucket(key, model, dimension, now)
        if bucket is not None and amount > 0:
            bucket.give_back(amount)


def go_duration(seconds: float) -> str:
    """A duration as OpenAI writes its resets: `6m0s`, `1.2s`, `20ms`, `0s`."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{minutes}m{round(rest, 3):g}s"
    return f"{hours}h{text}" if hours else text


def rfc3339(epoch_seconds: float) -> str:
    """A UTC instant as Anthropic writes its resets: `2026-11-25T06:45:12Z`."""
    return datetime.fromtimestamp(math.ceil(epoch_seconds), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
