"""The default Limiter: buckets in this process, waiters woken in FIFO order from one timer per
bucket rather than having every waiter poll."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque

from cloudburst._config import RateLimits
from cloudburst._headers import ReportedLimits
from cloudburst._limiter.base import LIMITING_FACTORS, BucketState, Clock, Need, Ticket, granted
from cloudburst._limiter.bucket import Bucket
from cloudburst._response import Usage


class InProcessLimiter:
    """Buckets of this process; share one between clients to share their limits."""

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
        return self.buckets[key].counts_tokens

    async def acquire(self, key: str, need: Need) -> Ticket:
        waiters = self._waiters[key]
        if not waiters:
            _, _, ticket = self.buckets[key].try_take(key, need, self.clock())
            if ticket is not None:
                return ticket
        future: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        waiters.append((need, future))
        self._pump(key)
        return await granted(future, self.release_unsent)

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

    def _after(self, key: str) -> None:
        if self._waiters[key]:
            self._pump(key)

    def settle(self, ticket: Ticket, used: Usage | None, reported: ReportedLimits | None) -> None:
        self.buckets[ticket.key].settle(ticket, used, reported, self.clock())
        self._after(ticket.key)

    def release_unsent(self, ticket: Ticket) -> None:
        self.buckets[ticket.key].release_unsent(ticket, self.clock())
        self._after(ticket.key)

    def rate_limited(self, key: str, cooldown: float) -> None:
        self.buckets[key].rate_limited(cooldown, self.clock())
        self._after(key)

    def overloaded(self, key: str) -> None:
        self.buckets[key].narrow(self.clock())

    def limiting_factor(self) -> str | None:
        factors = {bucket.blocked_by for key, bucket in self.buckets.items() if self._waiters[key]}
        now = self.clock()
        for bucket in self.buckets.values():  # nobody waiting, yet a bucket is full or held
            if bucket.cooldown_until > now:
                factors.add("cooldown")
            elif bucket.in_flight >= bucket.window:
                factors.add("concurrency" if bucket.window >= bucket.max_concurrency else "overloaded")
        return next((factor for factor in LIMITING_FACTORS if factor in factors), None)

    def states(self) -> list[BucketState]:
        now = self.clock()
        return [
            BucketState(
                key,
                bucket.blocked_by if self._waiters[key] else None,
                len(self._waiters[key]),
                bucket.in_flight,
                int(bucket.window),
                max(0.0, bucket.cooldown_until - now),
                bucket.per_second(),
                bucket.remaining(),
            )
            for key, bucket in self.buckets.items()
        ]
