"""Throttling: token buckets per (provider, model) for requests, tokens, input and output tokens
per minute, a concurrency cap, and cooldowns after a 429.

A request reserves its estimate (prompt + maximum output) before it is sent and reconciles with
the usage the provider reported after; every answer's rate-limit headers resync the buckets, so
the client's view never stays above what the provider says is left. A 429 cools down only the
bucket it came from.

`Bucket` is the arithmetic, driven by explicit times so tests use a fake clock; `Limiter` is the
small interface the client talks to (a Redis-backed one can share a limit across processes);
`InProcessLimiter` is the default, waking waiters in FIFO order from one timer per bucket rather
than having every waiter poll.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cloudburst._config import RateLimits
from cloudburst._constants import DEFAULT_MAX_CONCURRENCY, FIRST_ARRIVAL_MARGIN_SECONDS
from cloudburst._errors import InvalidRequestError
from cloudburst._headers import ReportedLimits
from cloudburst._response import Usage

Clock = Callable[[], float]
"""Monotonic seconds."""

LIMITING_FACTORS = ("cooldown", "tokens", "input tokens", "output tokens", "requests", "concurrency")
"""What can hold a request back, most telling first (the display shows the first that applies)."""


class RequestTooLargeError(InvalidRequestError):
    """A request that can never fit its bucket: more tokens than the whole per-minute budget.
    Returned on the prompt's result at once, instead of waiting forever; never sent."""


@dataclass(frozen=True, slots=True)
class Need:
    """What one attempt reserves: one request, its prompt's estimated tokens, its maximum output."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class Meter:
    """One token bucket: holds up to `capacity`, refills `capacity` per minute. The level may go
    below zero when an answer used more than was reserved; that debt is paid back by waiting.
    `spent` counts everything ever taken (refunds subtract), so a provider's report of what was
    left can be brought forward to now."""

    __slots__ = ("capacity", "learned", "level", "rate", "spent", "stamp")

    def __init__(self, per_minute: float, now: float, *, level: float | None = None, learned: bool = False) -> None:
        self.capacity = float(per_minute)
        self.rate = self.capacity / 60.0
        self.level = self.capacity if level is None else min(float(level), self.capacity)
        self.stamp = now
        self.spent = 0.0
        self.learned = learned
        """Set from the provider's headers rather than by the caller."""

    def refill(self, now: float) -> float:
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now
        return self.level

    def wait(self, amount: float, now: float) -> float:
        """Seconds until `amount` fits; 0 when it fits now."""
        level = self.refill(now)
        return 0.0 if level >= amount else (amount - level) / self.rate + max(0.0, self.stamp - now)

    def take(self, amount: float) -> None:
        """(Called right after `refill`, so `stamp` is now.)"""
        if self.level >= self.capacity:
            self.stamp += FIRST_ARRIVAL_MARGIN_SECONDS
        self.level -= amount
        self.spent += amount

    def adjust(self, amount: float, now: float) -> None:
        """Give back (positive) or charge (negative) after the fact."""
        self.refill(now)
        self.level = min(self.capacity, self.level + amount)
        self.spent -= amount

    def resync(self, remaining: float, spent_at_send: float, now: float) -> None:
        """The provider said `remaining` was left when it answered a request sent when `spent`
        was `spent_at_send`. What was spent since may not be in its count, and the refill since
        may already be: assume the first and not the second, so the level is never above the
        provider's. The error is a constant offset (rate x latency), so the rate still matches."""
        self.refill(now)
        self.level = min(self.capacity, remaining - (self.spent - spent_at_send))

    def relimit(self, per_minute: float, now: float) -> None:
        self.refill(now)
        self.capacity = float(per_minute)
        self.rate = self.capacity / 60.0
        self.level = min(self.level, self.capacity)


_METER_FACTORS = ("requests", "tokens", "input tokens", "output tokens")
"""The limiting factor each of a bucket's meters stands for, in `Bucket.meters()` order."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """A granted reservation: what was taken, and each meter's `spent` right after, so the
    provider's report on this request can be brought forward."""

    key: str
    need: Need
    spent: tuple[float | None, ...]


_NO_METERS: tuple[float | None, ...] = ()


