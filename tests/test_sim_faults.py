"""The simulator's faults, auth and validation errors: each is produced when configured and
only then, in the provider's own shape, and cloudburst classifies each correctly."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

import cloudburst
from cloudburst import (
    AuthError,
    InvalidRequestError,
    InvalidResponseError,
    OverloadedError,
    ServerError,
    Simulator,
)
from tests.test_sim_windows import call

OPENAI = {"Authorization": "Bearer sk-one"}
HTTP = httpx.Client()
"""One keep-alive client for the module: a fresh connection per request would dominate the run."""
ANTHROPIC = {"x-api-key": "sk-ant-one", "anthropic-version": "2023-06-01"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}], "max_completion_tokens": 20}
MESSAGE = {"model": "claude-haiku-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "Hello"}]}


def post(
    sim: Simulator, provider: str, body: Any = None, headers: dict[str, str] | None = None, **kw: Any
) -> httpx.Response:
    if provider == "openai":
        return HTTP.post(
            f"{sim.url}/v1/chat/completions", json=body or CHAT, headers=OPENAI if headers is None else headers, **kw
        )
    return HTTP.post(
        f"{sim.url}/v1/messages", json=body or MESSAGE, headers=ANTHROPIC if headers is None else headers, **kw
    )


def model_of(provider: str) -> str:
    return "gpt-4o-mini" if provider == "openai" else "claude-haiku-4-5"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_no_faults_unless_configured(sim: Simulator, provider: str) -> None:
    assert {post(sim, provider).status_code for _ in range(40)} == {200}
    assert sim.stats()["faults"] == {}


@pytest.mark.parametrize(
    ("provider", "kind", "status", "error_type", "error"),
    [
        ("openai", "500", 500, "server_error", ServerError),
        ("openai", "503", 503, "server_error", OverloadedError),
        ("anthropic", "500", 500, "api_error", ServerError),
        ("anthropic", "503", 529, "overloaded_error", OverloadedError),
    ],
)
def test_server_faults_answer_like_the_provider(
    sim: Simulator, provider: str, kind: str, status: int, error_type: str, error: type
) -> None:
    sim.configure(faults={kind: 1.0})
    answer = post(sim, provider)
    assert answer.status_code == status
    assert answer.json()["error"]["type"] == error_type
    assert isinstance(cloudburst.parse(model_of(provider), status, answer.headers, answer.content).error, error)
    assert sim.stats()["faults"] == {kind: 1}


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
def test_broken_bodies_are_200s_that_do_not_parse(sim: Simulator, kind: str) -> None:
    sim.configure(faults={kind: 1.0})
    for provider in ("openai", "anthropic"):
        answer = post(sim, provider)
        assert answer.status_code == 200 and answer.content.startswith(b"{")
        with pytest.raises(ValueError):
            answer.json()
        parsed = cloudburst.parse(model_of(provider), 200, answer.headers, answer.content)
        assert isinstance(parsed.error, InvalidResponseError)
    assert sim.stats()["faults"] == {kind: 2}
    assert sim.stats()["statuses"] == {"200": 2}


def test_reset_drops_the_connection_mid_body(sim: Simulator) -> None:
    sim.configure(faults={"reset": 1.0})
    with pytest.raises(httpx.RemoteProtocolError):
        post(sim, "openai")
    stats = sim.stats()
    assert stats["faults"] == {"reset": 1} and stats["statuses"] == {} and stats["in_flight"] == 0


def test_hang_outlasts_the_client_timeout_then_closes(sim: Simulator) -> None:
    sim.configure(faults={"hang": 1.0}, hang_s=1.0)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        post(sim, "anthropic", timeout=0.1)
    assert time.monotonic() - started < 1.0  # the client gave up; the server still hangs
    with pytest.raises(httpx.RemoteProtocolError):
        post(sim, "anthropic", timeout=2)  # the server closes without an answer after hang_s
    assert sim.stats()["faults"] == {"hang": 2}


def test_seeded_faults_repeat_after_a_reset(sim: Simulator) -> None:
    sim.configure(faults={"500": 0.3, "503": 0.2}, seed=7)
    first = [post(sim, "openai").status_code for _ in range(30)]
    sim.reset()
    second = [post(sim, "openai").status_code for _ in range(30)]
    assert first == second and {200, 500, 503} == set(first)
    assert sum(sim.stats()["faults"].values()) == 30 - first.count(200)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_bad_or_missing_key_is_401(sim: Simulator, provider: str) -> None:
    sim.configure(keys=frozenset({"sk-one", "sk-ant-one"}))
    assert post(sim, provider).status_code == 200
    wrong = {"Authorization": "Bearer sk-nope"} if provider == "openai" else {**ANTHROPIC, "x-api-key": "sk-nope"}
    missing = {} if provider == "openai" else {"anthropic-version": "2023-06-01"}
    for headers in (wrong, missing):
        answer = post(sim, provider, headers=headers)
        assert answer.status_code == 401
        parsed = cloudburst.parse(model_of(provider), 401, answer.headers, answer.content)
        assert isinstance(parsed.error, AuthError)
    assert post(sim, "openai", headers=wrong if provider == "openai" else {"Authorization": "Bearer sk-nope"}).json()[
        "error"
    ]["code"] in ("invalid_api_key", None)


def test_openai_invalid_request_is_400_naming_the_parameter(sim: Simulator) -> None:
    answer = post(sim, "openai", {"model": "gpt-4o-mini", "messages": [{"role": "user"}]})
    assert answer.status_code == 400
    assert answer.json() == {
        "error": {
            "message": "Missing required parameter: 'messages[0].content'.",
            "type": "invalid_request_error",
            "param": "messages[0].content",
            "code": "missing_required_parameter",
        }
    }
    unknown = post(sim, "openai", {**CHAT, "bogus": 1})
    assert unknown.json()["error"]["param"] == "bogus" and unknown.json()["error"]["code"] == "unknown_parameter"
    parsed = cloudburst.parse("gpt-4o-mini", 400, answer.headers, answer.content)
    assert isinstance(parsed.error, InvalidRequestError)
    not_json = HTTP.post(f"{sim.url}/v1/chat/completions", content=b"{", headers=OPENAI)
    assert not_json.status_code == 400 and not_json.json()["error"]["type"] == "invalid_request_error"


def test_anthropic_invalid_request_is_400_in_its_shape(sim: Simulator) -> None:
    answer = post(sim, "anthropic", {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 400
    assert answer.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
    }
    thinking = post(
        sim, "anthropic", {**MESSAGE, "max_tokens": 1024, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    )
    assert "budget_tokens" in thinking.json()["error"]["message"]
    no_version = post(sim, "anthropic", headers={"x-api-key": "k"})
    assert no_version.status_code == 400 and "anthropic-version" in no_version.json()["error"]["message"]
    parsed = cloudburst.parse("claude-haiku-4-5", 400, answer.headers, answer.content)
    assert isinstance(parsed.error, InvalidRequestError)


def test_unknown_routes_are_404_in_each_shape(sim: Simulator) -> None:
    openai_404 = HTTP.get(f"{sim.url}/v1/nothing", headers=OPENAI)
    assert openai_404.status_code == 404 and openai_404.json()["error"]["message"] == "Invalid URL (GET /v1/nothing)"
    anthropic_404 = HTTP.get(f"{sim.url}/v1/nothing", headers=ANTHROPIC)
    assert anthropic_404.status_code == 404 and anthropic_404.json()["error"]["type"] == "not_found_error"


async def _concurrently(sim: Simulator, count: int) -> float:
    started = time.monotonic()
    async with httpx.AsyncClient() as client:
        answers = await asyncio.gather(
            *(client.post(f"{sim.url}/v1/chat/completions", json=CHAT, headers=OPENAI) for _ in range(count))
        )
    assert {answer.status_code for answer in answers} == {200}
    return time.monotonic() - started


def test_latency_overlaps_across_concurrent_requests_and_peak_in_flight_counts_them(sim: Simulator) -> None:
    sim.configure(latency_ms=100)
    elapsed = asyncio.run(_concurrently(sim, 10))
    assert 0.1 <= elapsed < 0.9  # one after another they would take 1 s
    stats = sim.stats()
    assert stats["peak_in_flight"] == 10 and stats["in_flight"] == 0 and stats["requests"] == 10


def test_latency_spread_varies_around_the_mean(sim: Simulator) -> None:
    sim.configure(latency_ms=20, latency_spread_ms=10)
    durations = []
    for _ in range(8):
        started = time.monotonic()
        post(sim, "openai")
        durations.append(time.monotonic() - started)
    assert max(durations) - min(durations) > 0.003 and 0.01 < sum(durations) / len(durations) < 0.5


def test_stats_count_statuses_and_tokens_and_reset_zeroes_them(sim: Simulator) -> None:
    ok = post(sim, "openai")
    post(sim, "anthropic", {"model": "x"})
    stats = HTTP.get(f"{sim.url}/_sim/stats").json()
    usage = ok.json()["usage"]
    assert stats["requests"] == 2 and stats["statuses"] == {"200": 1, "400": 1}
    assert stats["tokens"] == {"input": usage["prompt_tokens"], "output": usage["completion_tokens"]}
    assert stats == sim.stats()
    assert HTTP.post(f"{sim.url}/_sim/reset").status_code == 200
    assert sim.stats()["requests"] == 0 and sim.stats()["statuses"] == {}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_same_request_gets_the_same_bytes(sim: Simulator, provider: str) -> None:
    first, second = post(sim, provider), post(sim, provider)
    assert first.content == second.content
    other = post(sim, provider, {**(CHAT if provider == "openai" else MESSAGE), "model": "other-model"})
    assert other.json()["id"] != first.json()["id"]


def test_cloudburst_parses_the_simulators_answers(sim: Simulator) -> None:
    for provider in ("openai", "anthropic"):
        answer = post(sim, provider)
        parsed = cloudburst.parse(model_of(provider), 200, answer.headers, answer.content)
        assert parsed.error is None and parsed.completion and parsed.finish_reason == "length"
        assert parsed.usage.output_tokens == 20 and parsed.request_id and parsed.request_id.startswith("req_")
    rendered = cloudburst.render(
        "claude-haiku-4-5", "Use get_weather", cloudburst.SamplingParams(thinking_budget=1024, max_new_tokens=2000)
    )
    answer = HTTP.post(f"{sim.url}/v1/messages", json=rendered.body, headers=ANTHROPIC)
    parsed = cloudburst.parse("claude-haiku-4-5", answer.status_code, answer.headers, answer.content)
    assert parsed.error is None and parsed.thoughts and parsed.thoughts[0].signature


@pytest.mark.parametrize(
    ("provider", "model", "status", "kind"),
    [
        ("openai", "gpt-4o-mini", 503, "server_error"),
        ("anthropic", "claude-haiku-4-5", 529, "overloaded_error"),
        ("gemini", "gemini-2.5-flash", 503, "UNAVAILABLE"),
        ("bedrock", "bedrock-claude-haiku-4-5", 503, "ServiceUnavailableException"),
    ],
)
def test_in_an_overload_spike_every_request_gets_the_providers_overloaded_answer(
    sim: Simulator, provider: str, model: str, status: int, kind: str
) -> None:
    sim.configure(overload_spikes=1.0)
    with httpx.Client() as client:
        answers = [call(sim, provider, client) for _ in range(5)]
    assert {a.status_code for a in answers} == {status}
    assert kind in answers[0].text or kind in answers[0].headers.get("x-amzn-ErrorType", "")
    assert isinstance(cloudburst.parse(model, status, answers[0].headers, answers[0].content).error, OverloadedError)
    assert sim.stats()["overload_spikes"] == 5 and sim.stats()["faults"] == {}


def test_overload_spikes_come_in_runs_of_their_length_for_their_share_of_time(sim: Simulator) -> None:
    sim.configure(overload_spikes=0.3, overload_spike_seconds=0.25, seed=4)
    seen: list[tuple[float, bool]] = []
    with httpx.Client() as client:
        started = time.monotonic()
        while time.monotonic() - started < 4:
            answer = call(sim, "openai", client)
            seen.append((time.monotonic(), answer.status_code == 503))
            time.sleep(0.005)
    overloaded = [at for at, spiked in seen if spiked]
    assert 0.15 <= len(overloaded) / len(seen) <= 0.45
    runs: list[list[float]] = []
    before = False
    for at, spiked in seen:
        if spiked and before:
            runs[-1].append(at)
        elif spiked:
            runs.append([at])
        before = spiked
    assert len(runs) >= 3 and all(run[-1] - run[0] <= 0.55 for run in runs)  # one spike, or two that touch
    assert max(run[-1] - run[0] for run in runs) >= 0.15
    assert sim.stats()["overload_spikes"] == len(overloaded)
