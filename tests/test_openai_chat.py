"""The pilot adapter, OpenAI Chat Completions: payloads pinned by snapshots, answers parsed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel
from syrupy.assertion import SnapshotAssertion

import cloudburst
from cloudburst import Conversation, Document, Image, OpenAIOptions, RequestOptions, SamplingParams, Simulator
from cloudburst.generated.openai.models import CreateChatCompletionRequest, CreateChatCompletionResponse
from tests.conftest import RECORDED_OPENAI_CHAT
from tests.tools_fixtures import LookupOrder, get_current_weather

MODEL = "gpt-4o-mini"
RECORDED = RECORDED_OPENAI_CHAT

PAYLOADS = {
    "plain_prompt": ("Name three primes.", SamplingParams(), None),
    "system_and_turns": (
        Conversation.system("Answer in French.").user("Hi").assistant("Bonjour !").user("How are you?"),
        SamplingParams(),
        None,
    ),
    "sampling": (
        "Count to five.",
        SamplingParams(temperature=0.3, top_p=0.9, max_new_tokens=64, stop=["6"], seed=42),
        None,
    ),
    "logprobs": ("Hello!", SamplingParams(logprobs=True, top_logprobs=2), None),
    "json_mode": ("Give me a JSON object with a key 'ok'.", SamplingParams(json_mode=True), None),
    "images": (
        Conversation.user(
            ["What differs?", Image(url="https://example.com/a.png"), Image(data=b"\x89PNG", media_type="image/png")]
        ),
        SamplingParams(),
        None,
    ),
    "pdf": (
        Conversation.user(["Summarise.", Document(data=b"%PDF-1.4 tiny", filename="a.pdf")]),
        SamplingParams(),
        None,
    ),
    "provider_options": (
        "Hi",
        SamplingParams(),
        RequestOptions(provider=OpenAIOptions(service_tier="flex", metadata={"job": "nightly"}, store=False)),
    ),
    "tools_auto": ("Weather in Boston?", SamplingParams(), RequestOptions(tools=[get_current_weather, LookupOrder])),
    "tools_forced": (
        "Find order A-1",
        SamplingParams(),
        RequestOptions(
            tools=[LookupOrder], tool_choice="LookupOrder", provider=OpenAIOptions(parallel_tool_calls=False)
        ),
    ),
    "tools_required": (
        "Do something.",
        SamplingParams(),
        RequestOptions(tools=[get_current_weather], tool_choice="required"),
    ),
    "extra_body_and_headers": (
        "Hi",
        SamplingParams(),
        RequestOptions(extra_body={"user": "u-1"}, extra_headers={"OpenAI-Organization": "org-1"}),
    ),
}


@pytest.mark.parametrize("feature", PAYLOADS)
def test_openai_chat_payload(feature: str, snapshot: SnapshotAssertion) -> None:
    prompt, sampling, options = PAYLOADS[feature]
    request = cloudburst.render(MODEL, prompt, sampling, options)
    assert request.headers["Authorization"] == "Bearer <redacted>"
    assert {"method": request.method, "url": request.url, "headers": request.headers, "body": request.body} == snapshot
    CreateChatCompletionRequest.model_validate(request.body)  # valid by OpenAI's published schema


def test_reasoning_model_payload(snapshot: SnapshotAssertion) -> None:
    request = cloudburst.render("gpt-5.4", "Plan a trip.", SamplingParams(reasoning_effort="high", max_new_tokens=4000))
    assert request.body == snapshot
    CreateChatCompletionRequest.model_validate(request.body)


def test_base_url_follows_the_provider_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9999/v1")
    assert cloudburst.render(MODEL, "hi").url == "http://127.0.0.1:9999/v1/chat/completions"


def test_options_of_another_provider_are_refused() -> None:
    from pydantic import BaseModel

    class OtherOptions(BaseModel):
        x: int = 1

    with pytest.raises(
        cloudburst.UnsupportedOptionError, match="OtherOptions applies to none of gpt-4o-mini; it takes OpenAIOptions"
    ):
        cloudburst.render(MODEL, "hi", options=RequestOptions(provider=OtherOptions()))


def test_a_setting_the_api_has_no_place_for_is_refused() -> None:
    from cloudburst.generated.openai import chat

    with pytest.raises(
        cloudburst.UnsupportedOptionError, match=r"OpenAI chat does not support SamplingParams\.thinking_budget"
    ):
        chat.build_body("gpt-4o-mini", Conversation.of("hi"), SamplingParams(thinking_budget=1024), RequestOptions())


def test_provider_options_are_typed() -> None:
    with pytest.raises(ValueError, match="service_tier"):
        OpenAIOptions(service_tier="cheap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown_option"):
        OpenAIOptions(unknown_option=1)  # type: ignore[call-arg]


def test_an_answer_served_by_flex_or_priority_costs_that_tier_s_prices() -> None:
    """The answer's `service_tier` is the tier that served it (OpenAI: it may differ from the
    one asked for), and the registry's prices for it are what OpenAI bills."""
    usage = {
        "prompt_tokens": 1_200,
        "completion_tokens": 300,
        "total_tokens": 1_500,
        "prompt_tokens_details": {"cached_tokens": 1_024, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 256, "audio_tokens": 0},
    }
    costs = {}
    for tier in ("flex", "priority", "default"):
        body = {**RECORDED["Default"]["response"], "service_tier": tier, "usage": usage}
        CreateChatCompletionResponse.model_validate(body)
        response = cloudburst.parse("gpt-5.4", 200, {}, body)
        assert response.service_tier == tier
        costs[tier] = response.cost
        # in a batch the batch rates apply, whatever tier the answer names
        batched = cloudburst.parse("gpt-5.4", 200, {}, body, batch=True)
        assert batched.cost == pytest.approx((176 * 2.5 + 1_024 * 0.25 + 300 * 15.0) / 1e6 / 2, rel=1e-12)
    assert costs["flex"] == pytest.approx((176 * 1.25 + 1_024 * 0.125 + 300 * 7.5) / 1e6, rel=1e-12)
    assert costs["priority"] == pytest.approx((176 * 5.0 + 1_024 * 0.5 + 300 * 30.0) / 1e6, rel=1e-12)
    assert costs["default"] == pytest.approx((176 * 2.5 + 1_024 * 0.25 + 300 * 15.0) / 1e6, rel=1e-12)


