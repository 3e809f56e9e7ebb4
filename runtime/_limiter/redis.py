"""One limit shared by many processes and machines: the buckets live in Redis, and every change
to them is one atomic Lua script, run on Redis's clock (`TIME`), never on a machine's.

    limiter = RedisLimiter("redis://127.0.0.1:6379/0")
    client = LLMClient("gpt-4.1-mini", limits=RateLimits(rpm=6_000), limiter=limiter)

The script does in Redis what `bucket.Bucket` does in memory, by the same rules (see there): a
pace meter per dimension, the provider's reported budget kept apart, tightening after a 429,
the AIMD concurrency window. A request's concurrency slot is a lease in a sorted set scored by
its expiry: the script purges expired ones, and a process renews its own while their requests
run, so a crashed process's slots come back after `lease_seconds` while a slow request keeps
its slot as long as it runs.

Every process configures the shared bucket with its own RateLimits on each call: the lowest
configured limit wins (a process never sends faster than it was told to, whoever else shares
the key), and a bucket unused for `REDIS_STATE_TTL_SECONDS` is forgotten, so raising a limit
takes effect once the bucket was idle that long (or under another `prefix`).

In a process, waiters queue per bucket in FIFO order and one task per bucket talks to Redis:
it sends the settlements, 429s and overloads heard since its last call, in order, in the same
call as the next reservation attempt for the queue's head, and sleeps what the script says to
wait (with a little jitter, at most `REDIS_POLL_SECONDS`). The synchronous methods only queue.

If Redis does not answer within `timeout`, the waiting `acquire`s raise LimiterUnavailableError
(the job then stops pulling prompts, lets those in flight finish and raises it): there is no
fallback to an in-process limit, which would let every process send the whole limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import os
import random
import secrets
import socket
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from string import Template

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import NoScriptError, RedisError
except ImportError as exc:  # pragma: no cover - the extra is installed for tests
    raise ImportError("RedisLimiter needs redis-py: pip install 'cloudburst[redis]'") from exc

from cloudburst._config import RateLimits
from cloudburst._constants import (
    BURST_SECONDS,
    DEFAULT_MAX_CONCURRENCY,
    MIN_RATE_FACTOR,
    OVERLOAD_INTERVAL_SECONDS,
    RECOVERY_PER_SECOND,
    REDIS_JITTER,
    REDIS_LEASE_SECONDS,
    REDIS_POLL_SECONDS,
    REDIS_RESERVE_BATCH,
    REDIS_STATE_TTL_SECONDS,
    REDIS_TIMEOUT_SECONDS,
    TIGHTEN_FACTOR,
    TIGHTEN_INTERVAL_SECONDS,
)
from cloudburst._errors import LimiterUnavailableError
from cloudburst._headers import ReportedLimits
from cloudburst._limiter.base import LIMITING_FACTORS, BucketState, Clock, Need, Ticket, granted, refunds
from cloudburst._limiter.bucket import Bucket
from cloudburst._response import Usage

log = logging.getLogger("cloudburst")

SCRIPT = Template((Path(__file__).parent / "redis.lua").read_text()).substitute(
    burst=repr(BURST_SECONDS),
    recovery=repr(RECOVERY_PER_SECOND),
    tighten=repr(TIGHTEN_FACTOR),
    min_factor=repr(MIN_RATE_FACTOR),
    tighten_interval=repr(TIGHTEN_INTERVAL_SECONDS),
    overload_interval=repr(OVERLOAD_INTERVAL_SECONDS),
    default_max_concurrency=repr(DEFAULT_MAX_CONCURRENCY),
    state_ttl=repr(REDIS_STATE_TTL_SECONDS),
)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _reserve(lease: str, need: Need, op: str = "R") -> tuple[str, ...]:
    """A reservation's record (or, with op "U", its release)."""
    return (op, lease, *(str(amount) for amount in need.amounts))


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


class _Bucket:
    """This process's side of one shared bucket: its waiters, the operations not yet sent, the
    leases it holds, and what it last heard."""

    __slots__ = (
        "blocked_by",
        "key",
        "keys",
        "learned_tokens",
        "leases",
        "limits",
        "local",
        "ops",
        "sending",
        "task",
        "waiters",
        "wake",
    )

    def __init__(self, prefix: str, key: str, limits: RateLimits) -> None:
        self.key = key
        self.keys = (f"{prefix}:{{{key}}}", f"{prefix}:{{{key}}}:leases")
        self.limits = [_number(v) for v in (limits.rpm, limits.tpm, limits.input_tpm, limits.output_tpm)]
        self.limits.append("" if limits.max_concurrency is None else str(limits.max_concurrency))
        self.local = Bucket(limits, 0.0)
        """Only for what is answered without Redis: requests too large for the caller's limits."""
        self.learned_tokens = False
        """The shared bucket has a token budget (learned from headers, here or elsewhere)."""
        self.waiters: deque[tuple[Need, asyncio.Future[Ticket]]] = deque()
        self.ops: list[str] = []
        self.leases: set[str] = set()
        self.task: asyncio.Task[None] | None = None
        self.sending = asyncio.Lock()
        """Held from taking the queued operations until Redis has run them, so they reach Redis
        in the order they were queued whoever sends them."""
        self.wake: asyncio.Future[None] | None = None
        self.blocked_by: str | None = None


