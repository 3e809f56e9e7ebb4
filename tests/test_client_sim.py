"""LLMClient end to end against the provider simulator over real loopback sockets: limits held
without a 429, faults survived with every prompt accounted for exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter

from cloudburst import SamplingParams
from cloudburst._client import LLMClient
from cloudburst._config import RateLimits, RetryPolicy, Timeouts
from cloudburst._errors import ProviderError
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
    sim.configure(rpm=300, input_tpm=1_000_000, output_tpm=1_000_000, window_seconds=60)
    client = client_on(
        sim,
        ["gpt-4.1-mini", "claude-haiku-4-5"],
        limits={
            "openai": RateLimits(rpm=300),
            "anthropic": RateLimits(rpm=300, input_tpm=1_000_000, output_tpm=1_000_000),
        },
    )
    results = client.run([f"question {i}" for i in range(640)])  # past both buckets' first minute
    assert all(r.ok for r in results)
    stats = sim.stats()
    assert stats["rate_limited"] == {}
    assert stats["requests"] == 640 == client.tracker.attempts
    assert client.tracker.rate_limited == 0


def test_limits_the_client_was_not_given_are_learned_from_the_headers(sim: Simulator) -> None:
    sim.configure(rpm=600, window_seconds=60)
    client = client_on(sim, ["gpt-4.1-mini"], retry=RetryPolicy(backoff_base=0.01))
    assert all(r.ok for r in client.run([f"q{i}" for i in range(610)]))
    bucket = client.limiter.buckets["openai/gpt-4.1-mini"]  # type: ignore[attr-defined]
    assert bucket.requests is not None and bucket.requests.capacity == 600
    # the first minute's budget is spent; the next prompts wait for it instead of hitting 429s
    assert all(r.ok for r in client.run([f"again {i}" for i in range(15)]))
    assert client.tracker.rate_limited == 0


def test_under_faults_every_prompt_ends_once_with_a_response_or_a_typed_error(sim: Simulator) -> None:
    sim.configure(faults=SimConfig.spread_faults(0.15), hang_s=2.0)
    client = client_on(
        sim,
        ["gpt-4.1-mini", "claude-haiku-4-5"],
        timeouts=Timeouts(connect=1.0, read=0.2, total=1.0),
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


def test_providers_without_limit_headers_get_no_429_either(sim_env: Simulator) -> None:
    """Nothing to resync from: the client's own bucket must not run ahead of the provider's,
    whose first request arrives after connections are set up."""
    sim_env.configure(rpm=300, latency_ms=100, window_seconds=60)
    models = ["gemini-2.5-flash-lite", "bedrock-claude-haiku-4-5"]
    client = LLMClient(
        models, limits=RateLimits(rpm=300), sampling=SamplingParams(max_new_tokens=32), progress=None, seed=5
    )
    results = client.run([f"question {i}" for i in range(680)])  # past both buckets' first minute
    assert all(r.ok for r in results)
    assert sim_env.stats()["rate_limited"] == {} and client.tracker.rate_limited == 0
