"""Gemini generateContent: payloads pinned by snapshots and checked against google-genai's
types; answers parsed, including the cases that went wrong elsewhere: thoughts kept apart from
the completion, MAX_TOKENS with no text, thinking switched off, blocked prompts and answers."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from syrupy.assertion import SnapshotAssertion

import cloudburst
from cloudburst import Conversation, Document, GeminiOptions, Image, RequestOptions, SamplingParams, ToolResult
from cloudburst._sim import Simulator
from cloudburst.generated.gemini.models import GenerateContentRequest, GenerateContentResponse
from tests.tools_fixtures import LookupOrder, get_current_weather

MODEL = "gemini-3.8-flash"
BUDGET_MODEL = "gemini-2.5-flash"


class Weather(BaseModel):
    city: str
    celsius: float


PAYLOADS: dict[str, tuple[str, str | Conversation, SamplingParams, RequestOptions | None]] = {
    "plain_prompt": (MODEL, "Name three primes.", SamplingParams(), None),
    "system_and_turns": (
        MODEL,
        Conversation.system("Answer in French.").user("Hi").assistant("Bonjour !").user("How are you?"),
        SamplingParams(),
        None,
    ),
    "sampling": (
        MODEL,
        "Count to five.",
        SamplingParams(temperature=0.3, top_p=0.9, max_new_tokens=64, stop=["6"], seed=42),
        None,
    ),
    "thinking_level": (MODEL, "Plan a trip.", SamplingParams(reasoning_effort="high"), None),
    "thinking_budget_with_thoughts": (
        BUDGET_MODEL,
        "Plan a trip.",
        SamplingParams(thinking_budget=2048),
        RequestOptions(provider=GeminiOptions(include_thoughts=True)),
    ),
    "thinking_off": (BUDGET_MODEL, "Say hi.", SamplingParams(thinking_budget=0), None),
    "json_mode": (MODEL, "Give me a JSON object with a key 'ok'.", SamplingParams(json_mode=True), None),
    "output_schema": (MODEL, "Weather in Oslo?", SamplingParams(output_schema=Weather), None),
    "images_and_files": (
        MODEL,
        Conversation.user(
            [
                "Compare.",
                Image(data=b"\x89PNG", media_type="image/png"),
                Document(data=b"%PDF-1.4 tiny", filename="a.pdf"),
                Document(file_id="https://generativelanguage.googleapis.com/v1beta/files/abc-123"),
            ]
        ),
        SamplingParams(),
        None,
    ),
    "safety_and_options": (
        MODEL,
        "Hi",
        SamplingParams(top_k=40),
        RequestOptions(
            provider=GeminiOptions(
                safety_settings=[{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}],
                media_resolution="MEDIA_RESOLUTION_LOW",
            )
        ),
    ),
    "tools_auto": (
        MODEL,
        "Weather in Boston?",
        SamplingParams(),
        RequestOptions(tools=[get_current_weather, LookupOrder]),
    ),
    "tools_forced": (
        MODEL,
        "Find order A-1",
        SamplingParams(),
        RequestOptions(tools=[LookupOrder], tool_choice="LookupOrder"),
    ),
    "tools_required": (
        MODEL,
        "Do something.",
        SamplingParams(),
        RequestOptions(tools=[get_current_weather], tool_choice="required"),
    ),
}


def check_official_request(body: dict[str, Any]) -> None:
    """Each part of the body against google-genai's types (which forbid unknown fields)."""
    from google.genai import types

    for content in body["contents"]:
        types.Content.model_validate(content)
    if "systemInstruction" in body:
        types.Content.model_validate(body["systemInstruction"])
    for tool in body.get("tools", []):
        types.Tool.model_validate(tool)
    if "toolConfig" in body:
        types.ToolConfig.model_validate(body["toolConfig"])
    for setting in body.get("safetySettings", []):
        types.SafetySetting.model_validate(setting)
    if "generationConfig" in body:
        types.GenerationConfig.model_validate(body["generationConfig"])
    GenerateContentRequest.model_validate(body)