class RedisLimiter:
    """Buckets in Redis, shared by every process (on any machine) that uses the same `url` and
    `prefix`. Needs `pip install 'cloudburst[redis]'`.

    lease_seconds  how soon a crashed process's concurrency slots come back
    timeout        seconds each Redis call may take before LimiterUnavailableError
    clock          seconds on a clock every process shares, instead of Redis's `TIME` (tests)
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "cloudburst",
        lease_seconds: float = REDIS_LEASE_SECONDS,
        timeout: float = REDIS_TIMEOUT_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.lease_seconds = lease_seconds
        self.timeout = timeout
        self.clock = clock
        self.buckets: dict[str, _Bucket] = {}
        self._name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}:"
        self._ids = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis: aioredis.Redis | None = None
        self._sha: str | None = None
        self._down = False
        self._working = 0
        """Bucket tasks running; when none is, the connections are closed."""

    def configure(self, key: str, limits: RateLimits) -> None:
        self.buckets[key] = _Bucket(self.prefix, key, limits)

    def too_large(self, key: str, need: Need) -> str | None:
        return self.buckets[key].local.too_large(need)

    def counts_tokens(self, key: str) -> bool:
        bucket = self.buckets[key]
        return bucket.local.counts_tokens or bucket.learned_tokens

    async def acquire(self, key: str, need: Need) -> Ticket:
        bucket = self.buckets[key]
        self._bind()
        future: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        bucket.waiters.append((need, future))
        if len(bucket.waiters) == 1:
            self._kick(bucket)
        else:
            self._start(bucket)
        return await granted(future, self.release_unsent)

    async def try_take(self, key: str, need: Need) -> tuple[float, str | None, Ticket | None]:
        """One reservation attempt, after the operations queued so far, without waiting: what
        `Bucket.try_take` answers, of the shared bucket (math.inf: until a slot frees)."""
        self._bind()
        bucket = self.buckets[key]
        lease = self._lease()
        async with bucket.sending:
            ops, bucket.ops = bucket.ops, []
            granted, wait, factor, counts_tokens = await self._call(bucket, [*ops, *_reserve(lease, need)])
        bucket.learned_tokens |= counts_tokens
        if not granted:
            return (math.inf if wait < 0 else wait), factor, None
        bucket.leases.add(lease)
        return 0.0, None, Ticket(key, need, lease)

    async def aclose(self) -> None:
        """Close the connections now (bucket tasks close them whenever they all go idle)."""
        if self._redis is not None:
            await self._redis.connection_pool.disconnect()

    def settle(self, ticket: Ticket, used: Usage | None, reported: ReportedLimits | None) -> None:
        bucket = self.buckets[ticket.key]
        bucket.leases.discard(ticket.lease)
        told = reported.by_dimension() if reported is not None else ((None, None),) * 4
        ops = bucket.ops
        ops += ("S", ticket.lease, "0" if used is None else "1")
        ops += (_number(back) for back in refunds(ticket.need, used))
        ops += (_number(figure) for pair in told for figure in pair)
        self._kick(bucket)

    def release_unsent(self, ticket: Ticket) -> None:
        bucket = self.buckets[ticket.key]
        bucket.leases.discard(ticket.lease)
        bucket.ops += _reserve(ticket.lease, ticket.need, "U")
        self._kick(bucket)

    def rate_limited(self, key: str, cooldown: float) -> None:
        bucket = self.buckets[key]
        bucket.ops += ("L", repr(float(cooldown)))
        self._kick(bucket)

    def overloaded(self, key: str) -> None:
        bucket = self.buckets[key]
        bucket.ops.append("O")
        self._kick(bucket)

    def limiting_factor(self) -> str | None:
        factors = {bucket.blocked_by for bucket in self.buckets.values() if bucket.waiters}
        return next((factor for factor in LIMITING_FACTORS if factor in factors), None)

    def states(self) -> list[BucketState]:
        """What this process knows of each shared bucket: its own waiters and leases, and the
        pace of the limits it was given (the shared state is in Redis)."""
        return [
            BucketState(
                key,
                bucket.blocked_by if bucket.waiters else None,
                len(bucket.waiters),
                len(bucket.leases),
                bucket.local.max_concurrency,
                0.0,
                bucket.local.per_second(),
            )
            for key, bucket in self.buckets.items()
        ]

    # the task per bucket that talks to Redis ---------------------------------------------------

    def _bind(self) -> None:
        """A client for the running event loop (each `LLMClient.run` has its own loop); what
        belonged to a finished loop is dropped, except operations still to send."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        self._redis = aioredis.Redis.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),  # a script that timed out may have run: never resend it
        )
        self._working = 0
        for bucket in self.buckets.values():
            bucket.waiters.clear()
            bucket.task = bucket.wake = None
            bucket.sending = asyncio.Lock()

    def _kick(self, bucket: _Bucket) -> None:
        """Have the bucket's task call Redis now."""
        if bucket.wake is not None:
            _resolve(bucket.wake)
        self._start(bucket)

    def _start(self, bucket: _Bucket) -> None:
        if bucket.task is None or bucket.task.done():
            try:
                self._bind()
            except RuntimeError:  # no running loop (called outside a job): sent with the next call
                return
            bucket.task = asyncio.get_running_loop().create_task(self._work(bucket))
            self._working += 1

    async def _work(self, bucket: _Bucket) -> None:
        loop = asyncio.get_running_loop()
        renew_every = self.lease_seconds / 3
        renew_at = loop.time() + renew_every
        try:
            while bucket.ops or bucket.waiters or bucket.leases:
                waiters = bucket.waiters
                while waiters and waiters[0][1].done():
                    waiters.popleft()
                heads = list(itertools.islice(waiters, REDIS_RESERVE_BATCH))
                leases = [self._lease() for _ in heads]
                async with bucket.sending:
                    ops, bucket.ops = bucket.ops, []
                    if loop.time() >= renew_at and bucket.leases:
                        ops += ("N", str(len(bucket.leases)), *bucket.leases)
                        renew_at = loop.time() + renew_every
                    for lease, (need, _) in zip(leases, heads, strict=True):
                        ops += _reserve(lease, need)
                    if ops:
                        granted, wait, factor, counts_tokens = await self._call(bucket, ops)
                    else:
                        granted, wait, factor, counts_tokens = 0, -1.0, None, False
                bucket.learned_tokens |= counts_tokens
                for lease in leases[:granted]:
                    need, future = waiters.popleft()
                    ticket = Ticket(bucket.key, need, lease)
                    bucket.leases.add(lease)
                    if future.done():
                        self.release_unsent(ticket)
                    else:
                        future.set_result(ticket)
                if granted < len(heads):
                    bucket.blocked_by = factor
                    delay = REDIS_POLL_SECONDS if wait < 0 else min(wait, REDIS_POLL_SECONDS)
                    delay *= 1 + random.random() * REDIS_JITTER
                else:
                    bucket.blocked_by = None
                    delay = 0.0 if waiters else max(0.0, renew_at - loop.time())
                if delay and not bucket.ops:
                    await self._sleep(bucket, delay)
        except asyncio.CancelledError:  # the job's loop is closing: send what is left, once
            if bucket.ops:
                async with bucket.sending:
                    ops, bucket.ops = bucket.ops, []
                    with contextlib.suppress(LimiterUnavailableError):
                        await self._call(bucket, ops)
            raise
        except LimiterUnavailableError as exc:
            for _, future in bucket.waiters:
                if not future.done():
                    future.set_exception(exc)
            bucket.waiters.clear()
        finally:
            self._working -= 1
            if not self._working and self._redis is not None:  # idle: no socket left open at the loop's end
                await self._redis.connection_pool.disconnect()

    def _lease(self) -> str:
        return self._name + str(next(self._ids))

    async def _sleep(self, bucket: _Bucket, delay: float) -> None:
        """Until `delay` has passed or `_kick` wakes the bucket's task."""
        loop = asyncio.get_running_loop()
        wake = bucket.wake = loop.create_future()
        timer = loop.call_later(delay, _resolve, wake)
        try:
            await wake
        finally:
            timer.cancel()
            bucket.wake = None

    async def _call(self, bucket: _Bucket, ops: Sequence[str]) -> tuple[int, float, str | None, bool]:
        """Run the script once over `ops`: (reservations granted, seconds to wait, factor,
        whether the bucket counts tokens)."""
        assert self._redis is not None
        now = "" if self.clock is None else repr(self.clock())
        args = [now, repr(float(self.lease_seconds)), *bucket.limits, *ops]
        try:
            reply = await self._evalsha(bucket, args)  # bounded by the socket timeouts
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            if not self._down:
                log.error("the shared limiter's Redis at %s did not answer: %s", self.url, exc)
            self._down = True
            raise LimiterUnavailableError(
                f"the shared limiter's Redis at {self.url} did not answer ({type(exc).__name__}: {exc}); "
                "no more requests are sent, since without it this process could exceed the limit it shares"
            ) from exc
        if self._down:
            log.warning("the shared limiter's Redis at %s answers again", self.url)
            self._down = False
        granted, wait, factor, counts_tokens = reply
        return int(granted), float(wait), factor.decode() or None, bool(counts_tokens)

    async def _evalsha(self, bucket: _Bucket, args: list[str]) -> list[bytes]:
        """EVALSHA, loading the script on first use and again when Redis forgot it (a restart);
        once more on a connection found closed (the call never reached Redis), never after a
        timeout (the script may have run)."""
        assert self._redis is not None
        closed = False
        while True:
            try:
                if self._sha is None:
                    self._sha = await self._redis.script_load(SCRIPT)
                return await self._redis.evalsha(self._sha, 2, *bucket.keys, *args)  # type: ignore[no-any-return]
            except NoScriptError:
                self._sha = None
            except RedisConnectionError:
                if closed:
                    raise
                closed = True
