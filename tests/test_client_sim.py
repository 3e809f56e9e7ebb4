"""LLMClient end to end against the provider simulator over real loopback sockets: limits held
without a 429, faults survived with every prompt accounted for exactly once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from cloudburst import APIResponse, SamplingParams
from cloudburst._client import LLMClient
from cloudburst._config import RateLimits, RetryPolicy, Timeouts
from cloudburst._constants import BURST_SECONDS
from cloudburst._errors import ProviderError
from cloudburst._limiter import InProcessLimiter
from cloudburst._prompt import Completed
from cloudburst._sim import SimConfig, Simulator


def client_on(sim: Simulator, models: list[str], **settings: object) -> LLMClient:
    return LLMClient(
        models,
        base_urls=sim.base_urls(),
        api_keys={"openai": "sk-test", "anthropic": "sk-ant-test"},
        sampling=SamplingParams(max_new_tokens=32),
        progress=None,
        seed=3,
        **settings,  # type: ignore[arg-type]
    )


def test_a_limit_matched_on_both_sides_is_used_without_a_single_429(sim: Simulator) -> None:
    """The simulator enforces over one-second windows, as OpenAI and Anthropic may."""
    sim.configure(rpm=6000, input_tpm=2_000_000, output_tpm=400_000, latency_ms=50, latency_spread_ms=40)
    client = client_on(
        sim,
        ["gpt-4.1-mini", "claude-haiku-4-5"],
        limits={
            "openai": RateLimits(rpm=6000),
            "anthropic": RateLimits(rpm=6000, input_tpm=2_000_000, output_tpm=400_000),
        },
    )
    results = client.run([f"question {i}" for i in range(800)])
    assert all(r.ok for r in results)
    stats = sim.stats()
    assert stats["rate_limited"] == {}
    assert stats["requests"] == 800 == client.tracker.attempts
    assert client.tracker.rate_limited == 0


def test_a_token_bound_job_holds_every_window(sim: Simulator) -> None:
    sim.configure(tpm=200_000, output_tpm=60_000, latency_ms=20)
    client = client_on(
        sim,
        ["gpt-4.1-mini", "claude-haiku-4-5"],
        limits={"openai": RateLimits(tpm=200_000), "anthropic": RateLimits(output_tpm=60_000)},
    )
    results = client.run([f"question {i}" for i in range(300)])  # 32 output tokens each: several seconds
    assert all(r.ok for r in results)
    assert sim.stats()["rate_limited"] == {} and client.tracker.rate_limited == 0


def test_a_caller_limit_below_the_providers_is_the_ceiling(sim: Simulator) -> None:
    sim.configure(rpm=6000, latency_ms=20)
    client = client_on(sim, ["gpt-4.1-mini"], limits=RateLimits(rpm=1500))
    started = time.monotonic()
    assert all(r.ok for r in client.run([f"q{i}" for i in range(100)]))
    elapsed = time.monotonic() - started
    # 1,500 a minute is 25 a second after a burst of 6: 100 requests cannot take less than ~3.7 s
    assert elapsed >= (100 - 1500 / 60 * BURST_SECONDS) / 25 * 0.98
    bucket = client.limiter.buckets["openai/gpt-4.1-mini"]  # type: ignore[attr-defined]
    assert bucket.pace[0].limit == 1500  # the provider's higher limit, reported on every answer, did not raise it


def test_limits_the_client_was_not_given_are_learned_from_the_headers(sim: Simulator) -> None:
    sim.configure(rpm=6000)
    client = client_on(sim, ["gpt-4.1-mini"], retry=RetryPolicy(backoff_base=0.01))
    assert all(r.ok for r in client.run([f"q{i}" for i in range(300)]))
    bucket = client.limiter.buckets["openai/gpt-4.1-mini"]  # type: ignore[attr-defined]
    assert bucket.pace[0] is not None and bucket.pace[0].limit == 6000
    # known now: the next job is paced from its first request, without a single 429
    assert all(r.ok for r in client.run([f"again {i}" for i in range(300)]))
    assert client.tracker.rate_limited == 0


def test_impossible_rate_limit_headers_never_freeze_a_job(sim: Simulator) -> None:
    sim.configure(rpm=6000, absurd_headers=True)
    client = client_on(sim, ["gpt-4.1-mini", "claude-haiku-4-5"], limits=RateLimits(rpm=6000, max_concurrency=8))
    results = client.run([f"q{i}" for i in range(200)])  # far more prompts than the concurrency
    assert all(r.ok for r in results)


def test_overloaded_spikes_back_off_only_their_requests_and_every_prompt_completes(sim: Simulator) -> None:
    sim.configure(overload_spikes=0.1, overload_spike_seconds=0.3, latency_ms=10)
    client = client_on(
        sim, ["gpt-4.1-mini"], retry=RetryPolicy(max_attempts=8, backoff_base=0.05), limits=RateLimits(rpm=12_000)
    )
    results = client.run([f"q{i}" for i in range(600)])
    assert all(r.ok for r in results)
    assert sim.stats()["overload_spikes"] > 0
    assert client.tracker.retried.get("overloaded", 0) > 0


def test_under_faults_every_prompt_ends_once_with_a_response_or_a_typed_error(sim: Simulator) -> None:
    sim.configure(faults=SimConfig.spread_faults(0.15), hang_s=2.0)
    client = client_on(
        sim,
        ["gpt-4.1-mini", "claude-haiku-4-5"],
        timeouts=Timeouts(connect=1.0, first_byte=0.2, total=1.0),
        retry=RetryPolicy(max_attempts=3, backoff_base=0.005, backoff_cap=0.02),
    )

    async def collect() -> list[Completed]:
        return [done async for done in client.as_completed(f"prompt {i}" for i in range(1500))]

    done = asyncio.run(collect())
    indexes = Counter(d.index for d in done)
    assert sorted(indexes) == list(range(1500)) and set(indexes.values()) == {1}
    for d in done:
        assert d.response.ok or isinstance(d.response.error, ProviderError)
    tracker = client.tracker
    assert tracker.done == 1500 == tracker.succeeded + tracker.failed
    assert tracker.retries > 0
    assert set(tracker.retried) <= {"server", "overloaded", "timeout", "connection", "invalid_response"}
    assert tracker.attempts == 1500 + tracker.retries
    faults = sim.stats()["faults"]
    assert {"500", "503", "hang", "reset", "malformed", "truncated"} <= set(faults)


def test_an_unstreamed_answer_waits_for_its_first_byte_as_long_as_its_tokens_take_not_ten_minutes() -> None:
    short, long, nothing = (Timeouts().for_output(n) for n in (64, 8192, 0))
    assert short.first_byte == pytest.approx(60 + 64 * 3600 / 128_000) and short.total == 600  # a hang: ~1 min
    assert long.first_byte == pytest.approx(60 + 8192 * 3600 / 128_000)
    assert nothing.first_byte is None and nothing.total == 600  # uploads and batch calls: the total alone
    assert Timeouts(first_byte=5.0).for_output(64).first_byte == 5.0  # given, kept
    assert Timeouts(total=30.0).for_output(64).first_byte == 30.0  # never past the total
    assert Timeouts().for_output(64) is Timeouts().for_output(64)  # one object: the transport's timer cache


def test_providers_without_limit_headers_get_no_429_either(sim_env: Simulator) -> None:
    """Nothing to resync from: the client's own bucket must not run ahead of the provider's,
    whose first request arrives after connections are set up."""
    sim_env.configure(rpm=6000, latency_ms=100, latency_spread_ms=60)
    models = ["gemini-2.5-flash-lite", "bedrock-claude-haiku-4-5"]
    client = LLMClient(
        models, limits=RateLimits(rpm=6000), sampling=SamplingParams(max_new_tokens=32), progress=None, seed=5
    )
    results = client.run([f"question {i}" for i in range(800)])
    assert all(r.ok for r in results)
    assert sim_env.stats()["rate_limited"] == {} and client.tracker.rate_limited == 0


def test_the_harshest_world_half_second_windows_overload_spikes_and_two_clients_on_one_key(sim: Simulator) -> None:
    """Limits enforced over half a second, counted on arrival, answers overloaded in bursts,
    latency that varies, and two clients spraying two providers through one key's buckets."""
    sim.configure(
        rpm=6000,
        output_tpm=400_000,
        window_seconds=0.5,
        overload_spikes=0.05,
        overload_spike_seconds=0.3,
        latency_ms=50,
        latency_spread_ms=40,
    )
    limiter = InProcessLimiter()
    limits = {"openai": RateLimits(rpm=6000), "anthropic": RateLimits(rpm=6000, output_tpm=400_000)}
    retry = RetryPolicy(max_attempts=8, backoff_base=0.05)
    pair = [
        client_on(sim, ["gpt-4.1-mini", "claude-haiku-4-5"], limits=limits, limiter=limiter, retry=retry)
        for _ in range(2)
    ]

    async def both() -> list[list[APIResponse]]:
        return await asyncio.gather(
            *(c.run_async([f"{name} {i}" for i in range(400)]) for c, name in zip(pair, "ab", strict=True))
        )

    results = [r for batch in asyncio.run(both()) for r in batch]
    assert len(results) == 800 and all(r.ok for r in results)
    stats = sim.stats()
    assert stats["overload_spikes"] > 0
    assert sum(stats["rate_limited"].values()) <= 0.005 * stats["requests"]


