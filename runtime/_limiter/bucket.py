"""The limiter's arithmetic, driven by explicit times so tests use a fake clock.

Each dimension (requests, tokens, input and output tokens) has up to two meters:

- the **pace**: the caller's limit (or the provider's, learned from headers, whichever is lower),
  spread evenly. Its capacity is `BURST_SECONDS` of the rate, and a request fits when the level
  is at least min(amount, capacity): a request bigger than the capacity borrows and the level
  goes below zero (this is GCRA). Whatever window the provider enforces, down to about a second,
  a paced client stays inside it; the long-run rate is the whole limit.
- the **reported** budget: the provider's own minute bucket as its headers last described it
  (`remaining`, counted on arrival, so requests in flight are in it already). It is set to what
  the provider says and never subtracted from twice; it holds requests back only when somebody
  else drains the key. It never raises the pace: the caller's limit is the ceiling.

A 429 the pace did not expect tightens it (a lower rate, its burst spent), recovering additively;
an overloaded answer halves the concurrency window, which each success widens by one (AIMD).
"""

from __future__ import annotations

import math

from cloudburst._config import RateLimits
from cloudburst._constants import (
    BURST_SECONDS,
    DEFAULT_MAX_CONCURRENCY,
    MIN_RATE_FACTOR,
    OVERLOAD_INTERVAL_SECONDS,
    RECOVERY_PER_SECOND,
    TIGHTEN_FACTOR,
    TIGHTEN_INTERVAL_SECONDS,
)
from cloudburst._headers import ReportedLimits
from cloudburst._limiter.base import DIMENSIONS, Need, Ticket, refunds
from cloudburst._response import Usage

MINUTE = 60.0
EPSILON = 1e-9
"""A shortfall this small is rounding: it fits (else a float clock could wait forever for it)."""


class Meter:
    """A continuously refilled budget of `limit` per minute holding at most `burst` seconds of
    it. `factor` (<= 1) is the share of the limit in force after a tightening."""

    __slots__ = ("burst", "capacity", "ceiling", "factor", "level", "limit", "rate", "stamp")

    def __init__(
        self, limit: float, now: float, *, burst: float = BURST_SECONDS, level: float | None = None, ceiling: bool
    ) -> None:
        self.limit = float(limit)
        self.burst = burst
        self.ceiling = ceiling
        """The caller set this limit: the provider's headers may lower it, never raise it."""
        self.factor = 1.0
        self.rate = self.limit / MINUTE
        self.capacity = self.rate * burst
        self.level = self.capacity if level is None else min(float(level), self.capacity)
        self.stamp = now

    def refill(self, now: float) -> float:
        elapsed = now - self.stamp
        if elapsed > 0:
            if self.factor < 1.0:
                self.factor = min(1.0, self.factor + elapsed * RECOVERY_PER_SECOND)
                self.rate = self.limit * self.factor / MINUTE
                self.capacity = self.rate * self.burst
            self.level = min(self.capacity, self.level + elapsed * self.rate)
            self.stamp = now
        return self.level

    def wait(self, amount: float, now: float) -> float:
        """Seconds until `amount` fits; 0 when it fits now."""
        short = min(amount, self.capacity) - self.refill(now)
        return 0.0 if short <= EPSILON else short / self.rate

    def take(self, amount: float) -> None:
        """(Right after `wait` said 0.)"""
        self.level -= amount

    def give_back(self, amount: float, now: float) -> None:
        self.refill(now)
        self.level = min(self.capacity, self.level + amount)

    def relimit(self, limit: float, now: float) -> None:
        self.refill(now)
        self.limit = float(limit)
        self.rate = self.limit * self.factor / MINUTE
        self.capacity = self.rate * self.burst
        self.level = min(self.level, self.capacity)

    def tighten(self, cooldown: float, now: float) -> None:
        """Slow down after an unexpected 429: a lower rate, and no burst when the `cooldown`
        ends (the level is empty then), so waiters leave one by one at the new pace."""
        self.refill(now)
        self.factor = max(MIN_RATE_FACTOR, self.factor * TIGHTEN_FACTOR)
        self.rate = self.limit * self.factor / MINUTE
        self.capacity = self.rate * self.burst
        self.level = min(self.level, -cooldown * self.rate)


