"""Limits enforced over short windows, as OpenAI and Anthropic say they may enforce them: a
burst is cut off at a window's share of the minute with the provider's own 429, an even pace at
the limit never is, and a full-minute window lets the whole minute's budget burst."""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from cloudburst import Simulator

HELLO = [{"role": "user", "content": "Hello"}]
CALLS: dict[str, tuple[str, dict[str, str], dict[str, Any]]] = {
    "openai": (
        "/v1/chat/completions",
        {"Authorization": "Bearer sk-one"},
        {"model": "gpt-4o-mini", "messages": HELLO},
    ),
    "anthropic": (
        "/v1/messages",
        {"x-api-key": "sk-ant-one", "anthropic-version": "2023-06-01"},
        {"model": "claude-haiku-4-5", "max_tokens": 20, "messages": HELLO},
    ),
    "gemini": (
        "/v1beta/models/gemini-2.5-flash:generateContent",
        {"x-goog-api-key": "AIza-one"},
        {"contents": [{"parts": [{"text": "Hello"}]}]},
    ),
    "mistral": (
        "/mistral/v1/chat/completions",
        {"Authorization": "Bearer mistral-one"},
        {"model": "mistral-small-latest", "messages": HELLO},
    ),
    "cohere": ("/v2/chat", {"Authorization": "Bearer cohere-one"}, {"model": "command-a-03-2025", "messages": HELLO}),
    "bedrock": (
        "/model/anthropic.claude-3-haiku-20240307-v1:0/converse",
        {"Authorization": "Bearer ABSK-one"},
        {"messages": [{"role": "user", "content": [{"text": "Hello"}]}]},
    ),
}
VOLATILE = {"x-request-id", "request-id", "x-amzn-requestid", "mistral-correlation-id", "date", "content-length"}


def call(sim: Simulator, provider: str, client: httpx.Client, **extra: Any) -> httpx.Response:
    path, headers, body = CALLS[provider]
    return client.post(sim.url + path, json={**body, **extra}, headers=headers)


def burst(sim: Simulator, provider: str, n: int) -> tuple[list[httpx.Response], float]:
    """`n` requests at once on `n` connections; the answers and the seconds the burst took."""
    path, headers, body = CALLS[provider]

    async def send() -> tuple[list[httpx.Response], float]:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=n), timeout=30) as client:
            started = time.monotonic()
            answers = await asyncio.gather(*(client.post(sim.url + path, json=body, headers=headers) for _ in range(n)))
            return list(answers), time.monotonic() - started

    return asyncio.run(send())


def shape(answer: httpx.Response) -> tuple[int, str, frozenset[str]]:
    """The status, the body with its numbers blanked and the header names: what a 429 looks
    like whatever the limit and the wait."""
    body = re.sub(r"\d[\d.,hms]*", "N", answer.text)
    return answer.status_code, body, frozenset(answer.headers) - VOLATILE


@pytest.mark.parametrize("provider", sorted(CALLS))
def test_a_burst_gets_a_windows_share_and_the_rest_the_providers_own_429(sim: Simulator, provider: str) -> None:
    sim.configure(rpm=1, window_seconds=60)
    with httpx.Client() as client:
        minute_429 = [call(sim, provider, client) for _ in range(2)][1]
    assert minute_429.status_code == 429
    sim.configure(rpm=6000, window_seconds=1.0)  # 100 a second
    answers, took = burst(sim, provider, 150)
    admitted = sum(a.status_code == 200 for a in answers)
    assert 100 <= admitted <= 100 + took * 100 + 1  # a second's share, and what refilled meanwhile
    refused = [a for a in answers if a.status_code != 200]
    assert len(refused) == 150 - admitted and {shape(a) for a in refused} == {shape(minute_429)}
    assert sim.stats()["rate_limited"] == {"requests": len(refused) + 1}  # and the minute_429


