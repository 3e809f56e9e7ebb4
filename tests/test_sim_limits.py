"""The simulator's rate limits: each kind refuses when configured and only then, answering 429
with the provider's body and headers, and reporting its buckets on every answer."""

from __future__ import annotations

import re
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
DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$")


def chat(sim: Simulator, headers: dict[str, str] = OPENAI, model: str = "gpt-4o-mini", **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "Hello there"}], **extra}
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
    sim.configure(rpm=3)
    answers = [chat(sim) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers[:3]] == ["2", "1", "0"]
    assert all(a.headers["x-ratelimit-limit-requests"] == "3" for a in answers)
    assert all(DURATION.match(a.headers["x-ratelimit-reset-requests"]) for a in answers)
    refused = answers[3]
    error = refused.json()["error"]
    assert set(refused.json()) == {"error"} and set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "requests" and error["code"] == "rate_limit_exceeded"
    assert "requests per min (RPM): Limit 3" in error["message"]
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
    sim.configure(tpm=100)
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
    sim.configure(rpm=2)
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
    sim.configure(input_tpm=5)
    first = message(sim)
    assert first.status_code == 200 and first.headers["anthropic-ratelimit-input-tokens-limit"] == "5"
    assert "anthropic-ratelimit-output-tokens-limit" not in first.headers
    assert first.headers["anthropic-ratelimit-tokens-limit"] == "5"
    statuses = [message(sim).status_code for _ in range(3)]
    assert 429 in statuses
    assert sim.stats()["rate_limited"] == {"input_tokens": statuses.count(429)}


def test_anthropic_output_tokens_reserve_max_tokens_then_refund_the_unused(sim: Simulator) -> None:
    sim.configure(output_tpm=100)
    first = message(sim, max_tokens=80)
    assert first.status_code == 200
    used = first.json()["usage"]["output_tokens"]
    remaining = int(first.headers["anthropic-ratelimit-output-tokens-remaining"])
    assert 100 - used <= remaining <= 100 - used + 1  # refilled a little meanwhile
    assert first.headers["anthropic-ratelimit-tokens-remaining"] == str(remaining)
    refused = message(sim, max_tokens=101)
    assert refused.status_code == 429 and "output tokens per minute" in refused.json()["error"]["message"]
    assert sim.stats()["rate_limited"] == {"output_tokens": 1}


@pytest.mark.parametrize("limit", ["rpm", "tpm"])
def test_an_openai_limit_leaves_anthropic_requests_alone_unless_shared(sim: Simulator, limit: str) -> None:
    sim.configure(**{limit: 1 if limit == "rpm" else 1000})
    assert chat(sim).status_code == 200
    statuses = {message(sim).status_code for _ in range(2)}
    assert statuses == ({200, 429} if limit == "rpm" else {200})