@pytest.mark.parametrize("feature", PAYLOADS)
def test_gemini_payload(feature: str, snapshot: SnapshotAssertion) -> None:
    model, prompt, sampling, options = PAYLOADS[feature]
    request = cloudburst.render(model, prompt, sampling, options)
    name = cloudburst.get_model(model).name
    assert request.url == f"https://generativelanguage.googleapis.com/v1beta/models/{name}:generateContent"
    assert request.headers["x-goog-api-key"] == "<redacted>" and "key=" not in request.url
    assert request.body == snapshot
    check_official_request(request.body)


def test_thinking_can_be_off_only_where_the_model_allows_it() -> None:
    assert cloudburst.render(BUDGET_MODEL, "Hi", SamplingParams(thinking_budget=0)).body["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 0}
    }
    with pytest.raises(cloudburst.UnsupportedOptionError):
        cloudburst.render("gemini-2.5-pro", "Hi", SamplingParams(thinking_budget=0))


def answer(parts: list[dict[str, Any]], finish: str = "STOP", **usage: int) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 20, "totalTokenCount": 32, **usage},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "mYDJaKfbCdGPz7IP4ePu4Q8",
    }


def check_official(body: dict[str, Any]) -> None:
    from google.genai import types

    types.GenerateContentResponse.model_validate(body)
    GenerateContentResponse.model_validate(body)


def test_thoughts_are_thinking_and_never_the_completion() -> None:
    body = answer(
        [
            {"text": "**Weighing the options**\nThe user wants primes.", "thought": True},
            {"text": "2, 3 and 5.", "thoughtSignature": "CiQB0e2Kbw=="},
        ],
        thoughtsTokenCount=300,
    )
    check_official(body)
    response = cloudburst.parse(BUDGET_MODEL, 200, {}, body)
    assert response.completion == "2, 3 and 5."
    assert response.thinking == "**Weighing the options**\nThe user wants primes."
    assert response.usage == cloudburst.Usage(input_tokens=12, output_tokens=320, reasoning_tokens=300)
    info = cloudburst.get_model(BUDGET_MODEL)
    assert response.cost == pytest.approx(info.cost(response.usage)) and response.cost > info.cost(
        cloudburst.Usage(input_tokens=12, output_tokens=20)
    )  # thought tokens are paid for


def test_max_tokens_with_no_text_is_length_not_none() -> None:
    """A thinking model can spend the whole budget thinking: the answer is recorded as cut."""
    body = {
        "candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS", "index": 0}],
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 265, "thoughtsTokenCount": 256},
        "modelVersion": "gemini-2.5-flash",
    }
    check_official(body)
    response = cloudburst.parse(BUDGET_MODEL, 200, {}, body)
    assert response.ok and response.completion == ""
    assert (response.finish_reason, response.raw_finish_reason) == ("length", "MAX_TOKENS")
    assert response.usage.output_tokens == 256 and response.usage.reasoning_tokens == 256


def test_a_blocked_prompt_is_a_typed_error() -> None:
    body = {
        "promptFeedback": {
            "blockReason": "SAFETY",
            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}],
        },
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
        "modelVersion": "gemini-2.5-flash",
    }
    check_official(body)
    response = cloudburst.parse(MODEL, 200, {}, body)
    assert isinstance(response.error, cloudburst.BlockedError) and not response.error.retryable
    assert "blocked the prompt (SAFETY)" in str(response.error) and response.usage.input_tokens == 8


def test_a_withheld_answer_is_a_typed_error() -> None:
    body = answer([], "SAFETY")
    del body["candidates"][0]["content"]
    check_official(body)
    response = cloudburst.parse(MODEL, 200, {}, body)
    assert isinstance(response.error, cloudburst.BlockedError)
    assert response.finish_reason == "content_filter"


