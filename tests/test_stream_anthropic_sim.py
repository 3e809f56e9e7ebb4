"""Anthropic's Messages API and Bedrock's two streaming APIs streamed against the simulator, end to
end: the same prompt both ways gives the same response, field by field; the anthropic SDK (its
first-party and Bedrock clients) and botocore, reading the simulator's streams over a socket,
agree with what cloudburst folded; an error event mid-stream is classified as the same error
online; a stream cut off is retried and what arrived is billed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import botocore.session
import pytest
from anthropic.types import Message
from botocore.config import Config

from cloudburst import APIResponse, OverloadedError, SamplingParams, Simulator, render
from cloudburst._client import LLMClient
from cloudburst._config import RetryPolicy, Timeouts
from cloudburst._deltas import Delta, TextDelta, ThinkingDelta, ToolCallDelta
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
MODELS = {
    "anthropic": "claude-haiku-4-5",
    "invoke": "bedrock-claude-haiku-4-5",
    "converse": "bedrock-claude-haiku-4-5@converse",
}
SETTINGS = {
    "text": (SamplingParams(max_new_tokens=64), RequestOptions()),
    "tools": (SamplingParams(max_new_tokens=64), RequestOptions(tools=[WEATHER])),
    "thinking": (SamplingParams(max_new_tokens=1500, thinking_budget=1024), RequestOptions()),
}
CASES = [f"{api} {setting}" for api in MODELS for setting in SETTINGS]
KEYS = {"anthropic": "sk-ant-test", "bedrock": "ABSK-test"}
MODEL_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def client_on(sim: Simulator, model: str, **settings: Any) -> LLMClient:
    settings.setdefault("sampling", SamplingParams(max_new_tokens=64))
    return LLMClient(model, base_urls=sim.base_urls(), api_keys=KEYS, progress=None, seed=1, **settings)


def sent(model: str, case: str) -> dict[str, Any]:
    """The body cloudburst sends for the tool prompt, without the model (an SDK adds it)."""
    sampling, options = SETTINGS[case.split()[1]]
    body = dict(render(model, PROMPTS[1], sampling=sampling, options=options).body)
    return {key: value for key, value in body.items() if key not in ("model", "anthropic_version")}


def streamed_one(sim: Simulator, case: str) -> APIResponse:
    api, setting = case.split()
    sampling, options = SETTINGS[setting]
    (response,) = client_on(sim, MODELS[api], sampling=sampling, options=options, stream=True).run([PROMPTS[1]])
    assert response.ok, response.error
    return response


@pytest.mark.parametrize("case", CASES)
def test_a_streamed_answer_is_the_same_response_as_the_unstreamed_one(sim: Simulator, case: str) -> None:
    api, setting = case.split()
    sampling, options = SETTINGS[setting]
    plain = client_on(sim, MODELS[api], sampling=sampling, options=options, stream=False).run(PROMPTS)
    streamed = client_on(sim, MODELS[api], sampling=sampling, options=options, stream=True).run(PROMPTS)
    assert sim.stats()["streams"] == len(PROMPTS)
    for one, other in zip(plain, streamed, strict=True):
        assert one.ok and other.ok, (one.error, other.error)
        assert fields(other) == fields(one)
        assert other.raw == one.raw
    if setting == "tools":
        assert any(r.tool_calls for r in streamed)
    if setting == "thinking":
        assert all(r.thoughts and r.thoughts[0].signature for r in streamed)


@pytest.mark.parametrize("case", ["anthropic text", "anthropic tools", "anthropic thinking"])
def test_the_anthropic_sdk_folds_the_simulators_stream_as_cloudburst_does(sim: Simulator, case: str) -> None:
    response = streamed_one(sim, case)
    sdk = anthropic.Anthropic(api_key="sk-ant-test", base_url=sim.url, max_retries=0)
    with sdk.messages.stream(model=MODELS["anthropic"], **sent(MODELS["anthropic"], case)) as stream:
        final = stream.get_final_message()
    assert final.model_dump() == Message.model_validate(response.raw).model_dump()


@pytest.mark.parametrize("case", ["invoke text", "invoke tools", "invoke thinking"])
def test_the_anthropic_bedrock_client_reads_the_simulators_invoke_stream_as_cloudburst_does(
    sim: Simulator, case: str
) -> None:
    """AnthropicBedrock posts to /invoke-with-response-stream and reads the event stream with
    botocore, each chunk as one of Anthropic's events."""
    response = streamed_one(sim, case)
    sdk = anthropic.AnthropicBedrock(api_key="ABSK-test", aws_region="us-east-1", base_url=sim.url, max_retries=0)
    version = {"anthropic_version": "bedrock-2023-05-31"}  # the SDK's own default is not Bedrock's
    with sdk.messages.stream(model=MODEL_ID, **sent(MODELS["invoke"], case), extra_body=version) as stream:
        final = stream.get_final_message()
    assert final.model_dump() == Message.model_validate(response.raw).model_dump()


