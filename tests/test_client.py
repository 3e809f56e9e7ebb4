"""LLMClient against scripted providers (httpx.MockTransport): order, retries, model switching,
usage of failed attempts, lazy input, sync use inside a running loop, and the tracker."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

import cloudburst._job
import cloudburst._render
from cloudburst import Conversation, SamplingParams
from cloudburst._client import LLMClient, limits_for
from cloudburst._config import RateLimits, RetryPolicy
from cloudburst._constants import GC_YOUNG_THRESHOLD
from cloudburst._errors import (
    AuthError,
    ConfigurationError,
    ContextOverflowError,
    InputError,
    InvalidOutputError,
    ServerError,
)
from cloudburst._limiter import RequestTooLargeError
from cloudburst._prompt import Completed, Prompt
from cloudburst._registry import REGISTRY, get_model

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]
FAST = RetryPolicy(backoff_base=0.001, backoff_cap=0.002, retry_after_cap=0.01)


def openai_answer(text: str, *, prompt_tokens: int = 7, completion_tokens: int = 3, **headers: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
        headers=headers,
    )


def openai_error(status: int, code: str, message: str = "no", **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"message": message, "type": "x", "code": code, "param": None}}, headers=headers
    )


def anthropic_answer(text: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 9, "output_tokens": 4},
        },
    )


def last_user_text(request: httpx.Request) -> str:
    body = json.loads(request.content)
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def client_for(handler: Handler, models: str | list[str] = "gpt-4.1-mini", **settings: Any) -> LLMClient:
    settings.setdefault("retry", FAST)
    return LLMClient(
        models,
        transport=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        api_keys={"openai": "sk-test", "anthropic": "sk-ant-test"},
        progress=None,
        seed=1,
        **settings,
    )


def test_results_come_back_in_input_order_whatever_the_finishing_order() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        text = last_user_text(request)
        await asyncio.sleep((hash(text) % 7) / 1000)
        return openai_answer(f"echo {text}")

    results = client_for(handler).run([f"prompt {i}" for i in range(200)])
    assert [r.completion for r in results] == [f"echo prompt {i}" for i in range(200)]
    assert all(r.ok and r.attempts == 1 for r in results)


def test_a_server_error_is_retried_and_its_attempts_are_counted() -> None:
    seen: Counter[str] = Counter()

    async def handler(request: httpx.Request) -> httpx.Response:
        text = last_user_text(request)
        seen[text] += 1
        return openai_error(500, "server_error") if seen[text] < 3 else openai_answer("ok")

    client = client_for(handler)
    results = client.run(["a", "b"])
    assert [(r.completion, r.attempts) for r in results] == [("ok", 3), ("ok", 3)]
    assert client.tracker.retries == 4
    assert client.tracker.retried == {"server": 4}
    assert client.tracker.attempts == 6


def test_a_transport_failure_is_a_typed_retryable_error() -> None:
    calls = itertools.count()

    async def handler(request: httpx.Request) -> httpx.Response:
        if next(calls) == 0:
            raise httpx.ConnectError("refused")
        return openai_answer("ok")

    client = client_for(handler)
    assert client.run(["a"])[0].completion == "ok"
    assert client.tracker.retried == {"connection": 1}


def test_attempts_stop_at_the_maximum_with_the_last_error() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return openai_error(500, "server_error")

    client = client_for(handler, retry=RetryPolicy(max_attempts=3, backoff_base=0.001))
    (result,) = client.run(["a"])
    assert isinstance(result.error, ServerError)
    assert result.attempts == 3
    assert client.tracker.failed == 1 and client.tracker.errors == {"server": 1}


def test_auth_errors_are_final_at_once() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return openai_error(401, "invalid_api_key")

    client = client_for(handler)
    (result,) = client.run(["a"])
    assert isinstance(result.error, AuthError) and result.attempts == 1


def test_a_429_honours_retry_after_up_to_the_cap_and_is_seen_by_the_tracker() -> None:
    calls = itertools.count()

    async def handler(request: httpx.Request) -> httpx.Response:
        if next(calls) == 0:  # an hour: only the cap (10 ms) makes this test finish
            return openai_error(429, "rate_limit_exceeded", **{"retry-after": "3600"})
        return openai_answer("ok")

    client = client_for(handler)
    (result,) = client.run(["a"])
    assert result.completion == "ok" and result.attempts == 2
    assert client.tracker.rate_limited == 1


def test_retries_go_to_another_model_when_there_is_one() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/messages"):
            return anthropic_answer("from claude")
        return openai_error(503, "overloaded")

    client = client_for(handler, ["gpt-4.1-mini", "claude-haiku-4-5"], weights=[1, 0])
    results = client.run(["a", "b", "c"])
    assert {(r.model, r.completion, r.attempts) for r in results} == {("claude-haiku-4-5", "from claude", 2)}


def test_a_context_overflow_moves_to_a_model_with_a_bigger_window() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["model"] == "gpt-4o":
            return openai_error(400, "context_length_exceeded", "maximum context length is 128000 tokens")
        return openai_answer("long answer")

    client = client_for(handler, ["gpt-4o", "gpt-4.1-mini"], weights=[1, 0])
    (result,) = client.run(["a"])
    assert result.model == "gpt-4.1-mini" and result.completion == "long answer"

    alone = client_for(handler, "gpt-4o")
    (result,) = alone.run(["a"])
    assert isinstance(result.error, ContextOverflowError) and result.attempts == 1


def test_invalid_json_is_retried_on_request_and_the_failed_attempt_is_still_billed() -> None:
    seen: Counter[str] = Counter()

    async def handler(request: httpx.Request) -> httpx.Response:
        text = last_user_text(request)
        seen[text] += 1
        if seen[text] == 1:
            return openai_answer('{"answer": ', prompt_tokens=100, completion_tokens=50)
        return openai_answer('{"answer": 42}', prompt_tokens=100, completion_tokens=10)

    sampling = SamplingParams(json_mode=True, max_new_tokens=50)
    retrying = client_for(handler, sampling=sampling, retry=RetryPolicy(retry_on_invalid_json=True, backoff_base=0.001))
    (result,) = retrying.run(["give JSON"])
    assert result.ok and result.completion == '{"answer": 42}' and result.attempts == 2
    assert result.failed_usage.input_tokens == 100 and result.failed_usage.output_tokens == 50
    model = get_model("gpt-4.1-mini")
    assert result.failed_cost == pytest.approx((100 * 0.4 + 50 * 1.6) / 1e6)
    assert result.total_cost == pytest.approx(result.cost + result.failed_cost)
    assert retrying.tracker.cost == pytest.approx(result.total_cost)
    assert retrying.tracker.input_tokens == 200 and retrying.tracker.output_tokens == 60
    assert model.id == result.model

    seen.clear()
    once = client_for(handler, sampling=sampling)
    (result,) = once.run(["give JSON"])
    assert isinstance(result.error, InvalidOutputError) and result.completion == '{"answer": '


def test_a_request_over_the_whole_token_budget_fails_at_once_unsent() -> None:
    sent = itertools.count()

    async def handler(request: httpx.Request) -> httpx.Response:
        next(sent)
        return openai_answer("ok")

    client = client_for(handler, sampling=SamplingParams(max_new_tokens=500), limits=RateLimits(tpm=300))
    results = client.run(["a", "b"])
    assert all(isinstance(r.error, RequestTooLargeError) for r in results)
    assert "per-minute budget" in str(results[0].error)
    assert next(sent) == 0


def test_a_prompt_over_the_context_window_fails_at_once_unsent() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    client = client_for(handler, "gpt-4o")
    (result,) = client.run(["word " * 200_000])
    assert isinstance(result.error, ContextOverflowError) and "not sent" in str(result.error)


def test_a_generator_is_pulled_only_as_capacity_frees_up() -> None:
    pulled = itertools.count()
    release = asyncio.Event()

    def prompts() -> Iterator[str]:
        for i in range(1000):
            next(pulled)
            yield f"p{i}"

    async def handler(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return openai_answer("ok")

    async def scenario() -> None:
        client = client_for(handler, limits=RateLimits(max_concurrency=2))
        job = asyncio.ensure_future(client.run_async(prompts()))
        for _ in range(50):
            await asyncio.sleep(0)
        assert next(pulled) <= client.pending_limit + 1 < 10
        release.set()
        results = await job
        assert len(results) == 1000 and all(r.ok for r in results)

    asyncio.run(scenario())


def test_run_works_inside_a_running_event_loop() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return openai_answer("ok")

    async def notebook_cell() -> list[str | None]:
        client = client_for(handler)
        return [r.completion for r in client.run(["a", "b"])]

    assert asyncio.run(notebook_cell()) == ["ok", "ok"]


def test_as_completed_says_which_prompt_each_result_answers() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return openai_answer(f"echo {last_user_text(request)}")

    async def collect() -> list[Completed]:
        client = client_for(handler)
        prompts = [Prompt("one", id="a"), "two", Conversation.system("Be brief.").user("three")]
        return [done async for done in client.as_completed(prompts)]

    done = sorted(asyncio.run(collect()), key=lambda d: d.index)
    assert [(d.index, d.id, d.response.completion) for d in done] == [
        (0, "a", "echo one"),
        (1, None, "echo two"),
        (2, None, "echo three"),
    ]


def test_per_prompt_settings_replace_the_clients() -> None:
    bodies: list[dict[str, Any]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return openai_answer("ok")

    client = client_for(handler, sampling=SamplingParams(max_new_tokens=10))
    client.run([Prompt("a", sampling=SamplingParams(max_new_tokens=99, temperature=0.5)), "b"])
    by_prompt = {b["messages"][0]["content"]: b for b in bodies}
    assert by_prompt["a"]["max_completion_tokens"] == 99 and by_prompt["a"]["temperature"] == 0.5
    assert by_prompt["b"]["max_completion_tokens"] == 10 and "temperature" not in by_prompt["b"]


def test_a_bad_prompt_mid_stream_is_its_own_result_and_the_job_goes_on() -> None:
    sent: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        sent.append(last_user_text(request))
        return openai_answer("ok")

    refused = SamplingParams(thinking_budget=2048)  # gpt-4.1-mini is no reasoning model
    prompts = ["a", "b", 42, Prompt("c", id="c", sampling=refused), "never mind"]
    results = client_for(handler).run(prompts)  # type: ignore[arg-type]
    assert [r.ok for r in results] == [True, True, False, False, True]
    assert sorted(sent) == ["a", "b", "never mind"]
    not_a_prompt, refused_setting = results[2].error, results[3].error
    assert isinstance(not_a_prompt, InputError) and not_a_prompt.kind == "input"
    assert "prompt 2 is a int" in not_a_prompt.message
    assert isinstance(refused_setting, InputError) and "prompt 3 (id c)" in refused_setting.message
    assert "gpt-4.1-mini" in refused_setting.message and results[3].cost == 0


def test_a_missing_api_key_is_refused_before_anything_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        LLMClient("gpt-4.1-mini", progress=None)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    LLMClient("claude-haiku-4-5", progress=None)


def test_options_a_model_refuses_are_refused_when_the_client_is_built() -> None:
    with pytest.raises(ConfigurationError, match="logprobs"):
        LLMClient("claude-haiku-4-5", sampling=SamplingParams(logprobs=True), api_keys={"anthropic": "k"})


@pytest.mark.parametrize(
    ("models", "sampling", "refusal"),
    [
        (["gpt-4.1-mini", "claude-haiku-4-5"], SamplingParams(seed=1), "claude-haiku-4-5: .*SamplingParams.seed"),
        (["gemini-2.5-flash", "gpt-4.1-mini"], SamplingParams(thinking_budget=0), "gpt-4.1-mini: .*thinking_budget"),
        (["gpt-4.1-mini", "claude-haiku-4-5"], SamplingParams(logprobs=True), "claude-haiku-4-5 .*logprobs"),
    ],
)
def test_a_setting_one_sprayed_model_refuses_is_refused_when_the_client_is_built(
    models: list[str], sampling: SamplingParams, refusal: str
) -> None:
    """Before, the adapter's own refusals (seed on Anthropic, a thinking budget on OpenAI chat)
    showed only when a body was built: the job stopped after the other model's prompts went out."""
    keys = {"openai": "k", "anthropic": "k", "gemini": "k"}
    with pytest.raises(ConfigurationError, match=refusal):
        LLMClient(models, sampling=sampling, api_keys=keys)