def test_no_candidates_is_a_retryable_error() -> None:
    body = {"usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}, "modelVersion": "gemini-2.5-flash"}
    response = cloudburst.parse(MODEL, 200, {}, body)
    assert isinstance(response.error, cloudburst.InvalidResponseError) and response.error.retryable


def test_function_call_then_result_then_answer(snapshot: SnapshotAssertion) -> None:
    """Gemini answers calls without ids and matches results by name; the call's thought
    signature goes back with it, as Gemini 3 requires."""
    call = {
        "functionCall": {"name": "get_current_weather", "args": {"location": "Boston, MA"}},
        "thoughtSignature": "EtUBCtIB",
    }
    body = answer([call])
    check_official(body)
    response = cloudburst.parse(MODEL, 200, {}, body)
    assert response.finish_reason == "tool_calls" and response.raw_finish_reason == "STOP"
    (tool_call,) = response.tool_calls
    assert (tool_call.id, tool_call.name, tool_call.arguments, tool_call.signature) == (
        "call_0",
        "get_current_weather",
        {"location": "Boston, MA"},
        "EtUBCtIB",
    )
    results = [ToolResult(tool_call.id, {"celsius": 21})]
    turn = Conversation.user("Weather in Boston?").add_message(response.message()).tool(results)
    sent = cloudburst.render(MODEL, turn, options=RequestOptions(tools=[get_current_weather])).body
    assert sent["contents"][1:] == snapshot
    assert sent["contents"][1]["parts"][0]["thoughtSignature"] == "EtUBCtIB"
    assert sent["contents"][2]["parts"][0]["functionResponse"]["name"] == "get_current_weather"
    check_official_request(sent)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            429,
            {"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}},
            cloudburst.RateLimitedError,
        ),
        (
            400,
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "status": "INVALID_ARGUMENT",
                }
            },
            cloudburst.AuthError,
        ),
        (
            400,
            {
                "error": {
                    "code": 400,
                    "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
                    "status": "INVALID_ARGUMENT",
                }
            },
            cloudburst.ContextOverflowError,
        ),
        (
            503,
            {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}},
            cloudburst.OverloadedError,
        ),
        (500, {"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}, cloudburst.ServerError),
    ],
)
def test_errors_are_typed_and_classified(
    status: int, body: dict[str, Any], expected: type[cloudburst.ProviderError]
) -> None:
    response = cloudburst.parse(MODEL, status, {}, body)
    assert type(response.error) is expected
    assert response.error.provider_type == body["error"]["status"]


def test_a_rate_limit_says_how_long_to_wait_in_the_body() -> None:
    body = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"},
            ],
        }
    }
    error = cloudburst.parse(MODEL, 429, {}, body).error
    assert isinstance(error, cloudburst.RateLimitedError) and error.retry_after == 37.0
    assert cloudburst.parse("gpt-4.1-mini", 429, {}, {"error": {"message": "slow down"}}).error.retry_after is None