def test_parse_recorded_answer() -> None:
    body = RECORDED["Default"]["response"]
    CreateChatCompletionResponse.model_validate(body)
    response = cloudburst.parse("gpt-5.4", 200, {"x-request-id": "req_1"}, json.dumps(body).encode())
    assert response.ok and response.error is None
    assert response.completion == "Hello! How can I assist you today?"
    assert (response.finish_reason, response.raw_finish_reason) == ("stop", "stop")
    assert response.usage == cloudburst.Usage(input_tokens=19, output_tokens=10)
    assert (response.id, response.model, response.provider_model) == (
        "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "gpt-5.4",
        "gpt-5.4",
    )
    assert response.request_id == "req_1" and response.status == 200 and response.raw == body


def test_parse_tool_call_answer_records_the_finish_reason() -> None:
    response = cloudburst.parse("gpt-4o-mini", 200, {}, RECORDED["Functions"]["response"])
    assert response.completion is None
    assert response.finish_reason == "tool_calls"


def test_parse_length_with_reasoning_tokens() -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-5.4",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "", "refusal": None},
                "finish_reason": "length",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 256,
            "total_tokens": 268,
            "completion_tokens_details": {"reasoning_tokens": 256},
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }
    response = cloudburst.parse("gpt-5.4", 200, {}, body)
    assert response.finish_reason == "length"
    assert response.usage.reasoning_tokens == 256 and response.usage.output_tokens == 256
    assert response.cost == pytest.approx((12 * 2.5 + 256 * 15.0) / 1e6)


def error_body(type_: str, code: str | None, message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            429,
            error_body("requests", "rate_limit_exceeded", "Rate limit reached for requests"),
            cloudburst.RateLimitedError,
        ),
        (
            429,
            error_body("insufficient_quota", "insufficient_quota", "You exceeded your current quota"),
            cloudburst.QuotaExceededError,
        ),
        (
            400,
            error_body(
                "invalid_request_error",
                "context_length_exceeded",
                "This model's maximum context length is 128000 tokens.",
            ),
            cloudburst.ContextOverflowError,
        ),
        (
            400,
            error_body("invalid_request_error", None, "Unrecognized request argument supplied: foo"),
            cloudburst.InvalidRequestError,
        ),
        (
            401,
            error_body("invalid_request_error", "invalid_api_key", "Incorrect API key provided"),
            cloudburst.AuthError,
        ),
        (
            403,
            error_body("invalid_request_error", "unsupported_country_region_territory", "Country not supported"),
            cloudburst.PermissionDeniedError,
        ),
        (
            404,
            error_body("invalid_request_error", "model_not_found", "The model does not exist"),
            cloudburst.NotFoundError,
        ),
        (500, error_body("server_error", None, "The server had an error"), cloudburst.ServerError),
        (503, error_body("server_error", None, "The engine is currently overloaded"), cloudburst.OverloadedError),
        (502, b"<html>Bad gateway</html>", cloudburst.ServerError),
    ],
)
def test_errors_are_typed_and_classified(status: int, body: bytes, expected: type[cloudburst.ProviderError]) -> None:
    response = cloudburst.parse(MODEL, status, {"x-request-id": "req_9"}, body)
    assert not response.ok and type(response.error) is expected
    assert response.error.status == status and response.request_id == "req_9"
    assert response.error.retryable == (
        expected in (cloudburst.RateLimitedError, cloudburst.ServerError, cloudburst.OverloadedError)
    )