def test_limits_resolve_from_model_then_provider_then_default_then_registry() -> None:
    mini, haiku, nano = get_model("gpt-4.1-mini"), get_model("claude-haiku-4-5"), get_model("gpt-4.1")
    models = [mini, haiku, nano]
    spec = {"gpt-4.1-mini": RateLimits(rpm=1), "anthropic": RateLimits(rpm=2), "default": RateLimits(rpm=3)}
    assert limits_for(mini, spec, models).rpm == 1
    assert limits_for(haiku, spec, models).rpm == 2
    assert limits_for(nano, spec, models).rpm == 3
    assert limits_for(mini, RateLimits(rpm=9), models).rpm == 9
    with pytest.raises(ConfigurationError, match=r"gpt-4\.1-mimi"):
        limits_for(mini, {"gpt-4.1-mimi": RateLimits(rpm=1)}, models)
    tiered = next(m for m in REGISTRY if m.rate_limits is not None)
    assert tiered.rate_limits is not None
    assert limits_for(tiered, None, [tiered]).rpm == tiered.rate_limits.rpm


def test_the_tracker_counts_outcomes_tokens_and_kinds() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        text = last_user_text(request)
        if text == "bad":
            return openai_error(400, "invalid_value", "bad request")
        return openai_answer("ok", prompt_tokens=10, completion_tokens=5)

    client = client_for(handler)
    client.run(["a", "bad", "b"])
    t = client.tracker
    assert (t.total, t.done, t.succeeded, t.failed, t.in_flight) == (3, 3, 2, 1, 0)
    assert t.errors == {"invalid_request": 1}
    assert (t.input_tokens, t.output_tokens) == (20, 10)
    assert t.finished_at is not None and t.limiting_factor is None
    assert "2 succeeded, 1 failed" in t.summary() and "invalid_request 1" in t.summary()


