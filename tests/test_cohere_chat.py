"""Cohere v2 chat: payloads pinned by snapshots and checked against Cohere's published schema
and SDK types; answers parsed; the embed and rerank formats generated beside it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter
from syrupy.assertion import SnapshotAssertion

import cloudburst
from cloudburst import CohereOptions, Conversation, Image, RequestOptions, SamplingParams, ToolResult
from cloudburst.generated.cohere import models
from tests.tools_fixtures import LookupOrder, get_current_weather

MODEL = "command-a-03-2025"


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
    "documents_and_options": (
        "What is our refund window?",
        SamplingParams(top_k=40),
        RequestOptions(provider=CohereOptions(documents=["Refunds within 30 days."], strict_tools=True)),
    ),
    "tools_auto": ("Weather in Boston?", SamplingParams(), RequestOptions(tools=[get_current_weather, LookupOrder])),
    "tools_required": (
        "Do something.",
        SamplingParams(),
        RequestOptions(tools=[get_current_weather], tool_choice="required"),
    ),
}


def check_request(body: dict[str, Any]) -> None:
    import cohere

    models.ChatRequestV2.model_validate(body)  # Cohere's published schema, unknown fields rejected
    for message in body["messages"]:
        TypeAdapter(cohere.ChatMessageV2).validate_python(message)
    for tool in body.get("tools", []):
        cohere.ToolV2.model_validate(tool)


@pytest.mark.parametrize("feature", PAYLOADS)
def test_cohere_chat_payload(feature: str, snapshot: SnapshotAssertion) -> None:
    prompt, sampling, options = PAYLOADS[feature]
    request = cloudburst.render(MODEL, prompt, sampling, options)
    assert request.url == "https://api.cohere.com/v2/chat"
    assert request.headers["Authorization"] == "Bearer <redacted>"
    assert request.body == snapshot
    check_request(request.body)


def test_what_cohere_lacks_is_refused_before_sending() -> None:
    with pytest.raises(cloudburst.UnsupportedOptionError, match="Cohere chat cannot force one tool"):
        cloudburst.render(MODEL, "Hi", options=RequestOptions(tools=[LookupOrder], tool_choice="LookupOrder"))
    with pytest.raises(cloudburst.UnsupportedContentError, match="cannot take image input"):
        cloudburst.render(MODEL, Conversation.user(["What is this?", Image(url="https://example.com/a.png")]))
    auto = cloudburst.render(MODEL, "Hi", options=RequestOptions(tools=[LookupOrder], tool_choice="auto")).body
    assert "tool_choice" not in auto  # auto is Cohere's default
    with pytest.raises(cloudburst.UnsupportedOptionError, match=r"takes temperature from 0(\.0)? to 1(\.0)?, not 1\.5"):
        cloudburst.render(MODEL, "Hi", SamplingParams(temperature=1.5))  # the OpenAPI document's maximum


def answer(message: dict[str, Any], finish: str = "COMPLETE") -> dict[str, Any]:
    return {
        "id": "c14c80c3-18eb-4519-9460-6c92edd8cfb4",
        "finish_reason": finish,
        "message": {"role": "assistant", **message},
        "usage": {
            "billed_units": {"input_tokens": 5, "output_tokens": 7},
            "tokens": {"input_tokens": 71, "output_tokens": 7},
        },
    }


def check_official(body: dict[str, Any]) -> None:
    import cohere

    cohere.V2ChatResponse.model_validate(body)
    models.ChatResponseV2.model_validate(body)


def test_text_answer_bills_the_billed_units() -> None:
    body = answer({"content": [{"type": "text", "text": "2, 3 and 5."}]})
    check_official(body)
    response = cloudburst.parse(MODEL, 200, {"x-request-id": "r1"}, body)
    assert response.ok and response.completion == "2, 3 and 5." and response.finish_reason == "stop"
    assert response.usage == cloudburst.Usage(input_tokens=5, output_tokens=7)
    assert response.request_id == "r1"


def test_thinking_is_kept_apart() -> None:
    body = answer({"content": [{"type": "thinking", "thinking": "Small ones."}, {"type": "text", "text": "2, 3"}]})
    check_official(body)
    response = cloudburst.parse(MODEL, 200, {}, body)
    assert (response.completion, response.thinking) == ("2, 3", "Small ones.")


def test_cut_answer_is_length() -> None:
    response = cloudburst.parse(MODEL, 200, {}, answer({"content": [{"type": "text", "text": "2, 3"}]}, "MAX_TOKENS"))
    assert (response.finish_reason, response.raw_finish_reason) == ("length", "MAX_TOKENS")


def test_an_answer_that_ended_in_error_is_a_typed_error() -> None:
    response = cloudburst.parse(MODEL, 200, {}, answer({"content": []}, "ERROR"))
    assert isinstance(response.error, cloudburst.ServerError) and response.error.retryable


def test_tool_call_then_result_then_answer(snapshot: SnapshotAssertion) -> None:
    call = {
        "id": "get_current_weather_x2t3",
        "type": "function",
        "function": {"name": "get_current_weather", "arguments": '{"location":"Toronto"}'},
    }
    body = answer({"tool_plan": "I will look it up.", "tool_calls": [call]}, "TOOL_CALL")
    check_official(body)
    response = cloudburst.parse(MODEL, 200, {}, body)
    assert response.finish_reason == "tool_calls"
    (tool_call,) = response.tool_calls
    assert (tool_call.name, tool_call.arguments) == ("get_current_weather", {"location": "Toronto"})
    turn = Conversation.user("Weather in Toronto?").add_message(response.message())
    turn = turn.tool([ToolResult(tool_call.id, get_current_weather(**(tool_call.arguments or {})))])
    sent = cloudburst.render(MODEL, turn, options=RequestOptions(tools=[get_current_weather])).body
    assert sent["messages"][1:] == snapshot
    check_request(sent)


def test_embed_and_rerank_formats_are_generated() -> None:
    embed = {"model": "embed-v4.0", "input_type": "search_document", "texts": ["hello"], "embedding_types": ["float"]}
    models.EmbedRequestV2.model_validate(embed)
    with pytest.raises(ValueError, match="textz"):
        models.EmbedRequestV2.model_validate({**embed, "textz": []})
    rerank = {"model": "rerank-v3.5", "query": "refunds", "documents": ["Refunds within 30 days.", "Shipping"]}
    models.RerankRequestV2.model_validate(rerank)
    models.RerankResponseV2.model_validate({"id": "r", "results": [{"index": 0, "relevance_score": 0.98}], "meta": {}})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, cloudburst.RateLimitedError),
        (401, cloudburst.AuthError),
        (402, cloudburst.QuotaExceededError),
        (422, cloudburst.InvalidRequestError),
        (503, cloudburst.OverloadedError),
    ],
)
def test_errors_are_typed_and_classified(status: int, expected: type[cloudburst.ProviderError]) -> None:
    response = cloudburst.parse(MODEL, status, {}, {"id": "e1", "message": "something went wrong"})
    assert type(response.error) is expected and "something went wrong" in str(response.error)