def _botocore_stream(sim: Simulator, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    client = botocore.session.get_session().create_client(
        "bedrock-runtime",
        endpoint_url=sim.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDSIMULATOR",
        aws_secret_access_key="sim-secret",
        config=Config(retries={"max_attempts": 1}),
    )
    yield from client.converse_stream(modelId=MODEL_ID, **request)["stream"]


@pytest.mark.parametrize("case", ["converse text", "converse tools", "converse thinking"])
def test_botocore_reads_the_simulators_converse_stream_as_cloudburst_folds_it(sim: Simulator, case: str) -> None:
    """botocore's converse_stream, signed and parsed by the service model, sees the text, the
    reasoning, the tool input and the usage cloudburst folded."""
    sim.configure(aws_secret_access_key="sim-secret")
    response = streamed_one(sim, case)
    text, thinking, signature, tool_input, tools = "", "", None, "", []
    stop, usage = None, None
    for event in _botocore_stream(sim, sent(MODELS["converse"], case)):
        if "contentBlockStart" in event:
            tools.append(event["contentBlockStart"]["start"]["toolUse"])
        delta = event.get("contentBlockDelta", {}).get("delta", {})
        text += delta.get("text", "")
        tool_input += delta.get("toolUse", {}).get("input", "")
        thinking += delta.get("reasoningContent", {}).get("text", "")
        signature = delta.get("reasoningContent", {}).get("signature", signature)
        stop = event.get("messageStop", {}).get("stopReason", stop)
        usage = event.get("metadata", {}).get("usage", usage)
    assert text == (response.completion or "") and stop == response.raw_finish_reason
    assert [(t["toolUseId"], t["name"]) for t in tools] == [(c.id, c.name) for c in response.tool_calls]
    assert ([json.loads(tool_input)] if tool_input else []) == [c.arguments for c in response.tool_calls]
    assert ([(thinking, signature)] if thinking else []) == [(t.thinking, t.signature) for t in response.thoughts]
    assert usage is not None and usage["outputTokens"] == response.usage.output_tokens


@pytest.mark.parametrize(("api", "status"), [("anthropic", 529), ("invoke", 503), ("converse", 503)])
def test_an_overloaded_error_mid_stream_is_classified_as_online_and_retried(
    sim: Simulator, api: str, status: int
) -> None:
    """Anthropic's `event: error` (overloaded_error) and Bedrock's ServiceUnavailableException
    event, after some of the answer: the same OverloadedError an unstreamed answer gets."""
    sim.configure(faults={"503": 1.0})
    (failed,) = client_on(sim, MODELS[api], stream=True, retry=RetryPolicy(max_attempts=1)).run(["hello"])
    assert isinstance(failed.error, OverloadedError) and failed.error.status == status
    assert sim.stats()["streams"] == 1
    (unstreamed,) = client_on(sim, MODELS[api], stream=False, retry=RetryPolicy(max_attempts=1)).run(["hello"])
    assert type(unstreamed.error) is type(failed.error) and unstreamed.error.status == status
    sim.configure(faults={"503": 0.5}, seed=3)
    results = client_on(sim, MODELS[api], stream=True, retry=RetryPolicy(max_attempts=8, backoff_base=0.01)).run(
        [f"question {i}" for i in range(8)]
    )
    assert all(r.ok for r in results) and any(r.attempts > 1 for r in results)


@pytest.mark.parametrize("api", MODELS)
def test_a_stream_cut_off_midway_is_retried_and_what_arrived_is_billed(sim: Simulator, api: str) -> None:
    sim.configure(faults={"disconnect": 0.5}, seed=4)
    client = client_on(sim, MODELS[api], stream=True, retry=RetryPolicy(max_attempts=8, backoff_base=0.01))
    results = client.run([f"question {i}" for i in range(10)])
    assert all(r.ok for r in results)
    retried = [r for r in results if r.attempts > 1]
    assert retried and sim.stats()["faults"]["disconnect"] == sum(r.attempts - 1 for r in results)
    for response in retried:
        assert response.failed_usage.input_tokens > 0 and response.failed_usage.output_tokens > 0
        assert response.failed_cost > 0


def test_bedrock_streams_signed_with_sigv4(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an API key, each streamed request is signed for the streaming path; the simulator
    checks the signature with the secret."""
    from cloudburst import _aws

    sim.configure(aws_secret_access_key="sim-secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSIM")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sim-secret")
    _aws._credentials.cache_clear()
    try:
        for model in (MODELS["invoke"], MODELS["converse"]):
            client = LLMClient(model, base_urls=sim.base_urls(), progress=None, stream=True)
            assert all(r.ok for r in client.run(["hello", "there"]))
    finally:
        _aws._credentials.cache_clear()
    assert sim.stats()["streams"] == 4


@pytest.mark.parametrize("api", ["anthropic", "converse"])
def test_a_stream_that_goes_silent_is_caught_by_the_idle_timeout(sim: Simulator, api: str) -> None:
    sim.configure(faults={"hang": 1.0}, hang_s=2.5)
    client = client_on(
        sim, MODELS[api], stream=True, timeouts=Timeouts(idle=1.0), retry=RetryPolicy(max_attempts=2, backoff_base=0.01)
    )
    (response,) = client.run(["hello"])
    assert response.error is not None and response.error.kind == "stream_interrupted" and response.attempts == 2
    assert "no byte" in response.error.message
    assert response.usage.output_tokens > 0  # the deltas before the silence are billed


@pytest.mark.parametrize("api", MODELS)
def test_client_stream_gives_thinking_text_and_whole_tool_calls_adding_up_to_the_response(
    sim: Simulator, api: str
) -> None:
    """A tool call's input is an object, whole only at its block's stop: it comes as one delta."""
    sampling = SamplingParams(max_new_tokens=1500, thinking_budget=1024)

    async def collect(client: LLMClient, prompt: str) -> tuple[list[Delta], APIResponse | None]:
        stream = client.stream(prompt)
        return [delta async for delta in stream], stream.response

    client = client_on(sim, MODELS[api], sampling=sampling, options=RequestOptions(tools=[WEATHER]))
    deltas, response = asyncio.run(collect(client, PROMPTS[1]))
    assert response is not None and response.ok and response.tool_calls
    thinking = [d.text for d in deltas if isinstance(d, ThinkingDelta)]
    assert len(thinking) > 3 and "".join(thinking) == response.thinking
    calls = [d for d in deltas if isinstance(d, ToolCallDelta)]
    assert [(d.id, d.name, d.arguments) for d in calls] == [
        (c.id, c.name, c.raw_arguments) for c in response.tool_calls
    ]
    (plain,) = client_on(
        sim, MODELS[api], sampling=sampling, options=RequestOptions(tools=[WEATHER]), stream=False
    ).run([PROMPTS[1]])
    assert fields(response) == fields(plain)
    (text_only,) = [asyncio.run(collect(client_on(sim, MODELS[api]), PROMPTS[0]))]
    pieces = [d.text for d in text_only[0] if isinstance(d, TextDelta)]
    assert len(pieces) > 3 and "".join(pieces) == text_only[1].completion