@pytest.mark.parametrize("progress", ["rich", "tqdm"])
def test_displays_draw_and_summarise(progress: str, capsys: pytest.CaptureFixture[str]) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return openai_answer("ok")

    client = LLMClient(
        "gpt-4.1-mini",
        transport=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        api_keys={"openai": "k"},
        progress=progress,  # type: ignore[arg-type]
    )
    client.run(["a"] * 5)
    err = capsys.readouterr().err
    assert "5 prompts in" in err and "5 succeeded" in err


def test_fewer_collections_while_a_job_runs_and_the_threshold_restored_after() -> None:
    seen: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(gc.get_threshold()[0])
        return openai_answer("ok")

    before = gc.get_threshold()
    client_for(handler).run(["a", "b"])
    assert seen and all(threshold >= GC_YOUNG_THRESHOLD for threshold in seen)
    assert gc.get_threshold() == before


def test_concurrent_jobs_on_one_client_each_get_all_their_results() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.001)
        return openai_answer(f"echo {last_user_text(request)}")

    async def two_jobs() -> list[list[str | None]]:
        client = client_for(handler)
        jobs = [client.run_async([f"{name}{i}" for i in range(50)]) for name in "xy"]
        return [[r.completion for r in results] for results in await asyncio.gather(*jobs)]

    first, second = asyncio.run(two_jobs())
    assert first == [f"echo x{i}" for i in range(50)] and second == [f"echo y{i}" for i in range(50)]


