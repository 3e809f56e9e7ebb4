"""Rate-limit headers in each provider's names, formats and units, resets included; absurd ones
on request; and one budget per API key, whoever spends it."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timezone

import httpx
import pytest

from cloudburst import Simulator
from tests.test_sim_windows import CALLS, call

INTEGER = re.compile(r"^\d+$")
GO_DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d{1,3})?s|\d+ms)$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
OPENAI_NAMES = {
    f"x-ratelimit-{kind}-{dim}" for kind in ("limit", "remaining", "reset") for dim in ("requests", "tokens")
}
ANTHROPIC_NAMES = {
    f"anthropic-ratelimit-{dim}-{kind}"
    for dim in ("requests", "tokens", "input-tokens", "output-tokens")
    for kind in ("limit", "remaining", "reset")
}
MISTRAL_NAMES = {f"x-ratelimit-{kind}-{dim}-minute" for kind in ("limit", "remaining") for dim in ("req", "tokens")}
NAMES = {"openai": OPENAI_NAMES, "anthropic": ANTHROPIC_NAMES, "mistral": MISTRAL_NAMES}


def limit_headers(answer: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in answer.headers.items() if "ratelimit" in name}


def test_openai_headers_are_integers_and_go_durations(sim: Simulator) -> None:
    sim.configure(rpm=600, tpm=60_000, window_seconds=60)
    with httpx.Client() as client:
        first, second = call(sim, "openai", client), call(sim, "openai", client)
    headers = limit_headers(second)
    assert set(headers) == OPENAI_NAMES
    assert headers["x-ratelimit-limit-requests"] == "600" and headers["x-ratelimit-limit-tokens"] == "60000"
    assert headers["x-ratelimit-remaining-requests"] == "598"
    assert all(INTEGER.match(headers[f"x-ratelimit-{kind}-tokens"]) for kind in ("limit", "remaining"))
    assert GO_DURATION.match(headers["x-ratelimit-reset-requests"]) and headers["x-ratelimit-reset-requests"].endswith(
        "ms"
    )  # two requests at 10 a second: 200ms to full
    assert GO_DURATION.match(headers["x-ratelimit-reset-tokens"])
    assert first.headers["x-ratelimit-remaining-requests"] == "599"


def test_anthropic_headers_are_rfc3339_and_thousands_and_tokens_are_input_and_output(sim: Simulator) -> None:
    sim.configure(rpm=50, input_tpm=30_000, output_tpm=8_000, window_seconds=60)
    with httpx.Client() as client:
        answer = call(sim, "anthropic", client, max_tokens=2_000)
    headers = limit_headers(answer)
    assert set(headers) == ANTHROPIC_NAMES
    assert headers["anthropic-ratelimit-requests-remaining"] == "49"
    assert headers["anthropic-ratelimit-tokens-limit"] == "38000"  # 30,000 input + 8,000 output
    assert headers["anthropic-ratelimit-input-tokens-remaining"] == "30000"  # a few used, to the thousand
    assert headers["anthropic-ratelimit-tokens-remaining"] == "38000"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for name in (n for n in headers if n.endswith("-reset")):
        assert RFC3339.match(headers[name])
        assert 0 <= (datetime.fromisoformat(headers[name].replace("Z", "+00:00")) - now).total_seconds() <= 3
    assert "retry-after" not in answer.headers


def test_mistral_headers_are_limit_and_remaining_per_minute_without_reset(sim: Simulator) -> None:
    sim.configure(rpm=60, tpm=500_000, window_seconds=60)
    with httpx.Client() as client:
        answer = call(sim, "mistral", client)
    headers = limit_headers(answer)
    assert set(headers) == MISTRAL_NAMES
    assert headers["x-ratelimit-limit-req-minute"] == "60" and headers["x-ratelimit-remaining-req-minute"] == "59"
    assert all(INTEGER.match(value) for value in headers.values())


@pytest.mark.parametrize(
    ("provider", "retry_after"),
    [
        ("openai", True),
        ("anthropic", True),
        ("mistral", True),
        ("gemini", False),
        ("cohere", False),
        ("bedrock", False),
    ],
)
def test_each_provider_sends_its_own_headers_on_a_429(sim: Simulator, provider: str, retry_after: bool) -> None:
    sim.configure(rpm=1, tpm=1_000_000, input_tpm=1_000_000, output_tpm=1_000_000, window_seconds=60)
    with httpx.Client() as client:
        ok, refused = call(sim, provider, client), call(sim, provider, client)
    assert ok.status_code == 200 and refused.status_code == 429
    names = NAMES.get(provider, set())
    assert set(limit_headers(ok)) == set(limit_headers(refused)) == names
    assert ("retry-after" in refused.headers) is retry_after and "retry-after" not in ok.headers
    if retry_after:
        assert INTEGER.match(refused.headers["retry-after"]) and 55 <= int(refused.headers["retry-after"]) <= 60
    if provider == "openai":
        assert 59_000 <= int(refused.headers["retry-after-ms"]) <= 60_000
    if provider == "gemini":
        details = refused.json()["error"]["details"]
        assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "60s"} in details


@pytest.mark.parametrize("provider", ["openai", "anthropic", "mistral"])
def test_absurd_headers_replace_the_real_ones_and_limits_still_hold(sim: Simulator, provider: str) -> None:
    sim.configure(rpm=2, window_seconds=60, absurd_headers=True)
    with httpx.Client() as client:
        answers = [call(sim, provider, client) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    seen = [limit_headers(a) for a in answers]
    assert all(set(headers) == NAMES[provider] for headers in seen)
    values = {value for headers in seen for value in headers.values()}
    assert {"-1000000000", "0.01", "unlimited", "NaN"} <= values
    resets = {value for headers in seen for name, value in headers.items() if "reset" in name.split("-")}
    assert provider == "mistral" or resets & {"876000h0m0s", "2199-12-31T23:59:59Z", "-3s", "1970-01-01T00:00:00Z"}
    assert answers[2].headers["retry-after"] in {"31536000", "-1", "later"}


def test_absurd_headers_leave_providers_without_limit_headers_without(sim: Simulator) -> None:
    sim.configure(rpm=10, absurd_headers=True)
    with httpx.Client() as client:
        answers = [call(sim, provider, client) for provider in ("gemini", "cohere", "bedrock")]
    assert all(a.status_code == 200 and not limit_headers(a) for a in answers)


SCRIPT = """
import sys, httpx
url, path, key = sys.argv[1:]
body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
print(httpx.post(url + path, json=body, headers={"Authorization": "Bearer " + key}).status_code)
"""


def test_one_budget_per_key_shared_by_every_connection_and_process(sim: Simulator) -> None:
    sim.configure(rpm=5, window_seconds=60)
    path = CALLS["openai"][0]

    def other_process(key: str) -> int:
        done = subprocess.run([sys.executable, "-c", SCRIPT, sim.url, path, key], capture_output=True, text=True)
        return int(done.stdout)

    with httpx.Client() as first, httpx.Client() as second:
        statuses = [call(sim, "openai", first).status_code, call(sim, "openai", second).status_code]
        statuses += [other_process("sk-one"), call(sim, "openai", first).status_code]
        statuses += [call(sim, "openai", second).status_code, other_process("sk-one")]
        assert statuses == [200] * 5 + [429]
        assert other_process("sk-two") == 200
        assert call(sim, "openai", second).headers["x-ratelimit-remaining-requests"] == "0"
