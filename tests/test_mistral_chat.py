"""Mistral's native chat API: payloads pinned by snapshots and checked against Mistral's
published schema and SDK types; answers parsed, reasoning chunks included."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from syrupy.assertion import SnapshotAssertion

import cloudburst
from cloudburst import Conversation, Document, Image, MistralOptions, RequestOptions, SamplingParams, ToolResult
from cloudburst._sim import Simulator
from cloudburst.generated.mistral.models import ChatCompletionRequest
from tests.official_types import problems
from tests.tools_fixtures import LookupOrder, get_current_weather

MODEL = "mistral-medium-latest"


class Weather(BaseModel):
    city: str
    celsius: float


PAYLOADS: dict[str, tuple[str | Conversation, SamplingParams, RequestOptions | None]] = {
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
    "json_mode": ("Give me a JSON object with a key 'ok'.", SamplingParams(json_mode=True), None),
    "output_schema": ("Weather in Oslo?", SamplingParams(output_schema=Weather), None),
    "images": (
        Conversation.user(
            ["Compare.", Image(url="https://example.com/a.png"), Image(data=b"\x89PNG", media_type="image/png")]
        ),
        SamplingParams(),
        None,
    ),
    "reasoning": ("Plan a trip.", SamplingParams(reasoning_effort="high"), None),
    "provider_options": (
        "Hi",
        SamplingParams(),
        RequestOptions(provider=MistralOptions(safe_prompt=True, presence_penalty=0.5, prompt_cache_key="job-1")),
    ),
    "tools_auto": ("Weather in Boston?", SamplingParams(), RequestOptions(tools=[get_current_weather, LookupOrder])),
    "tools_forced": (
        "Find order A-1",
        SamplingParams(),
        RequestOptions(tools=[LookupOrder], tool_choice="LookupOrder"),
    ),
    "tools_required": (
        "Do something.",
        SamplingParams(),
        RequestOptions(tools=[get_current_weather], tool_choice="required"),
    ),
}


@pytest.mark.parametrize("feature", PAYLOADS)
def test_mistral_chat_payload(feature: str, snapshot: SnapshotAssertion) -> None:
    from mistralai.client.models import ChatCompletionRequestTypedDict

    prompt, sampling, options = PAYLOADS[feature]
    request = cloudburst.render(MODEL, prompt, sampling, options)
    assert request.url == "https://api.mistral.ai/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer <redacted>"
    assert request.body == snapshot
    ChatCompletionRequest.model_validate(request.body)  # Mistral's published schema, unknown fields rejected
    assert problems(request.body, ChatCompletionRequestTypedDict) == []  # and the official SDK's types


def test_what_mistral_lacks_is_refused_before_sending() -> None:
    with pytest.raises(cloudburst.UnsupportedOptionError, match="mistral-medium-latest does not support logprobs"):
        cloudburst.render(MODEL, "Hi", SamplingParams(logprobs=True))
    with pytest.raises(cloudburst.UnsupportedContentError, match="mistral-medium-latest cannot take document"):
        cloudburst.render(MODEL, Conversation.user(["Read.", Document(data=b"%PDF-1.4")]))


def answer(message: dict[str, Any], finish: str = "stop", **usage: int) -> dict[str, Any]:
    return {
        "id": "cmpl-e5cc70bb28c444948073e77776eb30ef",
        "object": "chat.completion",
        "model": "mistral-medium-2604",
        "created": 1745000000,
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 16, "completion_tokens": 34, "total_tokens": 50, **usage},
    }


def check_official(body: dict[str, Any]) -> None:
    from mistralai.client.models import ChatCompletionResponse as OfficialResponse

    OfficialResponse.model_validate(body)
    # (Not our generated ChatCompletionResponse: the published schema requires a `data` field
    # that real answers do not have.)


def test_text_answer() -> None:
    body = answer({"content": "2, 3 and 5.", "tool_calls": None, "prefix": False})
    check_official(body)
    response = cloudburst.parse(MODEL, 200, {}, body)
    assert response.ok and response.completion == "2, 3 and 5." and response.finish_reason == "stop"
    assert response.usage == cloudburst.Usage(input_tokens=16, output_tokens=34)
    assert response.cost == pytest.approx((16 * 1.5 + 34 * 7.5) / 1e6)


def test_reasoning_chunks_are_thinking_never_the_completion() -> None:
    body = answer(
        {
            "content": [
                {"type": "thinking", "thinking": [{"type": "text", "text": "Small primes first."}]},
                {"type": "text", "text": "2, 3 and 5."},
            ]
        }
    )
    check_official(body)
    response = cloudburst.parse("magistral-medium-latest", 200, {}, body)
    assert response.completion == "2, 3 and 5." and response.thinking == "Small primes first."
    follow_up = Conversation.user("Primes?").add_message(response.message()).user("And the next?")
    sent = cloudburst.render("magistral-medium-latest", follow_up).body["messages"][1]
    assert sent["content"][0] == {
        "type": "thinking",
        "thinking": [{"type": "text", "text": "Small primes first."}],
        "signature": None,
    }


def test_length_is_recorded_for_both_cut_reasons() -> None:
    for raw in ("length", "model_length"):
        response = cloudburst.parse(MODEL, 200, {}, answer({"content": "2, 3"}, raw))
        assert (response.finish_reason, response.raw_finish_reason) == ("length", raw)


def test_tool_call_then_result_then_answer(snapshot: SnapshotAssertion) -> None:
    from mistralai.client.models import ChatCompletionRequestTypedDict

    call = {
        "id": "D681PevKs",
        "type": "function",
        "function": {"name": "get_current_weather", "arguments": '{"location": "Paris"}'},
    }
    body = answer({"content": "", "tool_calls": [call]}, "tool_calls")
    check_official(body)
    response = cloudburst.parse(MODEL, 200, {}, body)
    assert response.finish_reason == "tool_calls"
    (tool_call,) = response.tool_calls
    assert (tool_call.id, tool_call.name, tool_call.arguments) == (
        "D681PevKs",
        "get_current_weather",
        {"location": "Paris"},
    )
    question = Conversation.user("Weather in Paris?")
    results = [ToolResult(tool_call.id, get_current_weather(**(tool_call.arguments or {})))]
    turn = question.add_message(response.message()).tool(results)
    sent = cloudburst.render(MODEL, turn, options=RequestOptions(tools=[get_current_weather])).body
    assert sent["messages"][1:] == snapshot
    assert sent["messages"][2]["tool_call_id"] == "D681PevKs"
    ChatCompletionRequest.model_validate(sent)
    assert problems(sent, ChatCompletionRequestTypedDict) == []


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, {"message": "Requests rate limit exceeded"}, cloudburst.RateLimitedError),
        (401, {"message": "Unauthorized", "request_id": "a1"}, cloudburst.AuthError),
        (
            400,
            {
                "object": "error",
                "message": "Prompt contains 300000 tokens and 0 draft tokens, too large for model with 262144 maximum context length",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            },
            cloudburst.ContextOverflowError,
        ),
        (
            422,
            {"object": "error", "message": {"detail": []}, "type": "invalid_request_message_error"},
            cloudburst.InvalidRequestError,
        ),
        (
            503,
            {"object": "error", "message": "Service unavailable", "type": "internal_server_error"},
            cloudburst.OverloadedError,
        ),
    ],
)
def test_errors_are_typed_and_classified(
    status: int, body: dict[str, Any], expected: type[cloudburst.ProviderError]
) -> None:
    response = cloudburst.parse(MODEL, status, {}, body)
    assert type(response.error) is expected and response.completion is None


def test_mistral_small_thinks_when_asked(sim_env: Simulator) -> None:
    """Mistral Small 4 is a hybrid: instant replies by default, thinking for reasoning_effort
    "high" (its only other value, so "medium" goes as "high")."""
    body = cloudburst.render("mistral-small-latest", "hi", SamplingParams(reasoning_effort="medium")).body
    assert body["reasoning_effort"] == "high"
    assert cloudburst.render("mistral-small-latest", "hi", SamplingParams(temperature=0.3)).body["temperature"] == 0.3
    client = cloudburst.LLMClient(
        "mistral-small-latest", sampling=SamplingParams(reasoning_effort="high"), progress=None
    )
    (response,) = client.run(["Why is the sea salty?"])
    assert response.ok and response.thinking and response.completion
    assert response.usage.output_tokens > 0