def test_as_completed_takes_an_async_iterable_read_as_capacity_frees_up(sim: Simulator) -> None:
    client = client_on(sim, ["gpt-4.1-mini"], limits=RateLimits(max_concurrency=4))
    pulled = 0

    async def prompts() -> AsyncIterator[str]:
        nonlocal pulled
        for i in range(40):
            await asyncio.sleep(0)  # a real source awaits between items
            pulled += 1
            yield f"question {i}"

    async def consume() -> list[Completed]:
        seen = []
        async for done in client.as_completed(prompts(), total=40):
            assert pulled - len(seen) <= client.pending_limit + 1  # read no faster than prompts finish
            seen.append(done)
        return seen

    done = asyncio.run(consume())
    assert sorted(d.index for d in done) == list(range(40)) and all(d.response.ok for d in done)
    assert client.tracker.succeeded == 40 and sim.stats()["requests"] == 40


BREAK_EARLY = """
import asyncio, logging, sys
from cloudburst import LLMClient, SimConfig, Simulator

logging.basicConfig(level=logging.INFO, format="%(message)s")

async def main(sim):
    client = LLMClient("gpt-4.1-mini", base_urls=sim.base_urls(), api_keys={"openai": "k"}, progress=None)
    async for done in client.as_completed(f"question {i}" for i in range(5000)):
        break
    if sys.argv[1] == "wait":  # the program goes on: the job must not
        await asyncio.sleep(1.0)
        print("sent after the break", sim.stats()["requests"], flush=True)

with Simulator(SimConfig(latency_ms=300)) as sim:
    asyncio.run(main(sim))
    print("sent in all", sim.stats()["requests"], flush=True)
"""


@pytest.mark.parametrize("then", ["return", "wait"])
def test_breaking_out_of_as_completed_stops_the_job_and_closes_its_connections(then: str) -> None:
    done = subprocess.run([sys.executable, "-c", BREAK_EARLY, then], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Unclosed" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    sent = [int(line.split()[-1]) for line in done.stdout.splitlines()]
    assert len(set(sent)) == 1 and sent[0] < 1000  # nothing more sent once stopped; far from all 5,000
    summary = done.stderr
    assert "cancelled in flight" in summary and "taken from the input have no result" in summary