class Bucket:
    """One (provider, model)'s meters and in-flight count, as plain arithmetic over `now`."""

    def __init__(self, limits: RateLimits, now: float) -> None:
        set_limits = (limits.rpm, limits.tpm, limits.input_tpm, limits.output_tpm)
        self.pace: list[Meter | None] = [None if v is None else Meter(v, now, ceiling=True) for v in set_limits]
        self.reported: list[Meter | None] = [None, None, None, None]
        self.max_concurrency = limits.max_concurrency or DEFAULT_MAX_CONCURRENCY
        self.window = float(self.max_concurrency)
        """Requests allowed in flight now: narrowed after overloaded answers, widened by successes."""
        self.in_flight = 0
        self.cooldown_until = 0.0
        self.tightened_at = -math.inf
        self.narrowed_at = -math.inf
        self.blocked_by: str | None = None
        self.spent = [0.0, 0.0, 0.0, 0.0]
        """What granted requests took, net of refunds, per dimension (`Need.amounts` order); only
        while a meter is in force: an average request's share of each rate, for `per_second`."""
        self._refresh()

    def _refresh(self) -> None:
        self.meters = [(index, meter) for index, meter in enumerate(self.pace + self.reported) if meter is not None]
        """(dimension index mod 4, meter) for every meter in force: the hot path walks only these."""
        self.counts_tokens = any(meter is not None for meter in self.pace[1:] + self.reported[1:])

    def too_large(self, need: Need) -> str | None:
        """Why `need` can never be granted, or None."""
        amounts = need.amounts
        for index in (1, 2, 3):
            meter = self.pace[index]
            if meter is not None and meter.ceiling and amounts[index] > meter.limit:
                return (
                    f"needs up to {amounts[index]:,} {DIMENSIONS[index]}, "
                    f"more than the whole per-minute budget of {meter.limit:,.0f}"
                )
        return None

    def try_take(self, key: str, need: Need, now: float) -> tuple[float, str | None, Ticket | None]:
        """Take `need` now and return (0, None, ticket), or take nothing and return how long to
        wait (math.inf: until a request in flight finishes) and what holds it back."""
        if now < self.cooldown_until:
            return self.cooldown_until - now, "cooldown", None
        if self.in_flight >= self.window:
            return math.inf, "concurrency" if self.window >= self.max_concurrency else "overloaded", None
        meters = self.meters
        if meters:
            amounts = need.amounts
            longest, factor = 0.0, None
            for index, meter in meters:
                wait = meter.wait(amounts[index % 4], now)
                if wait > longest:
                    longest, factor = wait, DIMENSIONS[index % 4]
            if longest > 0:
                return longest, factor, None
            for index, meter in meters:
                meter.take(amounts[index % 4])
            spent = self.spent
            spent[0] += 1.0
            spent[1] += amounts[1]
            spent[2] += amounts[2]
            spent[3] += amounts[3]
        self.in_flight += 1
        return 0.0, None, Ticket(key, need)

    def settle(self, ticket: Ticket, used: Usage | None, reported: ReportedLimits | None, now: float) -> None:
        """A request finished: free its slot, widen the window after a success, give back what
        the estimate overstated, and bring in what the provider reported."""
        self.in_flight -= 1
        if used is not None and self.window < self.max_concurrency:
            self.window = min(float(self.max_concurrency), self.window + 1.0)
        told = reported.by_dimension() if reported is not None else None
        if self.meters:
            back = refunds(ticket.need, used)
            spent = self.spent
            spent[1] -= back[1]
            spent[2] -= back[2]
            spent[3] -= back[3]
            for index, meter in self.meters:
                resynced = index >= 4 and told is not None and told[index - 4][1] is not None
                if back[index % 4] and not resynced:
                    meter.give_back(back[index % 4], now)
        if told is not None:
            self._learn(told, now)

    def _learn(self, told: tuple[tuple[float | None, float | None], ...], now: float) -> None:
        """The provider's figures, per dimension (limit, remaining): set the reported budget to
        them; let a lower limit lower the pace; start a pace where the caller set none."""
        changed = False
        for index, (limit, remaining) in enumerate(told):
            pace = self.pace[index]
            if limit is not None:
                if pace is None:
                    # the first answer may follow a burst sent before any limit was known: start
                    # no further ahead than the provider's bucket allows, within one burst of debt
                    start = limit * BURST_SECONDS / MINUTE
                    if remaining is not None:
                        start = max(-start, min(start, remaining - (limit - start)))
                    self.pace[index] = Meter(limit, now, level=start, ceiling=False)
                    changed = True
                elif limit < pace.limit or (not pace.ceiling and limit != pace.limit):
                    pace.relimit(limit, now)
            if remaining is not None:
                capacity = limit if limit is not None else (pace.limit if pace is not None else None)
                if capacity is None:
                    continue
                meter = self.reported[index]
                if meter is None:
                    meter = self.reported[index] = Meter(capacity, now, burst=MINUTE, level=remaining, ceiling=False)
                    changed = True
                else:
                    if capacity != meter.limit:
                        meter.relimit(capacity, now)
                    meter.refill(now)
                    meter.level = min(meter.capacity, remaining)
        if changed:
            self._refresh()

    def release_unsent(self, ticket: Ticket, now: float) -> None:
        self.in_flight -= 1
        amounts = ticket.need.amounts
        for index, meter in self.meters:
            meter.give_back(amounts[index % 4], now)
        if self.meters:
            self.spent = [spent - amount for spent, amount in zip(self.spent, amounts, strict=True)]

    def per_second(self) -> float | None:
        """Requests a second the paces grant now: each metered rate over what an average
        request takes of it (tokens count once a request has shown what it takes)."""
        spent = self.spent
        rates = []
        for index, meter in enumerate(self.pace):
            if meter is not None and index == 0:
                rates.append(meter.rate)
            elif meter is not None and spent[0] and spent[index] > 0:
                rates.append(meter.rate * spent[0] / spent[index])
        return min(rates) if rates else None

    def remaining(self) -> tuple[tuple[str, float], ...]:
        """What the provider last said is left this minute, by dimension."""
        return tuple((DIMENSIONS[i], meter.level) for i, meter in enumerate(self.reported) if meter is not None)

    def rate_limited(self, cooldown: float, now: float) -> None:
        """A 429: hold for `cooldown`; tighten the pace (once per burst of 429s), or narrow the
        window where nothing paces this bucket, so the waiters do not all go at once after."""
        self.cooldown_until = max(self.cooldown_until, now + cooldown)
        if now - self.tightened_at < TIGHTEN_INTERVAL_SECONDS:
            return
        self.tightened_at = now
        paces = [meter for meter in self.pace if meter is not None]
        for meter in paces:
            meter.tighten(cooldown, now)
        if not paces:
            self.narrow(now, force=True)

    def narrow(self, now: float, *, force: bool = False) -> None:
        """Halve the concurrency window (an overloaded answer), at most once a while."""
        if not force and now - self.narrowed_at < OVERLOAD_INTERVAL_SECONDS:
            return
        self.narrowed_at = now
        self.window = max(1.0, math.floor(min(self.window, self.in_flight + 1) / 2))
