"""Gemini as the simulator plays it: google-genai completes calls against it and its answers
validate against the SDK's own types; thinking, MAX_TOKENS without text, function calls, JSON,
safety blocks, limits and faults come in Gemini's shapes and cloudburst reads each right."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

import cloudburst
from cloudburst import (
    AuthError,
    BlockedError,
    InvalidRequestError,
    OverloadedError,
    RateLimitedError,
    ServerError,
    Simulator,
)
from cloudburst._tokens import count_text
from cloudburst.generated.gemini.models import GenerateContentResponse

MODEL = "gemini-2.5-flash"
HTTP = httpx.Client()
KEY = {"x-goog-api-key": "AIza-test"}
WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parametersJsonSchema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 3}},
        "required": ["city", "days"],
    },
}


def generate(sim: Simulator, body: dict[str, Any], model: str = MODEL, headers: dict[str, str] = KEY) -> httpx.Response:
    return HTTP.post(f"{sim.url}/v1beta/models/{model}:generateContent", json=body, headers=headers)


def answer(sim: Simulator, model: str = MODEL, **body: Any) -> dict[str, Any]:
    """A 200 answer's body, checked against google-genai's and cloudburst's response models."""
    response = generate(sim, {"contents": [{"role": "user", "parts": [{"text": "Hello there"}]}], **body}, model)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    types.GenerateContentResponse.model_validate(data)
    GenerateContentResponse.model_validate(data)
    return data


@pytest.fixture
def client(sim: Simulator) -> genai.Client:
    return genai.Client(api_key="AIza-test", http_options={"base_url": sim.url})


def test_sdk_completes_and_reads_text_and_usage(client: genai.Client) -> None:
    response = client.models.generate_content(
        model="gemini-2.5-flash-lite",
        contents="Name three primes.",
        config=types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=500),
    )
    assert response.text and response.text.endswith(".")
    candidate = response.candidates[0]  # type: ignore[index]
    assert candidate.finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage is not None and usage.candidates_token_count == count_text(response.text)
    assert usage.prompt_token_count and usage.prompt_token_count >= count_text("Name three primes.")
    assert usage.thoughts_token_count is None  # 2.5 Flash-Lite does not think unless asked
    assert response.model_version == "gemini-2.5-flash-lite" and response.response_id


def test_cut_by_max_output_tokens_is_max_tokens_and_a_prefix(sim: Simulator) -> None:
    off = {"thinkingConfig": {"thinkingBudget": 0}}
    cut = answer(sim, generationConfig={"maxOutputTokens": 3, **off})
    full = answer(sim, generationConfig={"maxOutputTokens": 1000, **off})
    assert cut["candidates"][0]["finishReason"] == "MAX_TOKENS" and cut["usageMetadata"]["candidatesTokenCount"] == 3
    assert "thoughtsTokenCount" not in cut["usageMetadata"]
    assert full["candidates"][0]["content"]["parts"][0]["text"].startswith(
        cut["candidates"][0]["content"]["parts"][0]["text"]
    )


def test_gemini_max_tokens_without_text_is_length(sim: Simulator) -> None:
    """A thinking budget at or above maxOutputTokens spends all of it thinking."""
    body = {"generationConfig": {"maxOutputTokens": 1000, "thinkingConfig": {"thinkingBudget": 1024}}}
    data = answer(sim, **body)
    candidate = data["candidates"][0]
    assert candidate["finishReason"] == "MAX_TOKENS" and candidate["content"] == {"role": "model"}
    assert data["usageMetadata"]["thoughtsTokenCount"] == 1000 and "candidatesTokenCount" not in data["usageMetadata"]
    parsed = cloudburst.parse(MODEL, 200, {}, data)
    assert parsed.error is None and parsed.finish_reason == "length" and parsed.completion == ""
    assert parsed.usage.reasoning_tokens == 1000 and parsed.usage.output_tokens == 1000


