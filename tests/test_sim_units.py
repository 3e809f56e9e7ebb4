"""The simulator's parts on their own: config checks, JSON from schemas, token buckets and
header formats, the words it writes, its CLI, and how it is found from cloudburst."""

from __future__ import annotations

import argparse
import random
import subprocess
import sys

import httpx
import pytest

import cloudburst
from cloudburst import SimConfig, Simulator
from cloudburst._sim.answers import prose
from cloudburst._sim.cli import add_sim_command, config_from_args
from cloudburst._sim.limits import Cost, RateLimiter, TokenBucket, go_duration, rfc3339
from cloudburst._sim.schema import value_for
from cloudburst._sim.spikes import in_spike
from cloudburst._sim.words import WORDS
from cloudburst._tokens import count_text


@pytest.mark.parametrize(
    "changes",
    [
        {"rpm": 0},
        {"faults": {"boom": 0.1}},
        {"faults": {"500": 0.7, "503": 0.6}},
        {"batch_error_fraction": 2.0},
        {"hang_s": -1},
        {"window_seconds": 0},
        {"window_seconds": 61},
        {"overload_spikes": 1.5},
        {"overload_spike_seconds": 0},
    ],
)
def test_config_rejects_nonsense(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SimConfig(**changes)  # type: ignore[arg-type]


def test_fault_rate_is_shared_among_the_kinds() -> None:
    assert SimConfig.spread_faults(0.3, ["500", "hang", "500"]) == {"500": 0.15, "hang": 0.15}
    assert SimConfig.spread_faults(0.0) == {}


def test_schema_values_follow_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tree": {"$ref": "#/definitions/node"},
            "choice": {"oneOf": [{"const": 3}, {"const": 4}]},
            "level": {"type": "integer", "exclusiveMinimum": 5, "exclusiveMaximum": 8},
            "when": {"type": "string", "format": "date"},
            "short": {"type": "string", "maxLength": 3},
            "either": {"type": ["null", "boolean"]},
            "merged": {"allOf": [{"properties": {"a": {"type": "integer"}}}, {"properties": {"b": {"type": "null"}}}]},
        },
        "required": ["tree"],
        "definitions": {
            "node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/definitions/node"}},
                },
                "required": ["name", "children"],
            }
        },
    }
    for seed in range(20):
        value = value_for(schema, random.Random(seed))
        assert isinstance(value["tree"]["name"], str) and isinstance(value["tree"]["children"], list)
        assert value["choice"] in (3, 4) and 6 <= value["level"] <= 7 and value["when"] == "2026-01-15"
        assert len(value["short"]) <= 3 and isinstance(value["either"], bool)
        assert isinstance(value["merged"]["a"], int) and value["merged"]["b"] is None
    assert value_for({}, random.Random(0)) and isinstance(value_for({}, random.Random(0)), str)


def test_every_word_is_one_token_so_usage_needs_no_tokenizer() -> None:
    assert all(count_text(word) == 1 and count_text(" " + word) == 1 for word in WORDS)
    for seed in range(20):
        text = prose(random.Random(seed), None)
        assert count_text(text.text) == text.count and not text.cut


def test_token_bucket_refills_continuously() -> None:
    bucket = TokenBucket.full(60, 60, now=0.0)
    bucket.take(60)
    assert bucket.wait_for(1) == pytest.approx(1.0)
    bucket.refill(0.5)
    assert bucket.level == pytest.approx(0.5) and bucket.wait_for(1) == pytest.approx(0.5)
    bucket.refill(1000.0)
    assert bucket.level == 60 and bucket.seconds_to_full() == 0


def test_a_window_bucket_admits_one_request_bigger_than_itself_then_is_in_debt() -> None:
    window = TokenBucket.full(6000, 100.0, now=0.0, overdraw=True)  # 6,000 a minute, a second's share
    assert window.wait_for(250) == 0
    window.take(250)
    assert window.level == -150 and window.wait_for(1) == pytest.approx(1.51)
    window.refill(1.5)
    assert window.wait_for(250) == pytest.approx(1.0)  # a full window again, not 250
    window.refill(2.5)
    assert window.level == 100 and window.wait_for(250) == 0


def test_a_full_minute_window_is_the_minute_bucket_alone() -> None:
    minute = RateLimiter({"requests": 6000}, window_seconds=60)
    admitted = sum(minute.acquire("k", "m", Cost(), now=0.0) is None for _ in range(6001))
    assert admitted == 6000 and not minute.windows
    second = RateLimiter({"requests": 6000}, window_seconds=1.0)
    assert sum(second.acquire("k", "m", Cost(), now=0.0) is None for _ in range(150)) == 100
    refusal = second.acquire("k", "m", Cost(), now=0.0)
    assert refusal is not None and refusal.used == 100 and refusal.retry_after == pytest.approx(0.01)
    assert second.bucket("k", "m", "requests", 0.0).remaining == 5900  # type: ignore[union-attr]


