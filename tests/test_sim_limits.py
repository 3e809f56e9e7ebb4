"""The simulator's rate limits over a full minute (`window_seconds=60`): each kind refuses when
configured and only then, answering 429 with the provider's body and headers, reporting its
minute buckets on every answer, counting requests on arrival. Short windows: test_sim_windows."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

import cloudburst
from cloudburst import RateLimitedError, Simulator

OPENAI = {"Authorization": "Bearer sk-one"}
HTTP = httpx.Client()
"""One keep-alive client for the module: a fresh connection per request would dominate the run."""
ANTHROPIC = {"x-api-key": "sk-ant-one", "anthropic-version": "2023-06-01"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}]}
DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$")


def chat(sim: Simulator, headers: dict[str, str] = OPENAI, model: str = "gpt-4o-mini", **extra: Any) -> httpx.Response:
    body = {**CHAT, "model": model, **extra}
    return HTTP.post(f"{sim.url}/v1/chat/completions", json=body, headers=headers)


def message(sim: Simulator, max_tokens: int = 50, headers: dict[str, str] = ANTHROPIC) -> httpx.Response:
    body = {"model": "claude-haiku-4-5", "max_tokens": max_tokens, "messages": [{"role": "user", "content": "Hello"}]}
    return HTTP.post(f"{sim.url}/v1/messages", json=body, headers=headers)


def test_no_limits_means_no_429_and_no_limit_headers(sim: Simulator) -> None:
    answers = [chat(sim) for _ in range(30)] + [message(sim) for _ in range(30)]
    assert {answer.status_code for answer in answers} == {200}
    assert not any(name.startswith(("x-ratelimit", "anthropic-ratelimit")) for a in answers for name in a.headers)
    assert sim.stats()["rate_limited"] == {}


def test_openai_requests_per_minute(sim: Simulator) -> None:
    sim.configure(rpm=3, window_seconds=60)
    answers = [chat(sim) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers[:3]] == ["2", "1", "0"]
    assert all(a.headers["x-ratelimit-limit-requests"] == "3" for a in answers)
    assert all(DURATION.match(a.headers["x-ratelimit-reset-requests"]) for a in answers)
    refused = answers[3]
    error = refused.json()["error"]
    assert set(refused.json()) == {"error"} and set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "requests" and error["code"] == "rate_limit_exceeded"
    assert "requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in " in error["message"]
    assert int(refused.headers["retry-after"]) >= 1 and 0 < int(refused.headers["retry-after-ms"]) <= 20_000
    assert sim.stats()["rate_limited"] == {"requests": 1}
    parsed = cloudburst.parse("gpt-4o-mini", refused.status_code, refused.headers, refused.content)
    assert isinstance(parsed.error, RateLimitedError)


def test_openai_limits_are_per_key_and_per_model(sim: Simulator) -> None:
    sim.configure(rpm=1)
    assert chat(sim).status_code == 200
    assert chat(sim).status_code == 429
    assert chat(sim, headers={"Authorization": "Bearer sk-two"}).status_code == 200
    assert chat(sim, model="gpt-4.1-mini").status_code == 200


def test_openai_tokens_per_minute_count_the_prompt_and_max_tokens(sim: Simulator) -> None:
    sim.configure(tpm=100, window_seconds=60)
    first = chat(sim, max_completion_tokens=60)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-tokens"] == "100"
    assert 30 <= int(first.headers["x-ratelimit-remaining-tokens"]) < 40
    second = chat(sim, max_completion_tokens=60)
    assert second.status_code == 429 and second.json()["error"]["type"] == "tokens"
    assert chat(sim, max_completion_tokens=5).status_code == 200
    too_large = chat(sim, max_completion_tokens=500)
    assert too_large.status_code == 429 and "Request too large" in too_large.json()["error"]["message"]
    assert sim.stats()["rate_limited"] == {"tokens": 2}


def test_anthropic_requests_per_minute(sim: Simulator) -> None:
    sim.configure(rpm=2, window_seconds=60)
    answers = [message(sim) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["anthropic-ratelimit-requests-remaining"] for a in answers[:2]] == ["1", "0"]
    reset = datetime.strptime(answers[0].headers["anthropic-ratelimit-requests-reset"], "%Y-%m-%dT%H:%M:%SZ")
    assert reset.replace(tzinfo=timezone.utc) >= datetime.now(timezone.utc).replace(microsecond=0)
    body = answers[2].json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error" and set(body) == {"type", "error"}
    assert "2 requests per minute" in body["error"]["message"]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert sim.stats()["rate_limited"] == {"requests": 1}
    parsed = cloudburst.parse("claude-haiku-4-5", 429, answers[2].headers, answers[2].content)
    assert isinstance(parsed.error, RateLimitedError)


def test_anthropic_input_tokens_per_minute(sim: Simulator) -> None:
    sim.configure(input_tpm=5, window_seconds=60)
    first = message(sim)
    assert first.status_code == 200 and first.headers["anthropic-ratelimit-input-tokens-limit"] == "5"
    assert "anthropic-ratelimit-output-tokens-limit" not in first.headers
    assert first.headers["anthropic-ratelimit-tokens-limit"] == "5"
    statuses = [message(sim).status_code for _ in range(3)]
    assert 429 in statuses
    assert sim.stats()["rate_limited"] == {"input_tokens": statuses.count(429)}


def test_anthropic_output_tokens_reserve_max_tokens_on_arrival_then_refund_the_unused(sim: Simulator) -> None:
    sim.configure(output_tpm=10_000, window_seconds=60, latency_ms=300)
    with ThreadPoolExecutor(2) as pool:
        in_flight = pool.submit(message, sim, 8_000)
        while sim.stats()["in_flight"] == 0:
            time.sleep(0.01)
        time.sleep(0.05)  # its body read and its tokens taken
        refused = message(sim, max_tokens=8_000)  # the first one's 8,000 are taken while it runs
        first = in_flight.result()
    assert first.status_code == 200 and refused.status_code == 429
    assert "10,000 output tokens per minute" in refused.json()["error"]["message"]
    assert first.json()["usage"]["output_tokens"] < 100
    assert first.headers["anthropic-ratelimit-output-tokens-remaining"] == "10000"  # refunded, to the thousand
    assert [message(sim, max_tokens=8_000).status_code for _ in range(3)] == [200] * 3  # each refunded in turn
    assert message(sim, max_tokens=10_001).status_code == 429
    assert sim.stats()["rate_limited"] == {"output_tokens": 2}


def test_requests_count_on_arrival_so_answers_in_flight_report_each_other(sim: Simulator) -> None:
    sim.configure(rpm=10, window_seconds=60, latency_ms=300)
    with ThreadPoolExecutor(3) as pool:
        answers = list(
            pool.map(lambda _: httpx.post(f"{sim.url}/v1/chat/completions", json=CHAT, headers=OPENAI), range(3))
        )
    assert [a.status_code for a in answers] == [200] * 3
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["7"] * 3


@pytest.mark.parametrize("limit", ["rpm", "tpm"])
def test_an_openai_limit_leaves_anthropic_requests_alone_unless_shared(sim: Simulator, limit: str) -> None:
    sim.configure(**{limit: 1 if limit == "rpm" else 1000})
    assert chat(sim).status_code == 200
    statuses = {message(sim).status_code for _ in range(2)}
    assert statuses == ({200, 429} if limit == "rpm" else {200})