def test_a_success_status_with_a_broken_body_is_an_invalid_response() -> None:
    response = cloudburst.parse(MODEL, 200, {}, b'{"id": "chatcmpl-1", "choi')
    assert isinstance(response.error, cloudburst.InvalidResponseError)
    assert response.error.retryable and response.raw == '{"id": "chatcmpl-1", "choi'


def test_parse_logprobs_with_top_alternatives() -> None:
    body = RECORDED["Logprobs"]["response"]
    response = cloudburst.parse("gpt-4o-mini", 200, {}, body)
    assert response.logprobs is not None
    assert "".join(t.token for t in response.logprobs) == response.completion
    first = response.logprobs[0]
    assert (first.token, first.logprob) == ("Hello", -0.31725305)
    assert [(t.token, t.logprob) for t in first.top] == [("Hello", -0.31725305), ("Hi", -1.3190403)]
    assert cloudburst.parse("gpt-4o-mini", 200, {}, RECORDED["Default"]["response"]).logprobs is None


class Weather(BaseModel):
    city: str
    celsius: float
    tags: list[str] = []


def test_output_schema_payload_is_strict_json_schema(snapshot: SnapshotAssertion) -> None:
    request = cloudburst.render(MODEL, "Weather in Oslo?", SamplingParams(output_schema=Weather))
    assert request.body["response_format"] == snapshot
    CreateChatCompletionRequest.model_validate(request.body)


def answer(text: str, finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": finish,
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42},
    }


def test_structured_answer_is_parsed_into_the_model() -> None:
    response = cloudburst.parse(
        MODEL, 200, {}, answer('{"city": "Oslo", "celsius": -3.5, "tags": []}'), output_schema=Weather
    )
    assert response.ok and response.parsed == Weather(city="Oslo", celsius=-3.5)
    assert response.parsed_as(Weather) is response.parsed
    raw = cloudburst.parse(MODEL, 200, {}, answer('{"a": 1}'), output_schema={"type": "object"})
    assert raw.parsed == {"a": 1} == raw.parsed_as(dict)


def test_parsed_as_raises_the_responses_error_or_says_what_it_holds() -> None:
    wrong = cloudburst.parse(MODEL, 200, {}, answer('{"city": "Oslo"}'), output_schema=Weather)
    with pytest.raises(cloudburst.InvalidOutputError) as raised:
        wrong.parsed_as(Weather)
    assert raised.value is wrong.error
    limited = cloudburst.parse(MODEL, 429, {}, {"error": {"type": "rate_limit", "message": "slow down"}})
    with pytest.raises(cloudburst.RateLimitedError):
        limited.parsed_as(Weather)
    plain = cloudburst.parse(MODEL, 200, {}, answer("Sunny."))
    with pytest.raises(cloudburst.InvalidOutputError, match="holds nothing, not a Weather: was output_schema=Weather"):
        plain.parsed_as(Weather)
    raw = cloudburst.parse(MODEL, 200, {}, answer('{"city": "Oslo", "celsius": 1}'), output_schema={"type": "object"})
    with pytest.raises(cloudburst.InvalidOutputError, match="holds a dict, not a Weather"):
        raw.parsed_as(Weather)


def test_an_answer_that_breaks_the_schema_is_a_retryable_typed_error() -> None:
    truncated = cloudburst.parse(MODEL, 200, {}, answer('{"city": "Os', "length"), output_schema=Weather)
    assert isinstance(truncated.error, cloudburst.InvalidOutputError) and truncated.error.retryable
    assert truncated.finish_reason == "length" and truncated.usage.output_tokens == 12  # usage is kept
    wrong = cloudburst.parse(MODEL, 200, {}, answer('{"city": "Oslo"}'), output_schema=Weather)
    assert isinstance(wrong.error, cloudburst.InvalidOutputError) and wrong.parsed is None