def test_thoughts_come_apart_only_with_include_thoughts(sim: Simulator, client: genai.Client) -> None:
    thinking = {"thinkingBudget": 256}
    hidden = answer(sim, generationConfig={"thinkingConfig": thinking})
    assert [set(part) for part in hidden["candidates"][0]["content"]["parts"]] == [{"text"}]
    assert hidden["usageMetadata"]["thoughtsTokenCount"] == 256
    shown = answer(sim, generationConfig={"thinkingConfig": {**thinking, "includeThoughts": True}})
    thought, text = shown["candidates"][0]["content"]["parts"]
    assert thought["thought"] is True and thought["text"] and "thought" not in text
    parsed = cloudburst.parse(MODEL, 200, {}, shown)
    assert parsed.completion == text["text"] and [t.thinking for t in parsed.thoughts] == [thought["text"]]
    sdk = client.models.generate_content(
        model=MODEL,
        contents="Hello there",
        config=types.GenerateContentConfig(
            thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_level="LOW")
        ),
    )
    assert sdk.usage_metadata and sdk.usage_metadata.thoughts_token_count
    assert sdk.text and "thought" not in sdk.text


def test_thinking_off_and_where_it_cannot_be(sim: Simulator) -> None:
    off = answer(sim, generationConfig={"thinkingConfig": {"thinkingBudget": 0}})
    assert "thoughtsTokenCount" not in off["usageMetadata"]
    assert "thoughtsTokenCount" in answer(sim)["usageMetadata"]  # 2.5 Flash thinks by default
    refused = generate(
        sim,
        {"contents": [{"parts": [{"text": "Hi"}]}], "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}},
        "gemini-2.5-pro",
    )
    assert refused.status_code == 400 and "only works in thinking mode" in refused.json()["error"]["message"]


def test_function_call_when_the_prompt_names_a_declared_function(sim: Simulator, client: genai.Client) -> None:
    asked = [{"role": "user", "parts": [{"text": "Use get_weather for Rome."}]}]
    data = answer(sim, contents=asked, tools=[{"functionDeclarations": [WEATHER]}])
    (part,) = data["candidates"][0]["content"]["parts"]
    assert part["functionCall"]["name"] == "get_weather" and set(part["functionCall"]["args"]) == {"city", "days"}
    assert part["thoughtSignature"]
    parsed = cloudburst.parse(MODEL, 200, {}, data)
    assert parsed.finish_reason == "tool_calls" and parsed.tool_calls[0].name == "get_weather"
    answered = [
        *asked,
        {"role": "model", "parts": [part]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}}]},
    ]
    assert (
        "text"
        in answer(sim, contents=answered, tools=[{"functionDeclarations": [WEATHER]}])["candidates"][0]["content"][
            "parts"
        ][-1]
    )
    declined = answer(
        sim,
        contents=asked,
        tools=[{"functionDeclarations": [WEATHER]}],
        toolConfig={"functionCallingConfig": {"mode": "NONE"}},
    )
    assert "text" in declined["candidates"][0]["content"]["parts"][-1]
    forced = client.models.generate_content(
        model=MODEL,
        contents="Hi",
        config=types.GenerateContentConfig(
            tools=[types.Tool(function_declarations=[types.FunctionDeclaration(**WEATHER)])],  # type: ignore[arg-type]
            tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")),
        ),
    )
    assert forced.function_calls and forced.function_calls[0].name == "get_weather"


def test_json_mode_matches_the_response_schema(sim: Simulator, client: genai.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "rain": {"type": "boolean"}},
        "required": ["city", "rain"],
    }
    data = answer(sim, generationConfig={"responseMimeType": "application/json", "responseJsonSchema": schema})
    value = json.loads(data["candidates"][0]["content"]["parts"][0]["text"])
    assert isinstance(value["city"], str) and isinstance(value["rain"], bool)
    sdk = client.models.generate_content(
        model=MODEL,
        contents="Weather?",
        config=types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema={"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "required": ["n"]},
        ),
    )
    assert isinstance(json.loads(sdk.text or "")["n"], int)


