"""Durable jobs: the journal on the API, and `cloudburst run` killed, interrupted, resumed and
refusing what would lose results. The CLI tests run real subprocesses against a simulator in a
process of its own, so its request counts survive every kill."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from cloudburst import (
    ConfigurationError,
    Journal,
    JournalMismatchError,
    LLMClient,
    Prompt,
    SamplingParams,
    SimConfig,
    Simulator,
)
from cloudburst._cli import main
from cloudburst._constants import JOURNAL_COMMIT_SECONDS
from cloudburst._prompt import Completed

MODEL = "gpt-4.1-mini"
LATENCY_S = 0.2
CONCURRENCY = 8


def client_for(sim: Simulator, **settings: Any) -> LLMClient:
    return LLMClient(MODEL, base_urls=sim.base_urls(), api_keys={"openai": "sk-test"}, progress=None, **settings)


def write_prompts(path: Path, count: int, changed: dict[int, str] | None = None) -> Path:
    lines = [{"id": f"q{i}", "prompt": (changed or {}).get(i, f"question {i}")} for i in range(count)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def result_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a results file, each of which must be whole JSON."""
    return [json.loads(line) for line in path.read_bytes().split(b"\n")[:-1]] if path.exists() else []


# the API ----------------------------------------------------------------------------------------


def test_run_with_a_journal_sends_only_what_it_has_no_result_for(sim: Simulator, tmp_path: Path) -> None:
    journal = tmp_path / "job.journal"
    prompts = [f"question {i}" for i in range(30)]
    client = client_for(sim)
    first = client.run(prompts[:12], journal=journal)
    assert sim.stats()["requests"] == 12

    resumed = client.run(prompts, journal=journal)
    assert sim.stats()["requests"] == 30
    assert [r.completion for r in resumed[:12]] == [r.completion for r in first]
    assert [r.usage for r in resumed[:12]] == [r.usage for r in first]
    assert all(r.ok and r.completion for r in resumed)
    assert client.tracker.restored == 12 and client.tracker.succeeded == 30

    again = client.run(prompts, journal=journal)
    assert sim.stats()["requests"] == 30
    assert [r.completion for r in again] == [r.completion for r in resumed]
    assert [r.cost for r in again] == [r.cost for r in resumed]


class City(BaseModel):
    name: str
    population: int


def test_a_restored_result_is_parsed_again_into_the_same_response(sim: Simulator, tmp_path: Path) -> None:
    journal = tmp_path / "job.journal"
    client = client_for(sim, sampling=SamplingParams(output_schema=City, max_new_tokens=200))
    sent = client.run(["A city, please."] * 3, journal=journal)
    restored = client.run(["A city, please."] * 3, journal=journal)
    assert sim.stats()["requests"] == 3
    for old, new in zip(sent, restored, strict=True):
        assert isinstance(new.parsed, City) and new.parsed == old.parsed
        assert (new.request_id, new.finish_reason, new.cost, new.attempts) == (
            old.request_id,
            old.finish_reason,
            old.cost,
            old.attempts,
        )


def test_errors_are_journaled_as_typed_final_results(tmp_path: Path) -> None:
    with Simulator(SimConfig(keys=frozenset({"sk-right"}))) as sim:
        client = client_for(sim)
        client.run(["hello", "there"], journal=tmp_path / "j")
        restored = client.run(["hello", "there"], journal=tmp_path / "j")
        assert sim.stats()["requests"] == 2
    assert [r.error.kind if r.error else None for r in restored] == ["auth", "auth"]
    assert all(r.status == 401 and r.error is not None and r.error.status == 401 for r in restored)


def test_as_completed_restores_journaled_prompts_and_yields_every_index_once(sim: Simulator, tmp_path: Path) -> None:
    journal = tmp_path / "job.journal"
    prompts = [Prompt(f"question {i}", id=f"p{i}") for i in range(20)]
    client = client_for(sim)
    client.run(prompts[::2], journal=journal)  # the even ones, as an earlier run that stopped

    async def collect() -> list[Completed]:
        return [done async for done in client.as_completed(prompts, journal=journal)]

    got = asyncio.run(collect())
    assert sorted(done.index for done in got) == list(range(20))
    assert {done.id for done in got if done.restored} == {f"p{i}" for i in range(0, 20, 2)}
    assert sim.stats()["requests"] == 20
    assert all(done.response.ok for done in got)