@pytest.mark.parametrize("feature", PAYLOADS)
def test_payload_conforms_to_the_official_openai_types(feature: str) -> None:
    from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming

    from tests.official_types import problems

    prompt, sampling, options = PAYLOADS[feature]
    body = cloudburst.render(MODEL, prompt, sampling, options).body
    assert problems(body, CompletionCreateParamsNonStreaming) == []


def test_the_official_type_check_catches_wrong_payloads() -> None:
    from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming

    from tests.official_types import problems

    body = cloudburst.render(MODEL, "hi").body
    assert problems({**body, "temprature": 1}, CompletionCreateParamsNonStreaming) == ["body: unknown key 'temprature'"]
    assert problems({**body, "messages": [{"role": "robot", "content": "x"}]}, CompletionCreateParamsNonStreaming)
    assert problems({"model": MODEL}, CompletionCreateParamsNonStreaming) == ["body: missing 'messages'"]


def test_answers_parse_as_the_official_openai_response_type() -> None:
    from openai.types.chat import ChatCompletion

    for example in RECORDED.values():
        ChatCompletion.model_validate(example["response"])


def test_parse_recorded_tool_call() -> None:
    response = cloudburst.parse("gpt-4o-mini", 200, {}, RECORDED["Functions"]["response"])
    assert response.finish_reason == "tool_calls" and response.completion is None
    (call,) = response.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_abc123", "get_current_weather", {"location": "Boston, MA"})


def test_tool_call_with_broken_json_keeps_the_raw_arguments() -> None:
    body = answer("", "tool_calls")
    body["choices"][0]["message"]["tool_calls"] = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_current_weather", "arguments": '{"location": "Bos'},
        }
    ]
    (call,) = cloudburst.parse(MODEL, 200, {}, body).tool_calls
    assert call.parsed_arguments is None and call.raw_arguments == '{"location": "Bos'
    with pytest.raises(
        cloudburst.InvalidOutputError,
        match=r"""arguments for tool 'get_current_weather' \(call call_1\) are not a JSON object: '{"location": "Bos'""",
    ):
        get_current_weather(**call.arguments)


def test_tool_from_function_reads_signature_and_docstring() -> None:
    tool = cloudburst.Tool.from_function(get_current_weather)
    assert tool.name == "get_current_weather"
    assert tool.description == "Get the current weather in a given location."
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "location": {"title": "Location", "type": "string"},
            "unit": {"default": "celsius", "enum": ["celsius", "fahrenheit"], "title": "Unit", "type": "string"},
        },
        "required": ["location"],
    }


def test_tools_need_a_model_that_can_call_them() -> None:
    cloudburst.register_model(
        "test-no-tools", provider="openai", context_window=8192, max_output_tokens=512, replace=True
    )
    with pytest.raises(cloudburst.UnsupportedOptionError, match="test-no-tools cannot call tools"):
        cloudburst.render("test-no-tools", "hi", options=RequestOptions(tools=[get_current_weather]))


def test_tool_choice_must_name_an_offered_tool() -> None:
    with pytest.raises(cloudburst.ConfigurationError, match="tool_choice 'lookup' names no tool offered"):
        cloudburst.render(MODEL, "hi", options=RequestOptions(tools=[LookupOrder], tool_choice="lookup"))


def test_openai_caches_by_itself_so_a_cache_pattern_changes_nothing() -> None:
    plain = cloudburst.render(MODEL, Conversation.system("s").user("u")).body
    assert (
        cloudburst.render(MODEL, Conversation.system("s").user("u"), options=RequestOptions(cache="system")).body
        == plain
    )


def test_refusal_is_its_own_finish_reason() -> None:
    body = answer("", "stop")
    body["choices"][0]["message"] = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    CreateChatCompletionResponse.model_validate(body)
    response = cloudburst.parse(MODEL, 200, {}, body)
    assert (response.finish_reason, response.raw_finish_reason) == ("refusal", "stop")
    assert response.refusal == "I can't help with that." and response.completion is None


@pytest.mark.parametrize("model", ["gpt-5.4", "gpt-5.4@responses"])
def test_the_tier_asked_for_serves_and_prices_the_answer(model: str, sim_env: Simulator) -> None:
    info = cloudburst.get_model(model)
    for asked, served in (("flex", "flex"), ("priority", "priority"), ("auto", "default")):
        client = cloudburst.LLMClient(
            model, options=RequestOptions(provider=OpenAIOptions(service_tier=asked)), progress=None
        )
        (response,) = client.run(["Name three primes."])
        assert response.ok and response.service_tier == served
        assert response.cost == info.cost(response.usage, service_tier=served)
        base = info.cost(response.usage)
        assert response.cost == pytest.approx({"flex": base / 2, "priority": base * 2, "default": base}[served])