def test_snake_case_fields_are_read_like_camel_case(sim: Simulator) -> None:
    camel = answer(sim, generationConfig={"maxOutputTokens": 5, "thinkingConfig": {"thinkingBudget": 0}})
    snake = answer(sim, generation_config={"max_output_tokens": 5, "thinking_config": {"thinking_budget": 0}})
    assert camel == snake


def test_safety_blocks_only_when_configured(sim: Simulator) -> None:
    assert "promptFeedback" not in answer(sim)
    sim.configure(blocked_fraction=1.0)
    data = answer(sim)
    assert data["promptFeedback"]["blockReason"] == "SAFETY" and "candidates" not in data
    assert isinstance(cloudburst.parse(MODEL, 200, {}, data).error, BlockedError)


def test_the_same_request_gives_the_same_bytes(sim: Simulator) -> None:
    body = {"contents": [{"parts": [{"text": "Same"}]}], "generationConfig": {"maxOutputTokens": 50}}
    assert generate(sim, body).content == generate(sim, body).content
    other = {**body, "contents": [{"parts": [{"text": "Other"}]}]}
    assert generate(sim, other).content != generate(sim, body).content


def test_invalid_body_is_invalid_argument(sim: Simulator, client: genai.Client) -> None:
    response = generate(sim, {"contents": [{"parts": [{"txt": "Hi"}]}]})
    error = response.json()["error"]
    assert response.status_code == 400 and error["status"] == "INVALID_ARGUMENT" and error["code"] == 400
    assert 'Unknown name "txt"' in error["message"]
    parsed = cloudburst.parse(MODEL, 400, response.headers, response.content)
    assert isinstance(parsed.error, InvalidRequestError)
    assert generate(sim, {"contents": []}).json()["error"]["status"] == "INVALID_ARGUMENT"


def test_bad_key_is_auth_and_the_key_is_a_header(sim: Simulator) -> None:
    sim.configure(keys=frozenset({"AIza-good"}))
    bad = generate(sim, {"contents": [{"parts": [{"text": "Hi"}]}]})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert isinstance(cloudburst.parse(MODEL, 400, bad.headers, bad.content).error, AuthError)
    missing = generate(sim, {"contents": [{"parts": [{"text": "Hi"}]}]}, headers={})
    assert missing.status_code == 403 and missing.json()["error"]["status"] == "PERMISSION_DENIED"
    assert generate(
        sim, {"contents": [{"parts": [{"text": "Hi"}]}]}, headers={"x-goog-api-key": "AIza-good"}
    ).is_success


