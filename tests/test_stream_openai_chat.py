"""OpenAI chat (and Mistral) streamed against the simulator: the same prompt both ways gives the
same response, field by field; the openai and mistralai SDKs' own stream accumulation agree with
the fold; and the stream faults end as a user relies on (retried, billed, typed)."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState

from cloudburst import APIResponse, SamplingParams, Simulator
from cloudburst._client import LLMClient
from cloudburst._config import RetryPolicy, Timeouts
from cloudburst._options import RequestOptions
from cloudburst._tools import Tool
from tests.responses import fields

WEATHER = Tool(
    name="get_weather",
    description="The weather in a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
)
PROMPTS = ["Say something about rivers.", "What is the weather in Paris? Use get_weather.", "Tell me a story."]
CASES: dict[str, tuple[str, SamplingParams, RequestOptions]] = {
    "openai text": ("gpt-4.1-mini", SamplingParams(max_new_tokens=64), RequestOptions()),
    "openai logprobs": (
        "gpt-4.1-mini",
        SamplingParams(max_new_tokens=48, logprobs=True, top_logprobs=3),
        RequestOptions(),
    ),
    "openai tools": ("gpt-4.1-mini", SamplingParams(max_new_tokens=64), RequestOptions(tools=[WEATHER])),
    "openai reasoning": ("gpt-5-mini", SamplingParams(max_new_tokens=900, reasoning_effort="low"), RequestOptions()),
    "mistral text": ("mistral-small-latest", SamplingParams(max_new_tokens=64), RequestOptions()),
    "mistral tools": ("mistral-small-latest", SamplingParams(max_new_tokens=64), RequestOptions(tools=[WEATHER])),
    "mistral reasoning": ("magistral-medium-latest", SamplingParams(max_new_tokens=600), RequestOptions()),
}
KEYS = {"openai": "sk-test", "mistral": "mk-test"}


def client_on(sim: Simulator, model: str, **settings: Any) -> LLMClient:
    settings.setdefault("sampling", SamplingParams(max_new_tokens=64))
    return LLMClient(model, base_urls=sim.base_urls(), api_keys=KEYS, progress=None, seed=1, **settings)


@pytest.mark.parametrize("case", CASES)
def test_a_streamed_answer_is_the_same_response_as_the_unstreamed_one(sim: Simulator, case: str) -> None:
    model, sampling, options = CASES[case]
    plain = client_on(sim, model, sampling=sampling, options=options, stream=False).run(PROMPTS)
    streamed = client_on(sim, model, sampling=sampling, options=options, stream=True).run(PROMPTS)
    assert sim.stats()["streams"] == len(PROMPTS)
    for one, other in zip(plain, streamed, strict=True):
        assert one.ok and other.ok, (one.error, other.error)
        assert fields(other) == fields(one)
    if "tools" in case:
        assert any(r.tool_calls for r in streamed)
    if "logprobs" in case:
        assert all(r.logprobs for r in streamed)
    if "reasoning" in case:
        assert all(r.usage.reasoning_tokens or r.thoughts for r in streamed)


@pytest.mark.parametrize("case", ["openai text", "openai logprobs", "openai tools"])
def test_the_openai_sdk_folds_the_simulators_stream_as_cloudburst_does(sim: Simulator, case: str) -> None:
    """The witness: openai's own ChatCompletionStreamState, reading the simulator's chunks over a
    real socket, ends with the completion cloudburst folded from its own stream."""
    model, sampling, options = CASES[case]
    response = client_on(sim, model, sampling=sampling, options=options, stream=True).run([PROMPTS[1]])[0]
    assert response.ok
    body = dict(response.raw)
    sdk = openai.OpenAI(base_url=sim.base_urls()["openai"], api_key="sk-test", max_retries=0)
    request = {key: value for key, value in _sent_body(model, sampling, options).items() if key != "model"}
    state = ChatCompletionStreamState()
    for chunk in sdk.chat.completions.create(
        model=model, stream=True, stream_options={"include_usage": True}, **request
    ):
        state.handle_chunk(chunk)
    final = state.get_final_completion().model_dump(exclude_none=True)
    ours = openai.types.chat.ChatCompletion.model_validate(body).model_dump(exclude_none=True)
    for choice in final["choices"]:  # the SDK's own additions to what the wire said
        choice["message"].pop("parsed", None)
        for call in choice["message"].get("tool_calls") or ():
            call["function"].pop("parsed_arguments", None)
            call.pop("index", None)
    assert final == ours


def test_the_mistral_sdk_reads_the_simulators_stream_as_cloudburst_folds_it(sim: Simulator) -> None:
    from mistralai.client import Mistral

    model, sampling, options = CASES["mistral tools"]
    response = client_on(sim, model, sampling=sampling, options=options, stream=True).run([PROMPTS[1]])[0]
    assert response.ok
    sdk = Mistral(api_key="mk-test", server_url=sim.base_urls()["mistral"].removesuffix("/v1"))
    request = {key: value for key, value in _sent_body(model, sampling, options).items() if key != "model"}
    text, calls, usage, finish = "", {}, None, None
    for event in sdk.chat.stream(model=model, **request):
        chunk = event.data
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or "" if isinstance(choice.delta.content, (str, type(None))) else ""
            for call in choice.delta.tool_calls or ():
                calls[call.index or 0] = call
            finish = choice.finish_reason or finish
    assert text == (response.completion or "")
    assert [(c.id, c.function.name, c.function.arguments) for c in calls.values()] == [
        (c.id, c.name, _json_text(c.arguments)) for c in response.tool_calls
    ]
    assert usage is not None and usage.completion_tokens == response.usage.output_tokens
    assert finish == response.raw_finish_reason


def _sent_body(model: str, sampling: SamplingParams, options: RequestOptions) -> dict[str, Any]:
    from cloudburst import render

    return dict(render(model, PROMPTS[1], sampling=sampling, options=options).body)


def _json_text(arguments: Any) -> str:
    import json

    return arguments if isinstance(arguments, str) else json.dumps(arguments, separators=(",", ":"))


def test_httpx_transport_streams_the_same_answer(sim: Simulator) -> None:
    model, sampling, options = CASES["openai tools"]
    plain = client_on(sim, model, sampling=sampling, options=options, stream=False).run(PROMPTS)

    async def run() -> list[APIResponse | None]:
        async with httpx.AsyncClient() as http:
            client = client_on(sim, model, sampling=sampling, options=options, stream=True, transport=http)
            return await client.run_async(PROMPTS)

    import asyncio

    streamed = asyncio.run(run())
    assert sim.stats()["streams"] == len(PROMPTS)
    assert [fields(r) for r in streamed if r is not None] == [fields(r) for r in plain]


def test_a_stream_cut_off_midway_is_retried_and_what_arrived_is_billed(sim: Simulator) -> None:
    sim.configure(faults={"disconnect": 0.5}, seed=4)
    client = client_on(sim, "gpt-4.1-mini", stream=True, retry=RetryPolicy(max_attempts=8, backoff_base=0.01))
    results = client.run([f"question {i}" for i in range(12)])
    assert all(r.ok for r in results)
    retried = [r for r in results if r.attempts > 1]
    assert retried and sim.stats()["faults"]["disconnect"] == sum(r.attempts - 1 for r in results)
    for response in retried:
        assert response.failed_usage.input_tokens > 0 and response.failed_usage.output_tokens > 0
        assert response.failed_cost > 0
    assert client.tracker.retries == sum(r.attempts - 1 for r in results)


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_a_stream_that_goes_silent_is_caught_by_the_idle_timeout_and_retried(sim: Simulator, transport: str) -> None:
    sim.configure(faults={"hang": 1.0}, hang_s=5.0)
    settings: dict[str, Any] = {
        "stream": True,
        "timeouts": Timeouts(idle=0.3),
        "retry": RetryPolicy(max_attempts=2, backoff_base=0.01),
    }

    async def run() -> list[APIResponse | None]:
        async with httpx.AsyncClient() as http:
            if transport == "httpx":
                settings["transport"] = http
            return await client_on(sim, "gpt-4.1-mini", **settings).run_async(["hello"])

    import asyncio

    (response,) = asyncio.run(run())
    assert response is not None and response.error is not None
    assert response.error.kind == "stream_interrupted" and response.attempts == 2
    assert "no byte" in response.error.message
    assert response.usage.output_tokens > 0  # the events before the silence are billed


def test_a_slow_stream_that_never_goes_silent_completes(sim: Simulator) -> None:
    sim.configure(faults={"slow_stream": 1.0}, stream_gap_s=0.05)
    client = client_on(sim, "gpt-4.1-mini", stream=True, timeouts=Timeouts(idle=1.0))
    (response,) = client.run(["hello"])
    assert response.ok and response.attempts == 1 and response.completion


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_an_answer_over_the_size_cap_is_cut_off_with_a_typed_error(
    sim: Simulator, stream: bool, transport: str
) -> None:
    async def run() -> list[APIResponse | None]:
        async with httpx.AsyncClient() as http:
            given = {"transport": http} if transport == "httpx" else {}
            return await client_on(sim, "gpt-4.1-mini", stream=stream, max_response_bytes=300, **given).run_async(
                ["hi"]
            )

    import asyncio

    (response,) = asyncio.run(run())
    assert response is not None and response.error is not None and response.error.kind == "response_too_large"
    assert response.attempts == 1
    (fits,) = client_on(sim, "gpt-4.1-mini", stream=stream).run(["hello"])
    assert fits.ok


@pytest.mark.parametrize(
    ("policy", "max_new_tokens", "streams"),
    [("auto", 64, False), ("auto", 9000, True), (True, 64, True), (False, 9000, False)],
)
def test_the_stream_policy_decides_which_requests_stream(
    sim: Simulator, policy: Any, max_new_tokens: int, streams: bool
) -> None:
    client = client_on(sim, "gpt-4.1-mini", stream=policy, sampling=SamplingParams(max_new_tokens=max_new_tokens))
    assert all(r.ok for r in client.run(["a", "b"]))
    assert sim.stats()["streams"] == (2 if streams else 0)


def test_a_streamed_answer_is_cached_as_the_request_it_answers(sim: Simulator, tmp_path: Any) -> None:
    """The cache knows a request by what it asks: a streamed answer serves a later unstreamed run."""
    cache = tmp_path / "cache.sqlite"
    first = client_on(sim, "gpt-4.1-mini", stream=True, cache=str(cache)).run(["hello"])
    again = client_on(sim, "gpt-4.1-mini", stream=False, cache=str(cache)).run(["hello"])
    assert first[0].ok and again[0].cached and again[0].completion == first[0].completion
    assert sim.stats()["requests"] == 1


def test_a_stream_carries_the_rate_limit_headers_of_an_unstreamed_answer(sim: Simulator) -> None:
    sim.configure(rpm=600)
    url = sim.base_urls()["openai"] + "/chat/completions"
    request = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 20}
    headers = {"authorization": "Bearer sk-test"}
    plain = httpx.post(url, json=request, headers=headers)
    with httpx.stream("POST", url, json={**request, "stream": True}, headers=headers) as streamed:
        body = streamed.read().decode()
    assert streamed.headers["content-type"] == "text/event-stream"
    assert body.startswith("data: {") and body.endswith("data: [DONE]\n\n")
    for name in ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"):
        assert name in plain.headers and name in streamed.headers
    assert streamed.headers["x-ratelimit-limit-requests"] == plain.headers["x-ratelimit-limit-requests"] == "600"


@pytest.mark.parametrize("fault", ["truncated", "malformed", "reset"])
def test_a_stream_cut_or_broken_is_an_interrupted_attempt_and_retried(sim: Simulator, fault: str) -> None:
    sim.configure(faults={fault: 1.0})
    client = client_on(sim, "gpt-4.1-mini", stream=True, retry=RetryPolicy(max_attempts=2, backoff_base=0.01))
    (response,) = client.run(["hello"])
    assert response.error is not None and response.error.kind == "stream_interrupted"
    assert response.attempts == 2 and sim.stats()["faults"] == {fault: 2}
    assert response.failed_usage.output_tokens > 0 and response.usage.output_tokens > 0


def test_a_host_that_answers_a_stream_request_with_plain_json_is_read_as_it_is(sim: Simulator) -> None:
    (plain,) = client_on(sim, "gpt-4.1-mini", stream=False).run(["hello"])

    def unstreaming(request: httpx.Request) -> httpx.Response:
        assert b'"stream":true' in request.content
        return httpx.Response(200, json=plain.raw)

    async def run() -> list[APIResponse | None]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(unstreaming)) as http:
            return await client_on(sim, "gpt-4.1-mini", stream=True, transport=http).run_async(["hello"])

    import asyncio

    (response,) = asyncio.run(run())
    assert response is not None and response.ok and response.completion == plain.completion