def test_leaving_as_completed_early_stops_the_job_cleanly() -> None:
    sent = itertools.count()

    async def handler(request: httpx.Request) -> httpx.Response:
        next(sent)
        await asyncio.sleep(0.001)
        return openai_answer("ok")

    async def first_three() -> int:
        client = client_for(handler, limits=RateLimits(max_concurrency=4))
        got = 0
        stream = client.as_completed(f"p{i}" for i in range(10_000))
        async for _ in stream:
            got += 1
            if got == 3:
                break
        await stream.aclose()  # type: ignore[attr-defined]
        return got

    before = gc.get_threshold()
    assert asyncio.run(first_three()) == 3
    assert next(sent) < 20  # the rest of the input was never sent
    assert gc.get_threshold() == before


def test_a_wait_the_provider_asks_for_in_its_body_is_honoured_too(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = itertools.count()

    async def handler(request: httpx.Request) -> httpx.Response:
        if next(calls) == 0:
            return openai_error(429, "rate_limit_exceeded")
        return openai_answer("ok")

    def parse_with_body_wait(*args: Any, **kwargs: Any) -> Any:
        response = cloudburst._render.parse(*args, **kwargs)
        if response.error is not None:
            response.error.retry_after = 5.0  # as Gemini says it: in the body, not a header
        return response

    monkeypatch.setattr(cloudburst._job, "parse", parse_with_body_wait)
    client = client_for(handler, retry=RetryPolicy(retry_after_cap=0.01))
    cooled: list[float] = []
    monkeypatch.setattr(client.limiter, "rate_limited", lambda key, seconds: cooled.append(seconds))
    (result,) = client.run(["a"])
    assert result.completion == "ok" and cooled == [0.01]  # asked for 5 s, capped at 10 ms


def test_an_api_key_with_a_line_break_or_spaces_is_refused_naming_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cloudburst._errors import ConfigurationError

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test\n")
    with pytest.raises(ConfigurationError, match="the API key in OPENAI_API_KEY has spaces or a line break"):
        LLMClient("gpt-4.1-mini", progress=None)
    with pytest.raises(ConfigurationError, match=r"api_keys\['anthropic'\] has spaces"):
        LLMClient("claude-haiku-4-5", api_keys={"anthropic": " sk-ant"}, progress=None)