def test_spikes_take_their_share_of_time_in_runs_of_their_length() -> None:
    step = 0.01
    flags = [in_spike(3, "openai", i * step, 0.2, 0.5) for i in range(int(200 / step))]
    assert sum(flags) / len(flags) == pytest.approx(0.2, abs=0.01)
    runs = [len(run) * step for run in "".join("x" if f else " " for f in flags).split()]
    assert all(0.49 <= run <= 1.01 for run in runs) and sum(run < 0.51 for run in runs) > len(runs) / 2
    assert flags == [in_spike(3, "openai", i * step, 0.2, 0.5) for i in range(int(200 / step))]
    assert flags != [in_spike(3, "anthropic", i * step, 0.2, 0.5) for i in range(int(200 / step))]
    assert not any(in_spike(3, "openai", t, 0.0, 0.5) for t in (0, 1, 2))
    assert all(in_spike(3, "openai", t, 1.0, 0.5) for t in (0, 0.3, 1.7))


def test_reset_formats() -> None:
    assert [go_duration(s) for s in (0, 0.02, 1.2, 59.9996, 360, 3725.5)] == [
        "0s",
        "20ms",
        "1.2s",
        "1m0s",
        "6m0s",
        "1h2m5.5s",
    ]
    assert rfc3339(1_767_225_600.2) == "2026-01-01T00:00:01Z"


def test_cli_flags_make_a_config() -> None:
    parser = argparse.ArgumentParser()
    add_sim_command(parser.add_subparsers())
    args = parser.parse_args(
        ["sim", "--rpm", "5", "--input-tpm", "100", "--fault-rate", "0.2", "--faults", "500,hang", "--keys", "a,b"]
    )
    config = config_from_args(args)
    assert config.rpm == 5 and config.input_tpm == 100 and config.keys == frozenset({"a", "b"})
    assert dict(config.faults) == {"500": 0.1, "hang": 0.1}
    assert config.window_seconds == 1.0 and config.overload_spikes == 0 and not config.absurd_headers
    harsh = ["--window-seconds", "0.5", "--overload-spikes", "0.1", "--overload-spike-seconds", "3", "--absurd-headers"]
    config = config_from_args(parser.parse_args(["sim", *harsh]))
    assert (config.window_seconds, config.overload_spikes, config.overload_spike_seconds) == (0.5, 0.1, 3.0)
    assert config.absurd_headers
    batches = ["--file-processing-seconds", "2.5", "--batch-max-requests", "3", "--batch-max-bytes", "900"]
    config = config_from_args(parser.parse_args(["sim", *batches]))
    assert (config.file_processing_seconds, config.batch_max_requests, config.batch_max_bytes) == (2.5, 3, 900)
    assert config_from_args(parser.parse_args(["sim"])).batch_max_requests is None


def test_cloudburst_sim_serves_from_a_subprocess() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "cloudburst", "sim", "--port", "0", "--rpm", "1"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[4]
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        statuses = [
            httpx.post(f"{url}/v1/chat/completions", json=body, headers={"Authorization": "Bearer k"}).status_code
            for _ in range(2)
        ]
        assert statuses == [200, 429]
    finally:
        server.terminate()
        server.wait(5)


def test_env_points_cloudburst_at_the_simulator(sim_env: Simulator) -> None:
    env = sim_env.env()
    assert env["OPENAI_BASE_URL"] == f"{sim_env.url}/v1" == sim_env.base_urls()["openai"]
    assert env["ANTHROPIC_BASE_URL"] == sim_env.url  # the host, as the anthropic SDK reads it
    for model, key in (("gpt-4o-mini", env["OPENAI_API_KEY"]), ("claude-haiku-4-5", env["ANTHROPIC_API_KEY"])):
        request = cloudburst.render(model, "Hello", cloudburst.SamplingParams(max_new_tokens=16))
        assert request.url.startswith(sim_env.url + "/v1/")
        headers = {name: (value.replace("<redacted>", key)) for name, value in request.headers.items()}
        answer = httpx.post(request.url, content=request.content(), headers=headers)
        assert cloudburst.parse(model, answer.status_code, answer.headers, answer.content).completion


def test_files_on_the_shared_path_go_to_the_provider_the_headers_name(sim: Simulator) -> None:
    upload = {"file": ("a.txt", b"abc", "text/plain")}
    openai_file = httpx.post(
        f"{sim.url}/v1/files", files=upload, data={"purpose": "user_data"}, headers={"Authorization": "Bearer k"}
    ).json()
    anthropic_file = httpx.post(
        f"{sim.url}/v1/files", files=upload, headers={"Authorization": "Bearer k", "anthropic-version": "2023-06-01"}
    ).json()
    assert openai_file["object"] == "file" and openai_file["id"].startswith("file-")
    assert anthropic_file["type"] == "file" and anthropic_file["id"].startswith("file_")


def test_simulator_restarts_cleanly() -> None:
    with Simulator(SimConfig(rpm=1)) as first:
        assert first.config.rpm == 1 and first.url.startswith("http://127.0.0.1:")
    with Simulator() as second:
        assert httpx.get(f"{second.url}/_sim/stats").json()["requests"] == 0
