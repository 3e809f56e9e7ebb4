"""OpenAI Responses streamed against the simulator: the same prompt both ways gives the same
response, field by field; the openai SDK's own `responses.stream` accumulation ends with the
body cloudburst folded; failures in the stream are classified as the same failures online."""

from __future__ import annotations

from typing import Any

import openai
import pytest

import cloudburst
from cloudburst import SamplingParams, Simulator
from cloudburst._stream.openai_responses import OpenAIResponsesFold
from cloudburst.generated.openai.options import OpenAIOptions
from tests.test_stream_openai_chat import PROMPTS, WEATHER, client_on, fields

STATELESS = OpenAIOptions(store=False, reasoning_summary="auto")
CASES: dict[str, tuple[str, SamplingParams, cloudburst.RequestOptions]] = {
    "text": ("gpt-4o-mini@responses", SamplingParams(max_new_tokens=64), cloudburst.RequestOptions()),
    "logprobs": (
        "gpt-4o-mini@responses",
        SamplingParams(max_new_tokens=48, logprobs=True, top_logprobs=2),
        cloudburst.RequestOptions(),
    ),
    "tools": ("gpt-4o-mini@responses", SamplingParams(max_new_tokens=64), cloudburst.RequestOptions(tools=[WEATHER])),
    "reasoning": (
        "gpt-5.4@responses",
        SamplingParams(max_new_tokens=900, reasoning_effort="low"),
        cloudburst.RequestOptions(provider=STATELESS),
    ),
    "cut short": ("gpt-4o-mini@responses", SamplingParams(max_new_tokens=16), cloudburst.RequestOptions()),
}


@pytest.mark.parametrize("case", CASES)
def test_a_streamed_response_is_the_same_as_the_unstreamed_one(sim: Simulator, case: str) -> None:
    model, sampling, options = CASES[case]
    plain = client_on(sim, model, sampling=sampling, options=options, stream=False).run(PROMPTS)
    streamed = client_on(sim, model, sampling=sampling, options=options, stream=True).run(PROMPTS)
    assert sim.stats()["streams"] == len(PROMPTS)
    for one, other in zip(plain, streamed, strict=True):
        assert one.ok and other.ok, (one.error, other.error)
        assert fields(other) == fields(one)
        assert other.raw == one.raw  # response.completed carries the very body
    if case == "tools":
        assert any(r.tool_calls for r in streamed)
    if case == "reasoning":
        assert all(r.thoughts and r.thoughts[0].signature for r in streamed)
    if case == "cut short":
        assert all(r.finish_reason == "length" for r in streamed)


@pytest.mark.parametrize("case", ["text", "logprobs", "tools", "reasoning"])
def test_the_openai_sdk_accumulates_the_simulators_stream_into_what_cloudburst_folded(
    sim: Simulator, case: str
) -> None:
    model, sampling, options = CASES[case]
    (response,) = client_on(sim, model, sampling=sampling, options=options, stream=True).run([PROMPTS[1]])
    assert response.ok
    body = {
        key: value
        for key, value in cloudburst.render(model, PROMPTS[1], sampling=sampling, options=options).body.items()
    }
    sdk = openai.OpenAI(base_url=sim.base_urls()["openai"], api_key="sk-test", max_retries=0)
    kinds = []
    with sdk.responses.stream(**body) as stream:
        for event in stream:
            kinds.append(event.type)
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] in ("response.completed", "response.incomplete")
    ours = openai.types.responses.Response.model_validate(response.raw)
    assert _comparable(final.model_dump(exclude_none=True)) == _comparable(ours.model_dump(exclude_none=True))


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    """Without what the SDK adds when it parses (`parsed` text, an `output_text` convenience)."""
    for item in body.get("output", ()):
        for part in item.get("content") or ():
            part.pop("parsed", None)
        item.pop("parsed_arguments", None)
    body.pop("output_text", None)
    return body


def test_a_failed_response_in_the_stream_is_the_error_it_is_online() -> None:
    fold = OpenAIResponsesFold()
    fold.feed("response.created", {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}})
    error = {"code": "server_error", "message": "The server had an error while processing your request."}
    fold.feed(
        "response.failed", {"type": "response.failed", "response": {"id": "resp_1", "status": "failed", "error": error}}
    )
    assert fold.failed is not None and not fold.done
    status, body = fold.failed
    answer = cloudburst.parse("gpt-4o-mini@responses", status, {}, body)
    assert isinstance(answer.error, cloudburst.ServerError) and answer.error.retryable


def test_an_error_event_is_classified_by_its_code() -> None:
    fold = OpenAIResponsesFold()
    fold.feed("error", {"type": "error", "code": "rate_limit_exceeded", "message": "Slow down.", "param": None})
    assert fold.failed is not None
    answer = cloudburst.parse("gpt-4o-mini@responses", *fold.failed[:1], {}, fold.failed[1])
    assert isinstance(answer.error, cloudburst.RateLimitedError)


def test_a_responses_stream_cut_off_is_retried_and_billed(sim: Simulator) -> None:
    from cloudburst._config import RetryPolicy

    sim.configure(faults={"disconnect": 0.5}, seed=2)
    model, sampling, _ = CASES["text"]
    client = client_on(sim, model, sampling=sampling, stream=True, retry=RetryPolicy(max_attempts=8, backoff_base=0.01))
    results = client.run([f"question {i}" for i in range(10)])
    assert all(r.ok for r in results)
    retried = [r for r in results if r.attempts > 1]
    assert retried and all(r.failed_usage.input_tokens > 0 and r.failed_cost > 0 for r in retried)