def test_a_prompt_changed_under_the_journal_is_refused_before_anything_is_sent(sim: Simulator, tmp_path: Path) -> None:
    journal = tmp_path / "job.journal"
    client = client_for(sim)
    client.run([Prompt(f"question {i}", id=f"p{i}") for i in range(5)], journal=journal)
    changed = [Prompt(f"question {i}" if i != 3 else "another question", id=f"p{i}") for i in range(8)]
    with pytest.raises(JournalMismatchError, match=r"prompt 3 \(id p3\) changed since the journal"):
        client.run(changed, journal=journal)
    assert sim.stats()["requests"] == 5

    other_settings = client_for(sim, sampling=SamplingParams(max_new_tokens=7))
    with pytest.raises(JournalMismatchError, match="and 4 more"):
        other_settings.run([Prompt(f"question {i}", id=f"p{i}") for i in range(5)], journal=journal)
    assert sim.stats()["requests"] == 5


def test_a_one_shot_generator_is_checked_as_it_is_pulled(sim: Simulator, tmp_path: Path) -> None:
    journal = tmp_path / "job.journal"
    client = client_for(sim)
    client.run(["a", "b"], journal=journal)
    with pytest.raises(JournalMismatchError, match="prompt 1 changed"):
        client.run((text for text in ["a", "B"]), journal=journal)


def test_a_journal_object_is_flushed_but_left_open_and_a_foreign_file_is_refused(
    sim: Simulator, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "job.journal")
    client_for(sim).run(["one", "two"], journal=journal)
    assert len(journal) == 2 and [r["index"] for r in journal.records()] == [0, 1]
    journal.close()
    not_a_journal = tmp_path / "prompts.jsonl"
    not_a_journal.write_text('"hello"\n' * 200)
    with pytest.raises(ConfigurationError, match=r"cannot use .* as a journal"):
        client_for(sim).run(["x"], journal=not_a_journal)
    assert sim.stats()["requests"] == 2


# `cloudburst run`, in this process ---------------------------------------------------------------


def run_cli(*args: str | Path) -> int:
    return main(["run", *map(str, args), "--model", MODEL, "--progress", "off"])


def test_the_same_file_as_input_and_output_is_refused_before_reading(sim_env: Simulator, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "prompts.jsonl", 5)
    before = prompts.read_bytes()
    assert run_cli(prompts, "-o", prompts) == 2
    os.link(prompts, tmp_path / "linked.jsonl")
    assert run_cli(prompts, "-o", tmp_path / "linked.jsonl") == 2
    assert run_cli(prompts, "-o", tmp_path / "out.jsonl", "--journal", tmp_path / "linked.jsonl") == 2
    assert prompts.read_bytes() == before and sim_env.stats()["requests"] == 0


