"""The response cache and in-flight dedup, against the simulator over real sockets and a real
SQLite file: what was paid for once is never paid for again."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from cloudburst import Cache, CachedAnswer, Prompt, SamplingParams
from cloudburst._cache import Shared, SQLiteCache, request_identity, request_key
from cloudburst._cli import main
from cloudburst._client import LLMClient
from cloudburst._config import RetryPolicy
from cloudburst._errors import AuthError, InvalidOutputError
from cloudburst._sim import Simulator

KEYS = {"openai": "sk-test", "anthropic": "sk-ant-test"}


def client_on(sim: Simulator, models: str | list[str] = "gpt-4.1-mini", **settings: object) -> LLMClient:
    settings.setdefault("api_keys", KEYS)
    return LLMClient(
        models,
        base_urls=sim.base_urls(),
        sampling=SamplingParams(max_new_tokens=32),
        progress=None,
        **settings,  # type: ignore[arg-type]
    )


def test_a_second_run_is_answered_from_the_cache_with_no_request_and_no_cost(sim: Simulator, tmp_path: Path) -> None:
    cache = tmp_path / "answers.sqlite"
    prompts = [f"question {i}" for i in range(30)]
    first = client_on(sim, cache=cache).run(prompts)
    assert all(r.ok and not r.cached and r.cost > 0 for r in first)
    assert sim.stats()["requests"] == 30

    again = client_on(sim, cache=cache)  # a new client, as a new run would be
    second = again.run(prompts)
    assert sim.stats()["requests"] == 30  # nothing more was sent
    assert [r.completion for r in second] == [r.completion for r in first]
    assert all(r.ok and r.cached and r.cost == 0 and r.usage == f.usage for r, f in zip(second, first, strict=True))
    tracker = again.tracker
    assert (tracker.cached, tracker.attempts, tracker.cost, tracker.succeeded) == (30, 0, 0.0, 30)
    assert "30 cached" in tracker.summary()


def test_the_cache_key_is_the_rendered_request_without_the_api_key(sim: Simulator, tmp_path: Path) -> None:
    cache = tmp_path / "answers.sqlite"
    client_on(sim, cache=cache, api_keys={"openai": "sk-one"}).run(["same words"])
    assert client_on(sim, cache=cache, api_keys={"openai": "sk-two"}).run(["same words"])[0].cached
    assert sim.stats()["requests"] == 1
    other_setting = LLMClient(
        "gpt-4.1-mini", base_urls=sim.base_urls(), api_keys=KEYS, progress=None, cache=cache,
        sampling=SamplingParams(max_new_tokens=33),
    )  # fmt: skip
    assert not other_setting.run(["same words"])[0].cached
    assert sim.stats()["requests"] == 2

    route = other_setting.route(other_setting.models[0], other_setting.sampling, other_setting.options)
    assert b"sk-test" not in route.identity and b"authorization" not in route.identity
    assert request_key(route.identity, b"{}") != request_key(route.identity, b"{ }")


def test_errors_are_not_cached(sim: Simulator, tmp_path: Path) -> None:
    cache = tmp_path / "answers.sqlite"
    sim.configure(keys=["sk-good"])
    refused = client_on(sim, cache=cache, api_keys={"openai": "sk-bad"}).run(["q1", "q2"])
    assert all(isinstance(r.error, AuthError) for r in refused)
    answered = client_on(sim, cache=cache, api_keys={"openai": "sk-good"}).run(["q1", "q2"])
    assert all(r.ok and not r.cached for r in answered)
    assert sim.stats()["requests"] == 4


def test_an_answer_that_fails_its_json_check_is_not_cached(tmp_path: Path) -> None:
    sent: list[bytes] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        body = {
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "no json"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        }
        return httpx.Response(200, json=body)

    def run() -> InvalidOutputError | None:
        client = LLMClient(
            "gpt-4.1-mini", sampling=SamplingParams(json_mode=True), cache=tmp_path / "c.sqlite",
            transport=httpx.AsyncClient(transport=httpx.MockTransport(handler)), api_keys=KEYS, progress=None,
            retry=RetryPolicy(max_attempts=1),
        )  # fmt: skip
        error = client.run(["answer in JSON"])[0].error
        return error if isinstance(error, InvalidOutputError) else None

    assert run() is not None and run() is not None
    assert len(sent) == 2


def test_a_cache_hit_costs_no_limiter_capacity(sim: Simulator, tmp_path: Path) -> None:
    cache = tmp_path / "answers.sqlite"
    client_on(sim, cache=cache).run(["only one"])
    client = client_on(sim, cache=cache)
    key = client._bucket["gpt-4.1-mini"]
    client.run(["only one"] * 3)
    assert client.tracker.cached == 3
    assert client.limiter.buckets[key].in_flight == 0  # type: ignore[attr-defined]
    assert sim.stats()["requests"] == 1


def test_a_sprayed_rerun_finds_each_answer_whichever_model_the_weights_pick(sim: Simulator, tmp_path: Path) -> None:
    cache = tmp_path / "answers.sqlite"
    models = ["gpt-4.1-mini", "claude-haiku-4-5"]
    prompts = [f"spray {i}" for i in range(40)]
    first = client_on(sim, models, cache=cache, seed=1).run(prompts)
    assert {r.model for r in first} == set(models)
    second = client_on(sim, models, cache=cache, seed=2).run(prompts)
    assert sim.stats()["requests"] == 40
    assert [(r.model, r.completion) for r in second] == [(r.model, r.completion) for r in first]


def test_identical_prompts_in_flight_share_one_provider_call(sim: Simulator) -> None:
    sim.configure(latency_ms=200)
    client = client_on(sim, dedup=True)
    results = client.run(["the same question"] * 50)
    assert sim.stats()["requests"] == 1
    assert len({id(r) for r in results}) == 50 and all(r.ok for r in results)
    assert len({r.completion for r in results}) == 1
    assert sum(not r.cached for r in results) == 1 and sum(r.cost for r in results) == results[0].cost > 0
    assert (client.tracker.attempts, client.tracker.cached) == (1, 49)


def test_a_shared_failure_is_retried_by_every_prompt_that_shared_it(sim: Simulator) -> None:
    sim.configure(latency_ms=50, faults={"500": 0.5, "reset": 0.2}, seed=4)
    client = client_on(sim, dedup=True, retry=RetryPolicy(max_attempts=20, backoff_base=0.01, backoff_cap=0.02))
    results = client.run(["flaky"] * 30)
    assert all(r.ok for r in results) and len({r.completion for r in results}) == 1
    assert client.tracker.retries > 0 and client.tracker.attempts == sim.stats()["requests"] < 30


def test_when_the_leading_request_gives_up_a_waiting_one_leads_instead() -> None:
    async def scenario() -> None:
        shared = Shared(None, dedup=True)
        assert await shared.wait("k") is None  # the first leads
        impatient, follower = asyncio.create_task(shared.wait("k")), asyncio.create_task(shared.wait("k"))
        await asyncio.sleep(0)
        impatient.cancel()  # a waiter cancelled takes nothing down with it
        await asyncio.sleep(0)
        shared.finish("k", None, store=False)  # the leader was cancelled in flight
        assert await follower is None  # so the follower sends, and leads
        third = asyncio.create_task(shared.wait("k"))
        await asyncio.sleep(0)
        shared.finish("k", (200, {}, b"{}"), store=False)
        assert await third == (200, {}, b"{}")

    asyncio.run(scenario())


def test_dedup_is_on_with_a_cache_and_off_without_one(sim: Simulator, tmp_path: Path) -> None:
    sim.configure(latency_ms=100)
    client_on(sim, cache=tmp_path / "answers.sqlite").run(["together"] * 20)
    assert sim.stats()["requests"] == 1
    sim.reset()
    samples = client_on(sim).run([Prompt("sample me", sampling=SamplingParams(temperature=1.0))] * 5)
    assert sim.stats()["requests"] == 5 and not any(r.cached for r in samples)


def test_a_cache_of_ones_own_is_used_through_the_protocol(sim: Simulator) -> None:
    class DictCache:
        def __init__(self) -> None:
            self.answers: dict[str, CachedAnswer] = {}
            self.flushed = 0

        async def get(self, key: str) -> CachedAnswer | None:
            return self.answers.get(key)

        def put(self, key: str, answer: CachedAnswer) -> None:
            self.answers[key] = answer

        def flush(self) -> None:
            self.flushed += 1

    mine = DictCache()
    assert isinstance(mine, Cache)
    client_on(sim, cache=mine).run(["a", "b"])
    assert len(mine.answers) == 2 and mine.flushed == 1
    assert all(a.status == 200 and json.loads(a.body)["choices"] for a in mine.answers.values())
    assert all(r.cached for r in client_on(sim, cache=mine).run(["b", "a"]))
    assert sim.stats()["requests"] == 2


def test_answers_not_yet_committed_are_served_from_memory(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "c.sqlite")
    key = request_key(request_identity("m", "http://x/v1/chat", {}, "authorization"), b"{}")
    cache.put(key, CachedAnswer(200, b'{"ok": 1}'))
    assert asyncio.run(cache.get(key)) == CachedAnswer(200, b'{"ok": 1}')
    cache.flush()
    assert asyncio.run(SQLiteCache(tmp_path / "c.sqlite").get(key)) == CachedAnswer(200, b'{"ok": 1}')


WORKER = textwrap.dedent(
    """
    import sys
    from cloudburst import LLMClient, SamplingParams
    url, cache, start, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    client = LLMClient("gpt-4.1-mini", base_urls={"openai": url}, api_keys={"openai": "sk"}, progress=None,
                       sampling=SamplingParams(max_new_tokens=32), cache=cache)
    results = client.run([f"shared {i}" for i in range(start, stop)])
    assert all(r.ok for r in results), [r.error for r in results if r.error]
    print(client.tracker.attempts, client.tracker.cached)
    """
)


def test_two_processes_share_one_cache_file(sim: Simulator, tmp_path: Path) -> None:
    sim.configure(latency_ms=20)
    cache = tmp_path / "shared.sqlite"
    url = sim.base_urls()["openai"]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, str(cache), str(start), str(start + 300)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for start in (0, 150)  # 150 prompts in common
    ]
    sent = 0
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0 and "cache" not in err, err
        sent += int(out.split()[0])
    stats = sim.stats()
    assert 450 <= stats["requests"] == sent <= 600, stats
    client = client_on(sim, cache=cache)
    union = client.run([f"shared {i}" for i in range(450)])
    assert [i for i, r in enumerate(union) if not r.cached] == [] and client.tracker.attempts == 0


def test_cli_run_with_a_cache_reruns_into_a_new_output_for_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cloudburst")
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"line {i}"}) + "\n" for i in range(25)))
    cache = tmp_path / "answers.sqlite"
    outputs = []
    for name in ("first.jsonl", "second.jsonl"):
        out = tmp_path / name
        main(["run", str(prompts), "-o", str(out), "--model", "gpt-4.1-mini", "--model", "claude-haiku-4-5",
              "--cache", str(cache), "--progress", "off", "--simulate"])  # fmt: skip
        outputs.append({r["id"]: r for r in map(json.loads, out.read_text().splitlines())})
    assert "attempts 0," in caplog.text and "25 cached (no call, no cost)" in caplog.text
    first, second = outputs
    assert first.keys() == second.keys() == {f"p{i}" for i in range(25)}
    assert all(r["cost"] > 0 for r in first.values()) and all(r["cost"] == 0 for r in second.values())
    assert all(second[k]["completion"] == first[k]["completion"] for k in first)