def test_rate_limit_is_resource_exhausted_with_retry_info_and_no_headers(sim: Simulator, client: genai.Client) -> None:
    sim.configure(rpm=2, window_seconds=60)
    responses = [generate(sim, {"contents": [{"parts": [{"text": "Hi"}]}]}) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert not any(name.startswith("x-ratelimit") or name == "retry-after" for r in responses for name in r.headers)
    error = responses[2].json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED" and error["code"] == 429
    retry = next(d for d in error["details"] if d["@type"] == "type.googleapis.com/google.rpc.RetryInfo")
    assert retry["retryDelay"].endswith("s") and int(retry["retryDelay"][:-1]) >= 1
    assert isinstance(cloudburst.parse(MODEL, 429, responses[2].headers, responses[2].content).error, RateLimitedError)
    assert sim.stats()["rate_limited"] == {"requests": 1}
    with pytest.raises(errors.ClientError) as raised:
        client.models.generate_content(model=MODEL, contents="Hi")
    assert raised.value.code == 429 and raised.value.status == "RESOURCE_EXHAUSTED"
    assert generate(sim, {"contents": [{"parts": [{"text": "Hi"}]}]}, "gemini-2.5-pro").status_code == 200


@pytest.mark.parametrize(
    ("kind", "status", "name", "error"),
    [("503", 503, "UNAVAILABLE", OverloadedError), ("500", 500, "INTERNAL", ServerError)],
)
def test_server_faults_in_googles_shape(sim: Simulator, kind: str, status: int, name: str, error: type) -> None:
    sim.configure(faults={kind: 1.0})
    response = generate(sim, {"contents": [{"parts": [{"text": "Hi"}]}]})
    assert response.status_code == status and response.json()["error"]["status"] == name
    assert isinstance(cloudburst.parse(MODEL, status, response.headers, response.content).error, error)


def test_text_and_thought_parts_are_not_tool_calls(sim: Simulator) -> None:
    plain = cloudburst.parse(MODEL, 200, {}, answer(sim))
    assert plain.tool_calls == [] and plain.finish_reason == "stop"
    data = answer(
        sim,
        contents=[{"role": "user", "parts": [{"text": "Use get_weather for Rome."}]}],
        tools=[{"functionDeclarations": [WEATHER]}],
        generationConfig={"thinkingConfig": {"thinkingBudget": 128, "includeThoughts": True}},
    )
    assert [set(part) for part in data["candidates"][0]["content"]["parts"]] == [
        {"text", "thought"},
        {"functionCall", "thoughtSignature"},
    ]
    assert [call.name for call in cloudburst.parse(MODEL, 200, {}, data).tool_calls] == ["get_weather"]


def test_unserved_gemini_paths_answer_not_found_in_googles_shape(sim: Simulator) -> None:
    response = HTTP.post(f"{sim.url}/v1beta/models/{MODEL}:countTokens", json={}, headers=KEY)
    assert response.status_code == 404 and response.json()["error"]["status"] == "NOT_FOUND"


def test_logprobs_where_the_model_has_them(sim: Simulator, client: genai.Client) -> None:
    config = types.GenerateContentConfig(response_logprobs=True, logprobs=2)
    reply = client.models.generate_content(model=MODEL, contents="Name a colour.", config=config)
    (candidate,) = reply.candidates or []
    result = candidate.logprobs_result
    assert result is not None and result.chosen_candidates and result.top_candidates
    assert len(result.chosen_candidates) == len(result.top_candidates)
    assert "".join(c.token or "" for c in result.chosen_candidates) == reply.text
    assert candidate.avg_logprobs is not None and candidate.avg_logprobs <= 0
    refused = generate(
        sim,
        {"contents": [{"parts": [{"text": "Hi"}]}], "generationConfig": {"responseLogprobs": True}},
        "gemini-3.8-flash",
    )
    assert refused.status_code == 400 and refused.json()["error"]["message"] == (
        "Logprobs is not supported for the current model."
    )


def test_a_multimodal_function_response_is_taken_by_gemini_3_only(client: genai.Client, sim: Simulator) -> None:
    chart = types.FunctionResponsePart(inline_data=types.FunctionResponseBlob(mime_type="image/png", data=b"\x89PNG"))
    contents = [
        types.Content(role="user", parts=[types.Part(text="Chart Q3.")]),
        types.Content(role="model", parts=[types.Part(function_call=types.FunctionCall(name="chart", args={}))]),
        types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(name="chart", response={"output": "Q3"}, parts=[chart])
                )
            ],
        ),
    ]
    answered = client.models.generate_content(model="gemini-3.8-flash", contents=contents)
    assert answered.candidates and answered.usage_metadata
    plain = client.models.generate_content(model="gemini-3.8-flash", contents=contents[:2])
    assert answered.usage_metadata.prompt_token_count > (
        plain.usage_metadata.prompt_token_count or 0
    )  # the image counts
    with pytest.raises(errors.ClientError, match="Multimodal function responses are not supported"):
        client.models.generate_content(model=MODEL, contents=contents)