def test_an_existing_output_without_its_journal_is_kept_unless_overwrite(
    sim_env: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = write_prompts(tmp_path / "prompts.jsonl", 6)
    out = tmp_path / "results.jsonl"
    out.write_text('{"id": "precious"}\n')
    assert run_cli(prompts, "-o", out) == 2
    err = capsys.readouterr().err
    assert "already holds results" in err and "--overwrite" in err
    assert out.read_text() == '{"id": "precious"}\n' and sim_env.stats()["requests"] == 0

    assert run_cli(prompts, "-o", out, "--overwrite") == 0
    assert sorted(r["id"] for r in result_lines(out)) == sorted(f"q{i}" for i in range(6))


def test_an_output_with_results_its_journal_lacks_is_refused(sim_env: Simulator, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "prompts.jsonl", 4)
    out = tmp_path / "results.jsonl"
    assert run_cli(prompts, "-o", out) == 0
    with out.open("a") as extra:
        extra.write('{"id": "from another job"}\n')
    assert run_cli(prompts, "-o", out) == 2
    assert result_lines(out)[-1] == {"id": "from another job"}


def test_a_resumed_output_is_rebuilt_from_the_journal_mending_a_cut_last_line(
    sim_env: Simulator, tmp_path: Path
) -> None:
    prompts = write_prompts(tmp_path / "prompts.jsonl", 8)
    out = tmp_path / "results.jsonl"
    assert run_cli(write_prompts(tmp_path / "first.jsonl", 5), "-o", out, "--journal", tmp_path / "j") == 0
    whole = out.read_bytes()
    out.write_bytes(whole[: whole.rindex(b"\n", 0, len(whole) - 1) + 9])  # the last line cut short, as by a kill
    assert run_cli(prompts, "-o", out, "--journal", tmp_path / "j") == 0
    assert sorted(r["id"] for r in result_lines(out)) == sorted(f"q{i}" for i in range(8))
    assert sim_env.stats()["requests"] == 8


def test_input_changed_under_the_journal_is_an_error_before_sending(
    sim_env: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.jsonl"
    assert run_cli(write_prompts(tmp_path / "prompts.jsonl", 10), "-o", out) == 0
    before = out.read_bytes()
    changed = write_prompts(tmp_path / "prompts.jsonl", 12, changed={4: "a different question"})
    assert run_cli(changed, "-o", out) == 2
    assert "prompt 4 (id q4) changed since the journal" in capsys.readouterr().err
    assert sim_env.stats()["requests"] == 10 and out.read_bytes() == before


def test_a_bad_line_fixed_since_is_sent_on_resume_and_every_id_stays_once(sim_env: Simulator, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "prompts.jsonl", 5)
    lines = prompts.read_text().splitlines()
    prompts.write_text("\n".join([*lines[:2], '{"id": "q2", "prompt": "x", "max_tokens": 9}', *lines[3:]]) + "\n")
    out = tmp_path / "results.jsonl"
    assert run_cli(prompts, "-o", out) == 1  # one input error: a result, not a stopped job
    first = {r["id"]: r for r in result_lines(out)}
    assert sorted(first) == [f"q{i}" for i in range(5)] and first["q2"]["error"]["kind"] == "input"
    assert sim_env.stats()["requests"] == 4

    write_prompts(prompts, 5)  # the line mended
    assert run_cli(prompts, "-o", out) == 0
    again = result_lines(out)
    assert sorted(r["id"] for r in again) == [f"q{i}" for i in range(5)]
    assert all(r["error"] is None for r in again) and sim_env.stats()["requests"] == 5


def test_exit_code_1_when_prompts_fail_with_the_kinds_in_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cloudburst")
    with Simulator(SimConfig(keys=frozenset({"sk-right"}))) as sim:
        monkeypatch.setenv("OPENAI_BASE_URL", sim.base_urls()["openai"])
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
        out = tmp_path / "results.jsonl"
        assert run_cli(write_prompts(tmp_path / "prompts.jsonl", 20), "-o", out) == 1
    assert "0 succeeded, 20 failed" in caplog.text and "failed by kind: auth 20" in caplog.text
    assert [r["error"]["kind"] for r in result_lines(out)] == ["auth"] * 20


# `cloudburst run` as a subprocess, killed and interrupted ----------------------------------------


@dataclass
class SimProcess:
    url: str

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_sim/stats", timeout=5) as answer:
            return dict(json.load(answer))

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/_sim/reset", method="POST", data=b"")
        urllib.request.urlopen(request, timeout=5).close()


@pytest.fixture(scope="module")
def sim_process() -> Iterator[SimProcess]:
    """`cloudburst sim` in a process of its own, answering every request after LATENCY_S."""
    server = subprocess.Popen(
        [sys.executable, "-m", "cloudburst", "sim", "--port", "0", "--latency-ms", str(LATENCY_S * 1000)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        yield SimProcess("http://127.0.0.1:" + line.split("http://127.0.0.1:")[1].split()[0])
    finally:
        server.terminate()
        server.wait()


@pytest.fixture
def sim_proc(sim_process: SimProcess) -> SimProcess:
    sim_process.reset()
    return sim_process


def start_run(sim: SimProcess, prompts: Path, out: Path, *flags: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env |= {"OPENAI_BASE_URL": f"{sim.url}/v1", "OPENAI_API_KEY": "sk-test"}
    command = [sys.executable, "-m", "cloudburst", "run", str(prompts), "-o", str(out), "--model", MODEL]
    command += ["--concurrency", str(CONCURRENCY), "--progress", "off", *flags]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_requests(sim: SimProcess, at_least: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while sim.stats()["requests"] < at_least:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the job did not get going"
        time.sleep(0.01)


def test_kill_9_at_random_moments_loses_no_result_and_repays_only_the_commit_window(
    sim_proc: SimProcess, tmp_path: Path
) -> None:
    count, kills = 160, 5
    prompts = write_prompts(tmp_path / "prompts.jsonl", count)
    out = tmp_path / "results.jsonl"
    rng = random.Random(12)
    for _ in range(kills):
        process = start_run(sim_proc, prompts, out)
        wait_for_requests(sim_proc, sim_proc.stats()["requests"] + rng.randint(1, 10), process)
        time.sleep(rng.uniform(0, LATENCY_S))
        assert process.poll() is None, "the job ended before it could be killed"
        process.kill()
        process.wait()
        lines = out.read_bytes().split(b"\n") if out.exists() else [b""]
        for line in lines[:-1]:  # only the last line may have been cut by the kill
            json.loads(line)

    process = start_run(sim_proc, prompts, out)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr.decode()
    results = result_lines(out)
    assert sorted(r["id"] for r in results) == sorted(f"q{i}" for i in range(count))
    assert all(r["error"] is None and r["completion"] for r in results)

    # Sent twice at most: what was in flight at a kill (at most CONCURRENCY), and what arrived in
    # the commit window before it; taking the window as two commit intervals (one to wait, one to
    # commit), each slot answers at most floor(window / latency) + 1 requests in it.
    window = 2 * JOURNAL_COMMIT_SECONDS
    per_kill = CONCURRENCY + CONCURRENCY * (math.floor(window / LATENCY_S) + 1)
    sent = sim_proc.stats()["requests"]
    assert count <= sent <= count + kills * per_kill, (sent, count + kills * per_kill)

    finished = start_run(sim_proc, prompts, out)
    _, stderr = finished.communicate(timeout=60)
    assert finished.returncode == 0, stderr.decode()
    assert sim_proc.stats()["requests"] == sent
    assert sorted(r["id"] for r in result_lines(out)) == sorted(f"q{i}" for i in range(count))


def test_sigterm_finishes_what_is_in_flight_writes_it_and_exits_143(sim_proc: SimProcess, tmp_path: Path) -> None:
    count = 80
    prompts = write_prompts(tmp_path / "prompts.jsonl", count)
    out = tmp_path / "results.jsonl"
    process = start_run(sim_proc, prompts, out)
    wait_for_requests(sim_proc, 20, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143
    assert "SIGTERM" in stderr.decode() and "prompts in" in stderr.decode() and "Traceback" not in stderr.decode()
    stats = sim_proc.stats()
    results = result_lines(out)
    assert len(results) == stats["statuses"]["200"] == stats["requests"] < count  # every answer kept
    assert len({r["id"] for r in results}) == len(results)

    resumed = start_run(sim_proc, prompts, out)
    _, stderr = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, stderr.decode()
    assert sorted(r["id"] for r in result_lines(out)) == sorted(f"q{i}" for i in range(count))
    assert sim_proc.stats()["requests"] == count  # nothing sent twice


def test_sigint_with_no_grace_cancels_what_is_in_flight_and_exits_130(sim_proc: SimProcess, tmp_path: Path) -> None:
    count = 80
    prompts = write_prompts(tmp_path / "prompts.jsonl", count)
    out = tmp_path / "results.jsonl"
    process = start_run(sim_proc, prompts, out, "--grace", "0")
    wait_for_requests(sim_proc, 20, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "SIGINT" in stderr.decode() and "prompts in" in stderr.decode() and "Traceback" not in stderr.decode()
    assert len({r["id"] for r in result_lines(out)}) == len(result_lines(out)) < count

    resumed = start_run(sim_proc, prompts, out)
    _, stderr = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, stderr.decode()
    assert sorted(r["id"] for r in result_lines(out)) == sorted(f"q{i}" for i in range(count))
    assert count <= sim_proc.stats()["requests"] <= count + CONCURRENCY  # only the cancelled ones again