class Bucket:
    """One (provider, model)'s budgets and in-flight count, as plain arithmetic over `now`."""

    def __init__(self, limits: RateLimits, now: float) -> None:
        self.limits = limits
        self.requests = Meter(limits.rpm, now) if limits.rpm else None
        self.tokens = Meter(limits.tpm, now) if limits.tpm else None
        self.input_tokens = Meter(limits.input_tpm, now) if limits.input_tpm else None
        self.output_tokens = Meter(limits.output_tpm, now) if limits.output_tpm else None
        self.max_concurrency = limits.max_concurrency or DEFAULT_MAX_CONCURRENCY
        self.in_flight = 0
        self.cooldown_until = 0.0
        self.blocked_by: str | None = None
        self.metered = any(self.meters())
        """False while only concurrency limits this bucket: the hot path skips the meters."""

    def meters(self) -> tuple[Meter | None, Meter | None, Meter | None, Meter | None]:
        return self.requests, self.tokens, self.input_tokens, self.output_tokens

    def too_large(self, need: Need) -> str | None:
        """Why `need` can never be granted, or None."""
        for meter, amount, what in (
            (self.tokens, need.tokens, "tokens"),
            (self.input_tokens, need.input_tokens, "input tokens"),
            (self.output_tokens, need.output_tokens, "output tokens"),
        ):
            if meter is not None and not meter.learned and amount > meter.capacity:
                return f"needs up to {amount:,} {what}, more than the whole per-minute budget of {meter.capacity:,.0f}"
        return None

    def try_take(self, key: str, need: Need, now: float) -> tuple[float, str | None, Ticket | None]:
        """Take `need` now and return (0, None, ticket), or take nothing and return how long to
        wait (math.inf: until a request in flight finishes) and what holds it back."""
        if now < self.cooldown_until:
            return self.cooldown_until - now, "cooldown", None
        if self.in_flight >= self.max_concurrency:
            return math.inf, "concurrency", None
        if not self.metered:
            self.in_flight += 1
            return 0.0, None, Ticket(key, need, _NO_METERS)
        amounts = (1, need.tokens, need.input_tokens, need.output_tokens)
        longest, factor = 0.0, None
        meters = self.meters()
        for meter, amount, what in zip(meters, amounts, _METER_FACTORS, strict=True):
            if meter is not None:
                wait = meter.wait(amount, now)
                if wait > longest:
                    longest, factor = wait, what
        if longest > 0:
            return longest, factor, None
        for meter, amount in zip(meters, amounts, strict=True):
            if meter is not None:
                meter.take(amount)
        self.in_flight += 1
        return 0.0, None, Ticket(key, need, tuple(None if m is None else m.spent for m in meters))

    def settle(self, ticket: Ticket, used: Usage | None, reported: ReportedLimits | None, now: float) -> None:
        """A request finished: free its slot; where the provider reported what is left, resync
        to it; elsewhere replace the estimate by the usage it reported (`used`; None keeps the
        reservation, e.g. when the request may or may not have been counted). The combined
        `tokens` budget keeps the output reservation whole, as OpenAI counts max_tokens."""
        self.in_flight -= 1
        if reported is not None:
            self._learn(reported, now)
        if not self.metered:
            return
        need = ticket.need
        told = (
            (None, None, None, None)
            if reported is None
            else (
                reported.requests_remaining,
                reported.tokens_remaining,
                reported.input_tokens_remaining,
                reported.output_tokens_remaining,
            )
        )
        refunds = (
            (
                0.0,
                need.input_tokens - used.input_tokens,
                need.input_tokens - used.input_tokens,
                need.output_tokens - used.output_tokens,
            )
            if used is not None
            else (0.0, 0.0, 0.0, 0.0)
        )
        spent_at_send = ticket.spent or (None, None, None, None)
        for meter, remaining, spent, refund in zip(self.meters(), told, spent_at_send, refunds, strict=True):
            if meter is None:
                continue
            if remaining is not None:
                meter.resync(remaining, meter.spent if spent is None else spent, now)
            elif refund:
                meter.adjust(refund, now)

    def _learn(self, reported: ReportedLimits, now: float) -> bool:
        """Budgets from the provider's `limit` headers: learned where the caller set none, and
        lowered where the caller set more than the provider allows. True when the bucket has a
        meter afterwards."""
        for name, limit, remaining in (
            ("requests", reported.requests_limit, reported.requests_remaining),
            ("tokens", reported.tokens_limit, reported.tokens_remaining),
        ):
            meter: Meter | None = getattr(self, name)
            if limit is None or limit <= 0:
                continue
            if meter is None:
                setattr(self, name, Meter(limit, now, level=remaining, learned=True))
                self.metered = True
            elif limit < meter.capacity or (meter.learned and limit != meter.capacity):
                meter.relimit(limit, now)  # the provider's limit caps the caller's too
        return self.metered

    def release_unsent(self, ticket: Ticket, now: float) -> None:
        """A reservation that was never sent: give everything back."""
        self.in_flight -= 1
        need = ticket.need
        if not ticket.spent:
            return
        for meter, amount in zip(self.meters(), (1, need.tokens, need.input_tokens, need.output_tokens), strict=True):
            if meter is not None:
                meter.adjust(amount, now)

    def cool_down(self, seconds: float, now: float) -> None:
        self.cooldown_until = max(self.cooldown_until, now + seconds)


