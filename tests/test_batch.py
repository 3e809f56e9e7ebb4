"""Batch jobs end to end against the simulator's batch APIs, over real sockets: what we upload
checked against the official SDKs' types, every request's result typed and in input order,
costs with the batch discount, and a job that survives the death of its process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cloudburst import (
    BatchCancelledError,
    BatchExpiredError,
    BatchJob,
    ContextOverflowError,
    Conversation,
    InvalidPrompt,
    LLMClient,
    Prompt,
    RequestOptions,
    SamplingParams,
    get_model,
)
from cloudburst._errors import ConfigurationError, InputError, InvalidRequestError, UnsupportedOptionError
from cloudburst._sim import Simulator

KEYS = {"openai": "sk-test", "anthropic": "sk-ant-test", "gemini": "gm-test", "mistral": "ms-test"}
KEY_HEADERS = {
    "openai": {"authorization": "Bearer sk-test"},
    "anthropic": {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"},
    "gemini": {"x-goog-api-key": "gm-test"},
}
LIST = {
    "openai": ("/batches", "data"),
    "anthropic": ("/messages/batches", "data"),
    "gemini": ("/batches", "operations"),
}


def client_on(sim: Simulator, model: str, **settings: Any) -> LLMClient:
    """Gemini 2.5 thinks by default: its answers need room beyond their thoughts."""
    return LLMClient(
        model,
        base_urls=sim.base_urls(),
        api_keys=KEYS,
        sampling=SamplingParams(max_new_tokens=600 if model.startswith("gemini") else 24),
        progress=None,
        **settings,
    )


def provider_batches(sim: Simulator, provider: str) -> list[dict[str, Any]]:
    """The batches the simulated provider holds, as its list endpoint answers."""
    path, field = LIST[provider]
    answer = httpx.get(sim.base_urls()[provider] + path, headers=KEY_HEADERS[provider])
    answer.raise_for_status()
    return list(answer.json().get(field) or [])


@pytest.fixture(autouse=True)
def _batch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDBURST_HOME", str(tmp_path / "home"))


@pytest.mark.parametrize("model", ["gpt-4.1-mini", "gpt-4.1-mini@responses", "claude-haiku-4-5", "gemini-2.5-flash"])
def test_a_batch_round_trip_gives_every_result_typed_in_input_order_at_the_discount(
    sim: Simulator, tmp_path: Path, model: str
) -> None:
    sim.configure(batch_seconds=0.3, batch_error_fraction=0.1, batch_expired_fraction=0.1)
    client = client_on(sim, model)
    prompts = [Prompt(f"Name the number {i}.", id=f"q{i}") for i in range(60)]
    job = client.submit_batch(prompts, directory=tmp_path / "job")
    assert [part.state for part in job.parts] != ["not_submitted"]
    status = job.wait(poll=0.05)
    assert status.ended and status.requests == 60
    results = list(job.results())

    assert [done.index for done in results] == list(range(60))
    assert [done.id for done in results] == [f"q{i}" for i in range(60)]
    kinds = Counter(done.response.error.kind if done.response.error else "ok" for done in results)
    assert set(kinds) == {"ok", "server", "batch_expired"} and sum(kinds.values()) == 60
    info = get_model(model)
    for done in results:
        response = done.response
        if response.error is None:
            assert response.completion and response.usage.output_tokens > 0
            assert response.cost == pytest.approx(info.cost(response.usage, batch=True))
            assert response.cost == pytest.approx(info.cost(response.usage) / 2)
        elif response.error.kind == "batch_expired":
            assert isinstance(response.error, BatchExpiredError) and response.cost == 0
    assert len(provider_batches(sim, info.provider)) == 1
    assert BatchJob.load(job.directory, client=client).manifest.model == info.id


def test_what_is_uploaded_is_what_the_official_sdks_accept(sim: Simulator, tmp_path: Path) -> None:
    from anthropic.types.messages import BatchCreateParams, MessageBatchIndividualResponse
    from openai.types import Batch
    from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming

    from tests.official_types import problems

    prompts = ["Say yes.", Conversation.of("Say no.")]
    openai_job = client_on(sim, "gpt-4.1-mini").prepare_batch(prompts, directory=tmp_path / "o")
    for line in (openai_job.directory / "part-0000.input.jsonl").read_bytes().splitlines():
        item = orjson.loads(line)
        assert set(item) == {"custom_id", "method", "url", "body"} and item["url"] == "/v1/chat/completions"
        assert problems(item["body"], CompletionCreateParamsNonStreaming) == []

    anthropic_job = client_on(sim, "claude-haiku-4-5").prepare_batch(prompts, directory=tmp_path / "a")
    lines = (anthropic_job.directory / "part-0000.input.jsonl").read_bytes().splitlines()
    assert problems({"requests": [orjson.loads(line) for line in lines]}, BatchCreateParams) == []

    sim.configure(batch_seconds=0.0)
    openai_job.submit()
    anthropic_job.submit()
    status = httpx.get(
        f"{sim.base_urls()['openai']}/batches/{openai_job.parts[0].provider_id}", headers=KEY_HEADERS["openai"]
    )
    Batch.model_validate(status.json())
    assert [done.response.error for done in openai_job.results()] == [None, None]
    assert [done.response.error for done in anthropic_job.results()] == [None, None]
    for line in (anthropic_job.directory / "part-0000.results0.jsonl").read_bytes().splitlines():
        MessageBatchIndividualResponse.model_validate_json(line)


def test_openai_batch_lines_are_the_shapes_openais_published_document_gives(sim: Simulator, tmp_path: Path) -> None:
    """BatchRequestInput / BatchRequestOutput, from the last openai-openapi commit that held them
    (copied from shared/reference/provider-openapi/, its source in `x-source`)."""
    reference = Path(__file__).parent / "fixtures" / "openai-batch-line-schemas.json"
    schemas = orjson.loads(reference.read_bytes())["components"]["schemas"]
    example = orjson.loads(schemas["BatchRequestInput"]["x-oaiMeta"]["example"])
    output = schemas["BatchRequestOutput"]["properties"]
    sim.configure(batch_error_fraction=0.3, batch_expired_fraction=0.3)
    job = client_on(sim, "gpt-4.1-mini").submit_batch([f"p{i}" for i in range(20)], directory=tmp_path / "job")
    for line in (job.directory / "part-0000.input.jsonl").read_bytes().splitlines():
        item = orjson.loads(line)
        assert (
            set(item) == set(example) and item["method"] in schemas["BatchRequestInput"]["properties"]["method"]["enum"]
        )
    list(job.results())
    seen = set()
    for path in sorted(job.directory.glob("part-0000.results*.jsonl")):
        for line in path.read_bytes().splitlines():
            item = orjson.loads(line)
            assert set(item) <= set(output)
            for name in ("response", "error"):
                if item[name] is not None:
                    assert set(item[name]) <= set(output[name]["properties"]), name
                    seen.add(name)
    assert seen == {"response", "error"}


def test_a_job_bigger_than_a_part_is_split_and_read_back_in_order(sim: Simulator, tmp_path: Path) -> None:
    client = client_on(sim, "claude-haiku-4-5")
    job = client.submit_batch((f"prompt {i}" for i in range(35)), directory=tmp_path / "job", part_requests=10)
    assert [(p.requests, p.state != "not_submitted") for p in job.parts] == [(10, True)] * 3 + [(5, True)]
    parts = job.manifest.parts
    assert [(p.start, p.end) for p in parts] == [(0, 10), (10, 20), (20, 30), (30, 35)]
    results = list(job.results())
    assert [done.index for done in results] == list(range(35))
    assert all(done.response.error is None for done in results)
    assert len(provider_batches(sim, "anthropic")) == 4


def test_prompts_that_cannot_be_sent_are_typed_results_and_are_not_uploaded(sim: Simulator, tmp_path: Path) -> None:
    client = client_on(sim, "claude-haiku-4-5")
    prompts = [
        "fine",
        InvalidPrompt(InputError("prompts.jsonl:2: not JSON", path="prompts.jsonl", line=2), id="bad"),
        Prompt("with logprobs", id="lp", sampling=SamplingParams(logprobs=True)),
        "many words " * 300_000,
        "fine again",
    ]
    job = client.submit_batch(prompts, directory=tmp_path / "job")
    assert job.parts[0].requests == 2
    results = list(job.results())
    assert [done.index for done in results] == [0, 1, 2, 3, 4]
    assert [done.id for done in results] == [None, "bad", "lp", None, None]
    errors = [done.response.error for done in results]
    assert errors[0] is None and errors[4] is None
    assert isinstance(errors[1], InputError) and "not JSON" in str(errors[1])
    assert isinstance(errors[2], InputError) and "logprobs" in str(errors[2])
    assert isinstance(errors[3], ContextOverflowError)


def test_cancelling_ends_every_request_not_yet_run_as_cancelled(sim: Simulator, tmp_path: Path) -> None:
    sim.configure(batch_seconds=2.0)  # a cancel takes a tenth of it; nothing runs before 0.2 s
    for model in ("gpt-4.1-mini", "claude-haiku-4-5"):
        job = client_on(sim, model).submit_batch([f"p{i}" for i in range(8)], directory=tmp_path / model)
        job.cancel()
        results = list(job.results())
        assert [type(done.response.error) for done in results] == [BatchCancelledError] * 8, model
        assert job.parts[0].outcome == "cancelled"


def test_a_provider_or_model_without_a_batch_api_is_refused_before_anything_is_written(
    sim: Simulator, tmp_path: Path
) -> None:
    with pytest.raises(UnsupportedOptionError, match="no batch API for Mistral"):
        client_on(sim, "mistral-small-latest").submit_batch(["x"], directory=tmp_path / "m")
    assert not (tmp_path / "m").exists()
    client = LLMClient(["gpt-4.1-mini", "claude-haiku-4-5"], api_keys=KEYS, progress=None)
    with pytest.raises(ConfigurationError, match=r"2 chat models .*; name one with model="):
        client.submit_batch(["x"])
    with pytest.raises(ConfigurationError, match="not one of this client's chat models"):
        client.submit_batch(["x"], model="gpt-4.1")


def test_a_job_is_loaded_by_its_id_from_the_batch_home(sim: Simulator) -> None:
    client = client_on(sim, "gpt-4.1-mini")
    job = client.submit_batch(["one", "two"])
    assert job.directory == Path(os.environ["CLOUDBURST_HOME"]) / "batches" / job.id
    again = BatchJob.load(job.id, client=client)
    assert [done.response.error for done in again.results()] == [None, None]
    with pytest.raises(ConfigurationError, match="no batch job at"):
        BatchJob.load("cbb_0000000000000000")


@pytest.mark.parametrize("model", ["gpt-4.1-mini", "claude-haiku-4-5", "gemini-2.5-flash"])
def test_a_part_whose_create_call_was_cut_off_is_found_not_sent_twice(
    sim: Simulator, tmp_path: Path, model: str
) -> None:
    """What a crash between the create call's answer and the manifest's save leaves behind:
    the provider holds the batch, the manifest says only "submitting"."""
    client = client_on(sim, model)
    job = client.submit_batch([f"p{i}" for i in range(5)], directory=tmp_path / "job")
    manifest = orjson.loads((job.directory / "manifest.json").read_bytes())
    created = manifest["parts"][0]["provider_id"]
    manifest["parts"][0].update(step="submitting", provider_id=None)
    (job.directory / "manifest.json").write_bytes(orjson.dumps(manifest))

    again = BatchJob.load(job.directory, client=client)
    assert [done.response.error for done in again.results()] == [None] * 5
    assert again.parts[0].provider_id == created
    assert len(provider_batches(sim, get_model(model).provider)) == 1


SUBMITTER = textwrap.dedent(
    """
    import logging, os, sys
    from cloudburst import LLMClient, SamplingParams

    class Die(logging.Handler):
        def emit(self, record):
            if os.environ["DIE_AT"] in record.getMessage():
                os._exit(9)

    logging.getLogger("cloudburst").addHandler(Die())
    logging.getLogger("cloudburst").setLevel(logging.INFO)
    client = LLMClient(
        sys.argv[1], base_urls={"openai": sys.argv[2], "anthropic": sys.argv[3], "gemini": sys.argv[4]},
        api_keys={"openai": "sk-test", "anthropic": "sk-ant-test", "gemini": "gm-test"},
        sampling=SamplingParams(max_new_tokens=600), progress=None,
    )
    job = client.submit_batch((f"prompt {i}" for i in range(40)), directory=sys.argv[5], part_requests=10)
    job.wait(poll=0.05)
    """
)


@pytest.mark.parametrize(
    ("model", "die_at"),
    [
        ("gpt-4.1-mini", "part-0001 submitted"),  # during submission
        ("claude-haiku-4-5", "part-0002 submitted"),
        ("gemini-2.5-flash", "part-0001 submitted"),
        ("gpt-4.1-mini", "part-0000 ended"),  # during polling
    ],
)
def test_a_killed_submitter_or_poller_resumes_with_load_and_loses_nothing(
    sim: Simulator, tmp_path: Path, model: str, die_at: str
) -> None:
    sim.configure(batch_seconds=0.5)
    urls = sim.base_urls()
    script = tmp_path / "submit.py"
    script.write_text(SUBMITTER)
    where = tmp_path / "job"
    run = subprocess.run(
        [sys.executable, str(script), model, urls["openai"], urls["anthropic"], urls["gemini"], str(where)],
        env={**os.environ, "DIE_AT": die_at},
        capture_output=True,
        timeout=60,
    )
    assert run.returncode == 9, run.stderr.decode()

    job = BatchJob.load(where, client=client_on(sim, model))
    results = list(job.results())
    assert [done.index for done in results] == list(range(40))
    assert all(done.response.error is None for done in results)
    assert len(provider_batches(sim, get_model(model).provider)) == 4  # none twice, none lost


def test_the_cli_submits_shows_waits_and_writes_results_in_input_order(
    sim_env: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cloudburst._cli import main

    sim_env.configure(batch_seconds=0.3, batch_expired_fraction=0.2)
    prompts = tmp_path / "prompts.jsonl"
    lines = [orjson.dumps({"id": f"n{i}", "prompt": f"number {i}"}).decode() for i in range(20)]
    prompts.write_text("\n".join([*lines[:5], "{not json", *lines[5:]]) + "\n")
    out = tmp_path / "results.jsonl"
    submit = ["batch", "submit", str(prompts), "--model", "claude-haiku-4-5", "-o", str(out), "--progress", "off"]
    assert main([*submit, "--part-requests", "8"]) == 0
    job_id, directory = capsys.readouterr().out.split()
    assert Path(directory) == tmp_path / "results.jsonl.batch" and not out.exists()

    assert main(["batch", "status", directory, "--progress", "off"]) == 0
    shown = capsys.readouterr().out
    assert f"batch {job_id}: " in shown and shown.count("  part ") == 3

    assert main(["batch", "wait", directory, "-o", str(out), "--poll", "0.05", "--progress", "off"]) == 1
    results = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [r["id"] for r in results] == ["n0", "n1", "n2", "n3", "n4", "6", *(f"n{i}" for i in range(5, 20))]
    kinds = Counter(r["error"]["kind"] if r["error"] else "ok" for r in results)
    assert kinds["input"] == 1 and kinds["batch_expired"] > 0 and kinds["ok"] > 0
    assert all(r["cost"] > 0 for r in results if r["error"] is None)

    out.unlink()  # written again from the downloaded results, nothing fetched twice
    before = sim_env.stats()["requests"]
    assert main(["batch", "results", job_id, "-o", str(tmp_path / "again.jsonl"), "--progress", "off"]) == 1
    assert (tmp_path / "again.jsonl").read_bytes().count(b"\n") == 21
    assert sim_env.stats()["requests"] - before == 0


def test_the_cli_says_what_is_wrong_before_sending(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cloudburst._cli import main

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('"hi"\n')
    assert main(["batch", "submit", str(prompts), "--model", "gpt-4.1-mini", "--simulate"]) == 2
    assert "add --wait and -o" in capsys.readouterr().err
    assert main(["batch", "status", str(tmp_path / "nothing")]) == 2
    assert "no batch job at" in capsys.readouterr().err


def test_a_120000_prompt_generator_is_split_by_the_providers_limits_in_flat_memory(
    sim: Simulator, tmp_path: Path
) -> None:
    import tracemalloc

    client = client_on(sim, "gpt-4.1-mini")
    prompts = (f"Question number {i}: what is {i} plus one?" for i in range(120_000))
    tracemalloc.start()
    try:
        job = client.prepare_batch(prompts, directory=tmp_path / "job")
        rendering_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [part.requests for part in job.parts] == [50_000, 50_000, 20_000]  # OpenAI: 50,000 a file
    assert rendering_peak < 4_000_000  # 120,000 prompts streamed to disk, none held

    results = job.results()
    tracemalloc.start()
    try:
        succeeded = expected = 0
        for done in results:
            assert done.index == expected
            expected += 1
            succeeded += done.response.error is None
        reading_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert expected == succeeded == 120_000
    assert reading_peak < 40_000_000  # one part's index at a time, the results read from disk


@pytest.mark.parametrize("model", ["gpt-4.1-mini", "claude-haiku-4-5"])
def test_a_request_the_provider_refuses_in_a_batch_is_typed_as_the_same_refusal_online(
    sim: Simulator, tmp_path: Path, model: str
) -> None:
    client = client_on(sim, model)
    bogus = Prompt("refused", id="bogus", options=RequestOptions(extra_body={"no_such_field": 1}))
    online = client.run([bogus])[0].error
    assert online is not None and online.kind == "invalid_request"

    job = client.submit_batch(["fine", bogus], directory=tmp_path / "job")
    fine, refused = (done.response for done in job.results())
    assert fine.error is None
    assert type(refused.error) is type(online) and refused.error.status == online.status
    assert refused.error.provider_type == online.provider_type and refused.cost == 0


def test_batch_calls_retry_what_is_transient_and_raise_what_is_not_typed() -> None:
    import asyncio

    from aiohttp import web

    from cloudburst._batch.control import Control
    from cloudburst._config import RetryPolicy, Timeouts
    from cloudburst._errors import InvalidRequestError
    from cloudburst.generated import PROVIDERS

    answers = [(529, {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})] * 2 + [
        (200, {"id": "msgbatch_1"}),
        (400, {"type": "error", "error": {"type": "invalid_request_error", "message": "requests: too many"}}),
    ]
    calls = []

    async def handle(request: web.Request) -> web.Response:
        calls.append(request.headers.get("x-api-key"))
        status, body = answers[len(calls) - 1]
        return web.json_response(body, status=status)

    async def scenario() -> None:
        app = web.Application()
        app.router.add_post("/v1/messages/batches", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        retry = RetryPolicy(backoff_base=0.01)
        try:
            async with Control(
                PROVIDERS["anthropic"], f"http://127.0.0.1:{port}/v1", {"x-api-key": "k"}, retry, Timeouts()
            ) as control:
                assert await control.json("POST", "/messages/batches", {"requests": []}) == {"id": "msgbatch_1"}
                with pytest.raises(InvalidRequestError, match="too many"):
                    await control.json("POST", "/messages/batches", {"requests": []})
        finally:
            await runner.cleanup()

    asyncio.run(scenario())
    assert calls == ["k"] * 4


def test_gemini_batches_go_inline_or_as_an_uploaded_file_as_the_sdk_reads_them(sim: Simulator, tmp_path: Path) -> None:
    from google import genai

    from tests.test_gemini_generate import check_official_request

    client = client_on(sim, "gemini-2.5-flash")
    inline = client.prepare_batch([f"inline {i}" for i in range(5)], directory=tmp_path / "inline")
    for line in (inline.directory / "part-0000.input.jsonl").read_bytes().splitlines():
        check_official_request(orjson.loads(line)["request"])
    inline.submit()
    sdk = genai.Client(api_key=KEYS["gemini"], http_options={"base_url": sim.url})
    held = sdk.batches.get(name=str(inline.parts[0].provider_id))
    assert held.display_name == f"cloudburst-{inline.id}-part-0000"
    assert [done.response.error for done in inline.results()] == [None] * 5
    assert sim.stats()["uploads"].get("gemini", 0) == 0

    uploaded = client.prepare_batch([f"file {i}" for i in range(7)], directory=tmp_path / "file")
    uploaded.protocol.inline_max_bytes = 0  # as a part over 20 MB would be: through the Files API
    uploaded.submit()
    assert uploaded.manifest.parts[0].input_file is not None
    assert sim.stats()["uploads"]["gemini"] == 1
    results = list(uploaded.results())
    assert [done.index for done in results] == list(range(7))
    assert all(done.response.error is None and done.response.completion for done in results)


@pytest.mark.parametrize("model", ["gpt-4.1-mini", "claude-haiku-4-5", "gemini-2.5-flash"])
def test_a_part_the_provider_refuses_whole_ends_every_request_in_it_typed_and_spares_the_others(
    sim: Simulator, tmp_path: Path, model: str
) -> None:
    """A provider whose batches are smaller than its spec says (the simulator told so): the
    part it refuses, at creation or at validation, fails with its reason; the next part runs."""
    sim.configure(batch_max_requests=5)
    client = client_on(sim, model)
    prompts = [f"p{i}" for i in range(9)]
    job = client.prepare_batch(prompts, directory=tmp_path / "job", part_requests=6)
    assert [part.requests for part in job.parts] == [6, 3]
    results = list(job.results())
    assert [done.index for done in results] == list(range(9))
    assert job.parts[0].outcome == "failed" and job.parts[0].error
    assert all(isinstance(done.response.error, InvalidRequestError) for done in results[:6])
    assert all(str(job.parts[0].error) in str(done.response.error) for done in results[:6])
    assert [done.response.error for done in results[6:]] == [None] * 3
