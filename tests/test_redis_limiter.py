"""RedisLimiter against a real redis-server: the same arithmetic as the in-process Bucket, one
limit shared by clients and processes, a crashed holder's lease coming back, Redis going away."""

from __future__ import annotations

import asyncio
import heapq
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from cloudburst import LimiterUnavailableError, LLMClient, RateLimits, RetryPolicy, SamplingParams, SimConfig, Simulator
from cloudburst._headers import ReportedLimits
from cloudburst._limiter import Bucket, Need, Ticket
from cloudburst._response import Usage

redis = pytest.importorskip("redis", reason="redis-py is in the dev extra: pip install -e '.[dev]'")
from cloudburst._limiter.redis import RedisLimiter  # noqa: E402

SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(
    SERVER is None, reason="redis-server is not on PATH (apt-get install redis-server; .ci/run installs it)"
)
MODEL = "gpt-4.1-mini"
KEY = f"openai/{MODEL}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A throwaway redis-server on a free loopback port: (url, process)."""
    assert SERVER is not None
    port = free_port()
    process = subprocess.Popen(
        [SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        probe = redis.Redis(port=port, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
        probe.close()
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as (url, _):
        yield url


@pytest.fixture
def prefix() -> str:
    """A prefix per test, so tests never see each other's buckets."""
    return f"test-{uuid.uuid4().hex[:8]}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# the same arithmetic as the in-process bucket -----------------------------------------------------


class Local:
    """The in-process Bucket, driven on the same fake times."""

    def __init__(self, limits: RateLimits) -> None:
        self.bucket = Bucket(limits, 0.0)

    async def take(self, need: Need, now: float) -> tuple[float, str | None, Ticket | None]:
        return self.bucket.try_take("k", need, now)

    def settle(self, ticket: Ticket, used: Usage, told: ReportedLimits, now: float) -> None:
        self.bucket.settle(ticket, used, told, now)

    def rate_limited(self, cooldown: float, now: float) -> None:
        self.bucket.rate_limited(cooldown, now)

    def overloaded(self, now: float) -> None:
        self.bucket.narrow(now)


class Shared:
    """A RedisLimiter on a fake clock (instead of Redis's TIME)."""

    def __init__(self, limits: RateLimits, url: str, prefix: str) -> None:
        self.clock = FakeClock()
        self.limiter = RedisLimiter(url, prefix=prefix, lease_seconds=3600, clock=self.clock)
        self.limiter.configure("k", limits)

    async def take(self, need: Need, now: float) -> tuple[float, str | None, Ticket | None]:
        self.clock.now = now
        return await self.limiter.try_take("k", need)

    def settle(self, ticket: Ticket, used: Usage, told: ReportedLimits, now: float) -> None:
        self.clock.now = now
        self.limiter.settle(ticket, used, told)

    def rate_limited(self, cooldown: float, now: float) -> None:
        self.limiter.rate_limited("k", cooldown)

    def overloaded(self, now: float) -> None:
        self.limiter.overloaded("k")


async def drive(side: Local | Shared, count: int) -> list[tuple[float, str | None]]:
    """A job's sequence on a fake clock: requests as fast as granted, answered 0.2 s later with
    usage and headers; a 429 and an overloaded answer on the way. Returns (time, factor) of
    every grant (factor None) and every refusal."""
    now, granted, seen = 0.0, 0, []
    answers: list[tuple[float, int, Ticket]] = []
    need = Need(100, 50)
    while granted < count:
        while answers and answers[0][0] <= now:
            _, n, ticket = heapq.heappop(answers)
            told = ReportedLimits(requests_limit=6000, requests_remaining=5990 - n % 7, tokens_limit=600_000)
            side.settle(ticket, Usage(input_tokens=80, output_tokens=20), told, now)
            if n == 150:
                side.rate_limited(1.0, now)
            if n == 300:
                side.overloaded(now)
        wait, factor, ticket = await side.take(need, now)
        seen.append((now, factor))
        if ticket is None:
            now = min(now + wait, answers[0][0]) if answers else now + wait
            continue
        heapq.heappush(answers, (now + 0.2, granted, ticket))
        granted += 1
    if isinstance(side, Shared):
        await side.limiter.aclose()
    return seen


def test_the_shared_bucket_grants_what_the_in_process_bucket_grants(redis_url: str, prefix: str) -> None:
    limits = RateLimits(rpm=6000, tpm=600_000, max_concurrency=64)
    expected = asyncio.run(drive(Local(limits), 600))
    shared = asyncio.run(drive(Shared(limits, redis_url, prefix), 600))
    assert {factor for _, factor in expected} >= {None, "requests", "tokens", "cooldown"}
    assert len(shared) == len(expected)
    for (at, factor), (want_at, want_factor) in zip(shared, expected, strict=True):
        assert (at, factor) == (pytest.approx(want_at, abs=1e-6), want_factor)


def test_the_lowest_configured_limit_wins(redis_url: str, prefix: str) -> None:
    async def scenario() -> list[str | None]:
        clock = FakeClock()
        fast, slow = (RedisLimiter(redis_url, prefix=prefix, clock=clock) for _ in range(2))
        fast.configure("k", RateLimits(rpm=6000))  # a burst of 25
        slow.configure("k", RateLimits(rpm=600))  # a burst of 2.5
        await fast.try_take("k", Need())
        factors = [(await limiter.try_take("k", Need()))[1] for limiter in (slow, fast, fast)]
        await fast.aclose()
        await slow.aclose()
        return factors

    assert asyncio.run(scenario()) == [None, None, "requests"]


def test_a_token_budget_one_process_learned_makes_every_process_count_tokens(redis_url: str, prefix: str) -> None:
    async def scenario() -> None:
        here, there = (RedisLimiter(redis_url, prefix=prefix) for _ in range(2))
        for limiter in (here, there):
            limiter.configure("k", RateLimits(rpm=600))
            assert not limiter.counts_tokens("k")
        _, _, ticket = await here.try_take("k", Need())
        assert ticket is not None
        here.settle(ticket, Usage(), ReportedLimits(tokens_limit=90_000, tokens_remaining=80_000))
        await here.try_take("k", Need())  # sends the settlement first
        assert here.counts_tokens("k") and not there.counts_tokens("k")
        await there.try_take("k", Need())
        assert there.counts_tokens("k")
        await here.aclose()
        await there.aclose()

    asyncio.run(scenario())


def test_the_script_is_loaded_again_when_redis_forgot_it(redis_url: str, prefix: str) -> None:
    async def scenario() -> None:
        limiter = RedisLimiter(redis_url, prefix=prefix)
        limiter.configure("k", RateLimits(rpm=600))
        assert (await limiter.try_take("k", Need()))[2] is not None
        async with redis.asyncio.Redis.from_url(redis_url) as admin:
            await admin.script_flush()
        assert (await limiter.try_take("k", Need()))[2] is not None
        await limiter.aclose()

    asyncio.run(scenario())


def prompts(n: int, tag: str = "") -> list[str]:
    return [f"Question {tag}{i}: name three prime numbers." for i in range(n)]


def test_two_clients_sharing_one_key_stay_inside_its_limit(redis_url: str, prefix: str) -> None:
    """Each client alone would send the whole 6,000 RPM; through one RedisLimiter they send it together."""
    config = SimConfig(rpm=6000, window_seconds=1.0, latency_ms=100)
    with Simulator(config) as sim:

        def client() -> LLMClient:
            return LLMClient(
                MODEL,
                limits=RateLimits(rpm=6000),
                limiter=RedisLimiter(redis_url, prefix=prefix),
                progress=None,
                sampling=SamplingParams(max_new_tokens=8),
                api_keys={"openai": "sk-shared"},
                base_urls={"openai": sim.base_urls()["openai"]},
            )

        async def both() -> list[list[object]]:
            return list(
                await asyncio.gather(client().run_async(prompts(300, "a")), client().run_async(prompts(300, "b")))
            )

        results = asyncio.run(asyncio.wait_for(both(), 120))
        stats = sim.stats()
    assert all(r.error is None for batch in results for r in batch)  # type: ignore[attr-defined]
    assert stats["statuses"].get("429", 0) <= 0.02 * stats["requests"], stats


def test_two_processes_sharing_one_key_stay_inside_its_limit(redis_url: str, prefix: str, tmp_path: Path) -> None:
    """`cloudburst run --redis-url` in two real processes against one simulator started apart."""
    config = SimConfig(rpm=6000, window_seconds=1.0, latency_ms=100)
    with Simulator(config) as sim:
        env = {**os.environ, **sim.env(), "OPENAI_API_KEY": "sk-shared"}
        jobs = []
        for name in ("a", "b"):
            source = tmp_path / f"{name}.jsonl"
            source.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in prompts(300, name)))
            command = [sys.executable, "-m", "cloudburst", "run", str(source), "-o", str(tmp_path / f"{name}.out")]
            command += ["--model", MODEL, "--rpm", "6000", "--max-new-tokens", "8", "--progress", "off"]
            command += ["--redis-url", redis_url]
            jobs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        outputs = [job.communicate(timeout=120)[0].decode() for job in jobs]
        stats = sim.stats()
    assert [job.returncode for job in jobs] == [0, 0], outputs
    for name in ("a", "b"):
        lines = [orjson.loads(line) for line in (tmp_path / f"{name}.out").read_bytes().splitlines()]
        assert len(lines) == 300 and all(line["error"] is None for line in lines)
    assert stats["statuses"].get("429", 0) <= 0.02 * stats["requests"], stats


HOLDER = """
import asyncio, sys
from cloudburst import RateLimits
from cloudburst._limiter import Need
from cloudburst._limiter.redis import RedisLimiter

async def hold():
    limiter = RedisLimiter(sys.argv[1], prefix=sys.argv[2], lease_seconds=1.0)
    limiter.configure("k", RateLimits(max_concurrency=1))
    await limiter.acquire("k", Need())
    print("held", flush=True)
    await asyncio.sleep(600)  # a request that runs long: its lease is renewed

asyncio.run(hold())
"""


def test_a_crashed_holders_slot_comes_back_after_its_lease(redis_url: str, prefix: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, redis_url, prefix], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"

        async def scenario() -> None:
            limiter = RedisLimiter(redis_url, prefix=prefix, lease_seconds=1.0)
            limiter.configure("k", RateLimits(max_concurrency=1))
            waiting = asyncio.ensure_future(limiter.acquire("k", Need()))
            await asyncio.sleep(2.5)  # past the lease: the live holder renews it
            assert not waiting.done()
            assert limiter.limiting_factor() == "concurrency"
            holder.kill()  # crashed: nobody renews it now
            ticket = await asyncio.wait_for(waiting, 30)
            assert ticket.key == "k"

        asyncio.run(scenario())
    finally:
        holder.kill()
        holder.communicate()


@pytest.mark.parametrize("failure", ["killed", "frozen"])
def test_redis_going_away_mid_run_stops_the_job_with_a_clear_error(failure: str) -> None:
    """No hang: the waiting prompts raise LimiterUnavailableError once a Redis call fails or times
    out; the results obtained before stay with the caller."""
    config = SimConfig(rpm=600, window_seconds=1.0, latency_ms=50)
    with Simulator(config) as sim, redis_server() as (url, server):
        client = LLMClient(
            MODEL,
            limits=RateLimits(rpm=600),
            limiter=RedisLimiter(url, timeout=0.5),
            retry=RetryPolicy(max_attempts=1),
            progress=None,
            sampling=SamplingParams(max_new_tokens=8),
            api_keys={"openai": "sk-shared"},
            base_urls={"openai": sim.base_urls()["openai"]},
        )
        received = []

        async def job() -> None:
            async for done in client.as_completed(prompts(1000)):
                received.append(done)
                if len(received) == 10:
                    os.kill(server.pid, signal.SIGKILL if failure == "killed" else signal.SIGSTOP)

        with pytest.raises(LimiterUnavailableError, match="did not answer"):
            asyncio.run(asyncio.wait_for(job(), 60))
    assert 10 <= len(received) < 1000
    assert all(done.response.error is None for done in received)