class Limiter(Protocol):
    """What the client needs from a limiter; keys name a (provider, model) bucket."""

    def configure(self, key: str, limits: RateLimits) -> None: ...

    def too_large(self, key: str, need: Need) -> str | None:
        """Why `need` can never be granted on `key`, or None."""
        ...

    def counts_tokens(self, key: str) -> bool:
        """Whether `key` has a token budget (set, or learned from headers), so requests to it
        must carry a token estimate."""
        ...

    async def acquire(self, key: str, need: Need) -> Ticket:
        """Wait until `need` fits, then reserve it (and a concurrency slot)."""
        ...

    def settle(self, ticket: Ticket, used: Usage | None, reported: ReportedLimits | None) -> None:
        """The attempt got an answer (or failed on the way): reconcile and resync."""
        ...

    def release_unsent(self, ticket: Ticket) -> None: ...

    def cool_down(self, key: str, seconds: float) -> None:
        """Hold only this bucket for `seconds` (after a 429 or overloaded answer)."""
        ...

    def limiting_factor(self) -> str | None:
        """What is holding requests back right now, for the display; None when nothing is."""
        ...


class InProcessLimiter:
    """The default Limiter: buckets in this process, waiters woken in FIFO order."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}
        self._waiters: dict[str, deque[tuple[Need, asyncio.Future[Ticket]]]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def configure(self, key: str, limits: RateLimits) -> None:
        self.buckets[key] = Bucket(limits, self.clock())
        self._waiters[key] = deque()

    def too_large(self, key: str, need: Need) -> str | None:
        return self.buckets[key].too_large(need)

    def counts_tokens(self, key: str) -> bool:
        bucket = self.buckets[key]
        return bucket.tokens is not None or bucket.input_tokens is not None or bucket.output_tokens is not None

    async def acquire(self, key: str, need: Need) -> Ticket:
        waiters = self._waiters[key]
        if not waiters:
            _, _, ticket = self.buckets[key].try_take(key, need, self.clock())
            if ticket is not None:
                return ticket
        future: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        waiters.append((need, future))
        self._pump(key)
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release_unsent(future.result())
            raise

    def _pump(self, key: str) -> None:
        """Grant what fits, in order; arm one timer for when the head of the queue will fit."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        bucket, waiters = self.buckets[key], self._waiters[key]
        while waiters:
            need, future = waiters[0]
            if future.done():
                waiters.popleft()
                continue
            wait, factor, ticket = bucket.try_take(key, need, self.clock())
            if ticket is not None:
                waiters.popleft()
                future.set_result(ticket)
                continue
            bucket.blocked_by = factor
            if wait != math.inf:
                self._timers[key] = asyncio.get_running_loop().call_later(wait, self._pump, key)
            return
        bucket.blocked_by = None

    def settle(self, ticket: Ticket, used: Usage | None, reported: ReportedLimits | None) -> None:
        self.buckets[ticket.key].settle(ticket, used, reported, self.clock())
        if self._waiters[ticket.key]:
            self._pump(ticket.key)

    def release_unsent(self, ticket: Ticket) -> None:
        self.buckets[ticket.key].release_unsent(ticket, self.clock())
        if self._waiters[ticket.key]:
            self._pump(ticket.key)

    def cool_down(self, key: str, seconds: float) -> None:
        self.buckets[key].cool_down(seconds, self.clock())
        if self._waiters[key]:
            self._pump(key)

    def limiting_factor(self) -> str | None:
        factors = {bucket.blocked_by for key, bucket in self.buckets.items() if self._waiters[key]}
        now = self.clock()
        for bucket in self.buckets.values():  # nobody waiting, yet a bucket is full or held
            if bucket.cooldown_until > now:
                factors.add("cooldown")
            elif bucket.in_flight >= bucket.max_concurrency:
                factors.add("concurrency")
        return next((factor for factor in LIMITING_FACTORS if factor in factors), None)