def test_a_window_429_says_what_the_minute_shows_and_how_long_the_window_needs(sim: Simulator) -> None:
    sim.configure(rpm=6000)
    answers, took = burst(sim, "openai", 150)
    refused = next(a for a in answers if a.status_code == 429)
    remaining = int(refused.headers["x-ratelimit-remaining-requests"])
    assert 5800 <= remaining <= 5900 + took * 100 + 1  # the minute is far from spent; it refills meanwhile
    message = refused.json()["error"]["message"]
    used = int(re.search(r"Used (\d+),", message).group(1))  # type: ignore[union-attr]
    assert 100 <= used <= 200 and "Limit 6000" in message and re.search(r"try again in \d+ms\.", message)
    assert refused.headers["retry-after"] == "1" and 0 < int(refused.headers["retry-after-ms"]) <= 20


def test_an_even_pace_at_the_limit_is_never_refused(sim: Simulator) -> None:
    sim.configure(rpm=6000)
    statuses = []
    with httpx.Client() as client:
        started = time.monotonic()
        for i in range(300):  # 100 a second for 3 s; a late request only catches up to the schedule
            time.sleep(max(0.0, started + i / 100 - time.monotonic()))
            statuses.append(call(sim, "openai", client).status_code)
    assert statuses == [200] * 300 and sim.stats()["rate_limited"] == {}


def test_a_full_minute_window_lets_the_whole_minutes_budget_burst(sim: Simulator) -> None:
    sim.configure(rpm=200, window_seconds=60)
    answers, took = burst(sim, "anthropic", 210)
    admitted = sum(a.status_code == 200 for a in answers)
    assert 200 <= admitted <= 200 + took * 200 / 60 + 1


def test_one_request_bigger_than_a_windows_tokens_passes_then_the_window_is_in_debt(sim: Simulator) -> None:
    sim.configure(tpm=6000)  # 100 tokens a second
    with httpx.Client() as client:
        big = call(sim, "openai", client, max_completion_tokens=500)
        sent = time.monotonic()
        assert big.status_code == 200
        assert 5490 <= int(big.headers["x-ratelimit-remaining-tokens"]) < 5500
        small = call(sim, "openai", client, max_completion_tokens=5)
        refilled = (time.monotonic() - sent) * 100  # the minute refills while the second is sent
        assert small.status_code == 429 and small.json()["error"]["type"] == "tokens"
        used = re.search(r"tokens per min \(TPM\): Limit 6000, Used (\d+),", small.json()["error"]["message"])
        assert used is not None and 500 - refilled - 1 <= int(used.group(1)) <= 510
        assert 4 <= int(small.headers["retry-after"]) <= 6  # ~400 tokens of debt at 100 a second
        too_large = call(sim, "openai", client, max_completion_tokens=7000)
        assert too_large.status_code == 429 and "Request too large" in too_large.json()["error"]["message"]


def test_anthropic_output_tokens_bigger_than_a_windows_share_pass_when_the_window_is_whole(sim: Simulator) -> None:
    sim.configure(output_tpm=8000, latency_ms=1000)  # Tier 1: 133 a second
    with httpx.Client() as client, ThreadPoolExecutor(1) as pool:
        first = pool.submit(call, sim, "anthropic", httpx.Client(), max_tokens=4000)
        while sim.stats()["in_flight"] == 0:
            time.sleep(0.01)
        time.sleep(0.2)  # its max_tokens taken on arrival (well within its second of latency)
        while_it_runs = call(sim, "anthropic", client, max_tokens=20)
        assert first.result().status_code == 200 and while_it_runs.status_code == 429
        assert "8,000 output tokens per minute" in while_it_runs.json()["error"]["message"]
        assert int(while_it_runs.headers["retry-after"]) >= 25  # ~3,870 tokens of debt at 133 a second
        assert call(sim, "anthropic", client, max_tokens=20).status_code == 200  # the unused 3,980 came back