LOGPROBS_ANSWER = {
    "candidates": [
        {
            "content": {"parts": [{"text": "Blue."}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
            "avgLogprobs": -0.0866,
            "logprobsResult": {
                "topCandidates": [
                    {
                        "candidates": [
                            {"token": "Blue", "tokenId": 18478, "logProbability": -0.1732},
                            {"token": "Red", "tokenId": 8320, "logProbability": -2.0518},
                        ]
                    },
                    {"candidates": [{"token": ".", "tokenId": 235265, "logProbability": 0.0}]},
                ],
                "chosenCandidates": [
                    {"token": "Blue", "tokenId": 18478, "logProbability": -0.1732},
                    {"token": ".", "tokenId": 235265, "logProbability": 0.0},
                ],
                "logProbabilitySum": -0.1732,
            },
        }
    ],
    "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 2, "totalTokenCount": 8},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "Z2F0ZXMx",
}


def test_logprobs_are_asked_for_and_read_where_the_model_has_them() -> None:
    sampling = SamplingParams(logprobs=True, top_logprobs=2, thinking_budget=0)
    body = cloudburst.render("gemini-2.5-flash", "Sky colour?", sampling).body
    assert body["generationConfig"]["responseLogprobs"] is True and body["generationConfig"]["logprobs"] == 2
    GenerateContentRequest.model_validate({k: v for k, v in body.items() if k != "model"})
    response = cloudburst.parse("gemini-2.5-flash", 200, {}, LOGPROBS_ANSWER)
    assert response.logprobs is not None
    blue, stop = response.logprobs
    assert (blue.token, blue.logprob, [(t.token, t.logprob) for t in blue.top]) == (
        "Blue",
        -0.1732,
        [("Blue", -0.1732), ("Red", -2.0518)],
    )
    assert (stop.token, stop.logprob, len(stop.top)) == (".", 0.0, 1)
    GenerateContentResponse.model_validate(LOGPROBS_ANSWER)
    with pytest.raises(cloudburst.UnsupportedOptionError, match=r"gemini-3\.8-flash does not support logprobs"):
        cloudburst.render(MODEL, "Sky colour?", SamplingParams(logprobs=True))


def test_the_simulator_answers_logprobs_as_gemini_does(sim_env: Simulator) -> None:
    from google.genai import types

    client = cloudburst.LLMClient(
        "gemini-2.5-flash-lite", sampling=SamplingParams(logprobs=True, top_logprobs=3), progress=None
    )
    (response,) = client.run(["Name a colour."])
    assert response.ok and response.logprobs and response.completion
    assert "".join(t.token for t in response.logprobs) == response.completion
    assert all(len(t.top) == 3 and t.top[0].token == t.token for t in response.logprobs)
    official = types.GenerateContentResponse.model_validate(response.raw)
    assert official.candidates and official.candidates[0].logprobs_result is not None


CHART = Image(data=b"\x89PNG\r\n\x1a\nchart", media_type="image/png")
REPORT = Document(data=b"%PDF-1.4 tiny", filename="q3.pdf")


def chart_turn() -> Conversation:
    """A call answered with a text, a chart and a report: what a tool that renders files returns."""
    call = cloudburst.ToolCall("call_7", "render_chart", {"quarter": "Q3"}, '{"quarter": "Q3"}')
    result = ToolResult("call_7", ["Revenue by region, Q3.", CHART, REPORT])
    return Conversation.user("Chart Q3 revenue.").assistant([call]).tool([result]).user("What stands out?")


def test_gemini_3_takes_images_and_documents_in_a_function_response(snapshot: SnapshotAssertion) -> None:
    body = cloudburst.render(MODEL, chart_turn()).body
    response = body["contents"][2]["parts"][0]["functionResponse"]
    assert response["response"] == {"output": "Revenue by region, Q3."}
    assert [part["inlineData"]["mimeType"] for part in response["parts"]] == ["image/png", "application/pdf"]
    assert body["contents"][1:] == snapshot
    check_official_request(body)  # google-genai's FunctionResponse.parts (FunctionResponsePart)
    # a text-only result has no parts
    plain = Conversation.user("Hi").assistant([cloudburst.ToolCall("c", "f", {}, "{}")]).tool([ToolResult("c", "ok")])
    assert "parts" not in cloudburst.render(MODEL, plain).body["contents"][2]["parts"][0]["functionResponse"]


def test_gemini_2_5_refuses_media_in_a_function_response_before_sending() -> None:
    with pytest.raises(
        cloudburst.UnsupportedContentError,
        match=r"gemini-2\.5-flash cannot take document or image in a tool result \(call 'call_7'\): no tool_result_media",
    ):
        cloudburst.render(BUDGET_MODEL, chart_turn())
    texts = (
        Conversation.user("Hi").assistant([cloudburst.ToolCall("c", "f", {}, "{}")]).tool([ToolResult("c", ["a", "b"])])
    )
    assert cloudburst.render(BUDGET_MODEL, texts).body["contents"][2]["parts"][0]["functionResponse"]["response"] == {
        "output": "a\nb"
    }
