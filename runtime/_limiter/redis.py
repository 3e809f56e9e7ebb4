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
from cloudburst._limiter.base import LIMITING_FACTORS, Clock, Need, Ticket, refunds
from cloudburst._limiter.bucket import Bucket
from cloudburst._response import Usage

log = logging.getLogger("cloudburst")

SCRIPT = Template(r"""
-- KEYS: the bucket's hash, its leases (a sorted set of lease ids scored by expiry).
-- ARGV: now ('' reads TIME), lease seconds, this process's limits (rpm, tpm, input tpm,
-- output tpm, max concurrency; '' where unset), then operations, each a code and its fields:
--   S lease used refund*4 (limit remaining)*4   settle       U lease amount*4   release unsent
--   L cooldown   rate limited       O   overloaded       N count lease*count   renew leases
--   R lease amount*4   reserve: granted in order until one does not fit, the rest skipped
-- Reply: {granted, wait ('-1': until a slot frees), limiting factor, counts tokens (0/1)}.
local BURST, MINUTE, EPSILON = $burst, 60.0, 1e-9
local DIMS = {'requests', 'tokens', 'input tokens', 'output tokens'}
local state, leases = KEYS[1], KEYS[2]
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1e6
else
  now = tonumber(ARGV[1])
end
local lease_seconds = tonumber(ARGV[2])
local function fmt(x) return string.format('%.17g', x) end

local raw = redis.call('HGETALL', state)
local s = {}
for i = 1, #raw, 2 do s[raw[i]] = raw[i + 1] end
local function num(name, default) local v = s[name]; if v then return tonumber(v) end; return default end

local function meter(limit, factor, level, stamp, burst, ceiling)
  local m = {limit = limit, factor = factor, stamp = stamp, burst = burst, ceiling = ceiling}
  m.rate = limit * factor / MINUTE
  m.capacity = m.rate * burst
  m.level = level
  return m
end
local function refill(m)
  local elapsed = now - m.stamp
  if elapsed > 0 then
    if m.factor < 1 then
      m.factor = math.min(1, m.factor + elapsed * $recovery)
      m.rate = m.limit * m.factor / MINUTE
      m.capacity = m.rate * m.burst
    end
    m.level = math.min(m.capacity, m.level + elapsed * m.rate)
    m.stamp = now
  end
  return m.level
end
local function relimit(m, limit)
  refill(m)
  m.limit = limit
  m.rate = limit * m.factor / MINUTE
  m.capacity = m.rate * m.burst
  m.level = math.min(m.level, m.capacity)
end
local function give_back(m, amount)
  refill(m)
  m.level = math.min(m.capacity, m.level + amount)
end

local pace, reported = {}, {}
for i = 1, 4 do
  if s['pl' .. i] then
    pace[i] = meter(num('pl' .. i), num('pf' .. i), num('pv' .. i), num('ps' .. i), BURST, num('pc' .. i))
  end
  if s['rl' .. i] then reported[i] = meter(num('rl' .. i), 1, num('rv' .. i), num('rs' .. i), MINUTE, 0) end
end
local max_concurrency = num('cmax', nil)
-- this process's limits: the lowest configured wins
for i = 1, 4 do
  local limit = tonumber(ARGV[2 + i])
  if limit then
    local m = pace[i]
    if m == nil then
      local capacity = limit / MINUTE * BURST
      pace[i] = meter(limit, 1, capacity, now, BURST, 1)
    else
      if limit < m.limit then relimit(m, limit) end
      m.ceiling = 1
    end
  end
end
local mine = tonumber(ARGV[7])
if mine and (max_concurrency == nil or mine < max_concurrency) then max_concurrency = mine end
local limit_concurrency = max_concurrency or $default_max_concurrency
local window = math.min(num('win', limit_concurrency), limit_concurrency)
local cooldown_until = num('cool', 0)
local tightened_at = num('tight', -math.huge)
local narrowed_at = num('narrow', -math.huge)
redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)

local function each_meter(f)  -- pace then reported, as Bucket.meters
  for i = 1, 4 do if pace[i] then f(i, pace[i], false) end end
  for i = 1, 4 do if reported[i] then f(i, reported[i], true) end end
end
local function narrow(force)
  if not force and now - narrowed_at < $overload_interval then return end
  narrowed_at = now
  local in_flight = redis.call('ZCARD', leases)
  window = math.max(1, math.floor(math.min(window, in_flight + 1) / 2))
end
local function learn(told)
  for i = 1, 4 do
    local limit, remaining = told[2 * i - 1], told[2 * i]
    local m = pace[i]
    if limit then
      if m == nil then
        local start = limit * BURST / MINUTE
        if remaining then start = math.max(-start, math.min(start, remaining - (limit - start))) end
        pace[i] = meter(limit, 1, start, now, BURST, 0)
      elseif limit < m.limit or (m.ceiling == 0 and limit ~= m.limit) then
        relimit(m, limit)
      end
    end
    if remaining then
      local capacity = limit or (m and m.limit)
      if capacity then
        local r = reported[i]
        if r == nil then
          reported[i] = meter(capacity, 1, math.min(remaining, capacity), now, MINUTE, 0)
        else
          if capacity ~= r.limit then relimit(r, capacity) end
          refill(r)
          r.level = math.min(r.capacity, remaining)
        end
      end
    end
  end
end

local granted, wait, factor, refused = 0, 0, '', false
local n, at = #ARGV, 8
while at <= n do
  local op = ARGV[at]
  if op == 'S' then
    redis.call('ZREM', leases, ARGV[at + 1])
    if ARGV[at + 2] == '1' and window < limit_concurrency then window = math.min(limit_concurrency, window + 1) end
    local told = {}
    for k = 1, 8 do told[k] = tonumber(ARGV[at + 6 + k]) end
    each_meter(function(i, m, is_reported)
      local back = tonumber(ARGV[at + 2 + i])
      if back ~= 0 and not (is_reported and told[2 * i]) then give_back(m, back) end
    end)
    learn(told)
    at = at + 15
  elseif op == 'U' then
    redis.call('ZREM', leases, ARGV[at + 1])
    each_meter(function(i, m) give_back(m, tonumber(ARGV[at + 1 + i])) end)
    at = at + 6
  elseif op == 'L' then
    local cooldown = tonumber(ARGV[at + 1])
    cooldown_until = math.max(cooldown_until, now + cooldown)
    if now - tightened_at >= $tighten_interval then
      tightened_at = now
      local any = false
      for i = 1, 4 do
        local m = pace[i]
        if m then
          refill(m)
          m.factor = math.max($min_factor, m.factor * $tighten)
          m.rate = m.limit * m.factor / MINUTE
          m.capacity = m.rate * m.burst
          m.level = math.min(m.level, -cooldown * m.rate)
          any = true
        end
      end
      if not any then narrow(true) end
    end
    at = at + 2
  elseif op == 'O' then
    narrow(false)
    at = at + 1
  elseif op == 'N' then
    local count = tonumber(ARGV[at + 1])
    for k = 1, count do redis.call('ZADD', leases, 'XX', fmt(now + lease_seconds), ARGV[at + 1 + k]) end
    at = at + 2 + count
  elseif op == 'R' then
    if not refused then
      if now < cooldown_until then
        refused, wait, factor = true, cooldown_until - now, 'cooldown'
      elseif redis.call('ZCARD', leases) >= window then
        refused, wait = true, -1
        factor = (window >= limit_concurrency) and 'concurrency' or 'overloaded'
      else
        local longest, why = 0, nil
        each_meter(function(i, m)
          local amount = tonumber(ARGV[at + 1 + i])
          local short = math.min(amount, m.capacity) - refill(m)
          local w = 0
          if short > EPSILON then w = short / m.rate end
          if w > longest then longest, why = w, DIMS[i] end
        end)
        if longest > 0 then
          refused, wait, factor = true, longest, why
        else
          each_meter(function(i, m) m.level = m.level - tonumber(ARGV[at + 1 + i]) end)
          redis.call('ZADD', leases, fmt(now + lease_seconds), ARGV[at + 1])
          granted = granted + 1
        end
      end
    end
    at = at + 6
  else
    return redis.error_reply('cloudburst limiter: unknown operation ' .. tostring(op))
  end
end

local out = {'win', fmt(window), 'cool', fmt(cooldown_until)}
if max_concurrency then table.insert(out, 'cmax'); table.insert(out, fmt(max_concurrency)) end
if tightened_at > -math.huge then table.insert(out, 'tight'); table.insert(out, fmt(tightened_at)) end
if narrowed_at > -math.huge then table.insert(out, 'narrow'); table.insert(out, fmt(narrowed_at)) end
local counts_tokens = 0
for i = 1, 4 do
  local m = pace[i]
  if m then
    for _, f in ipairs({{'pl', m.limit}, {'pf', m.factor}, {'pv', m.level}, {'ps', m.stamp}, {'pc', m.ceiling}}) do
      table.insert(out, f[1] .. i); table.insert(out, fmt(f[2]))
    end
    if i > 1 then counts_tokens = 1 end
  end
  local r = reported[i]
  if r then
    for _, f in ipairs({{'rl', r.limit}, {'rv', r.level}, {'rs', r.stamp}}) do
      table.insert(out, f[1] .. i); table.insert(out, fmt(f[2]))
    end
    if i > 1 then counts_tokens = 1 end
  end
end
redis.call('HSET', state, unpack(out))
local ttl = math.floor(math.max($state_ttl, 2 * lease_seconds) * 1000)
redis.call('PEXPIRE', state, ttl)
redis.call('PEXPIRE', leases, ttl)
return {granted, fmt(wait), factor, counts_tokens}
""").substitute(
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
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release_unsent(future.result())
            raise

    async def try_take(self, key: str, need: Need) -> tuple[float, str | None, Ticket | None]:
        """One reservation attempt, after the operations queued so far, without waiting: what
        `Bucket.try_take` answers, of the shared bucket (math.inf: until a slot frees)."""
        self._bind()
        bucket = self.buckets[key]
        lease = self._lease()
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
                ops, bucket.ops = bucket.ops, []
                if loop.time() >= renew_at and bucket.leases:
                    ops += ("N", str(len(bucket.leases)), *bucket.leases)
                    renew_at = loop.time() + renew_every
                leases = [self._lease() for _ in heads]
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
            reply = await asyncio.wait_for(self._evalsha(bucket, args), self.timeout * 2)
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
