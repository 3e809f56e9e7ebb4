"""Mistral as the simulator plays it: the mistralai SDK completes chats against it under
`/mistral/v1`, reasoning answers come as thinking and text chunks, and limits, faults and errors
come in Mistral's shapes, which cloudburst reads and classifies right."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from mistralai.client import Mistral
from mistralai.client import errors as mistral_errors
from mistralai.client.models import ChatCompletionResponse

import cloudburst
from cloudburst import AuthError, InvalidRequestError, OverloadedError, RateLimitedError, ServerError, Simulator
from cloudburst._tokens import count_text

MODEL = "mistral-small-latest"
HTTP = httpx.Client()
KEY = {"Authorization": "Bearer sim-mistral"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 3}},
            "required": ["city", "days"],
        },
    },
}


def chat(sim: Simulator, headers: dict[str, str] = KEY, **body: Any) -> httpx.Response:
    payload = {"model": MODEL, "messages": [{"role": "user", "content": "Hello there"}], **body}
    return HTTP.post(f"{sim.url}/mistral/v1/chat/completions", json=payload, headers=headers)


def answer(sim: Simulator, **body: Any) -> dict[str, Any]:
    """A 200 answer's body, checked against the mistralai SDK's response model."""
    response = chat(sim, **body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    ChatCompletionResponse.model_validate(data)
    return data


@pytest.fixture
def client(sim: Simulator) -> Mistral:
    return Mistral(api_key="sim-mistral", server_url=sim.base_urls()["mistral"].removesuffix("/v1"))


def test_sdk_completes_and_counts_tokens(client: Mistral) -> None:
    response = client.chat.complete(
        model=MODEL, messages=[{"role": "user", "content": "Name three primes."}], max_tokens=200
    )
    choice = response.choices[0]
    assert choice.finish_reason == "stop" and choice.message and isinstance(choice.message.content, str)
    assert response.object == "chat.completion" and len(response.id) == 32
    assert response.usage.completion_tokens == count_text(choice.message.content)
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_mistral_lives_apart_from_openai(sim: Simulator) -> None:
    assert sim.base_urls()["mistral"] == sim.url + "/mistral/v1"
    assert sim.env()["MISTRAL_BASE_URL"] == sim.url + "/mistral/v1"
    openai = HTTP.post(
        f"{sim.url}/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]},
        headers=KEY,
    )
    assert "system_fingerprint" in openai.json() and "system_fingerprint" not in answer(sim)


def test_cut_by_max_tokens_is_length_and_a_prefix(sim: Simulator) -> None:
    cut = answer(sim, max_tokens=3)
    full = answer(sim, max_tokens=1000)
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["completion_tokens"] == 3
    assert full["choices"][0]["message"]["content"].startswith(cut["choices"][0]["message"]["content"])
    assert cloudburst.parse(MODEL, 200, {}, cut).finish_reason == "length"


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("magistral-medium-latest", {}),
        (MODEL, {"prompt_mode": "reasoning"}),
        ("mistral-medium-latest", {"reasoning_effort": "high"}),
    ],
)
def test_reasoning_answers_thinking_then_text_chunks(sim: Simulator, model: str, extra: dict[str, Any]) -> None:
    data = answer(sim, model=model, max_tokens=2000, **extra)
    thinking, text = data["choices"][0]["message"]["content"]
    assert thinking["type"] == "thinking" and thinking["thinking"][0]["type"] == "text"
    assert text["type"] == "text" and text["text"]
    assert data["usage"]["completion_tokens"] == count_text(thinking["thinking"][0]["text"]) + count_text(text["text"])
    parsed = cloudburst.parse(model, 200, {}, data)
    assert parsed.completion == text["text"] and parsed.thoughts[0].thinking == thinking["thinking"][0]["text"]


def test_tool_calls_when_the_prompt_names_a_tool(sim: Simulator, client: Mistral) -> None:
    asked = [{"role": "user", "content": "Use get_weather for Rome."}]
    data = answer(sim, messages=asked, tools=[WEATHER])
    choice = data["choices"][0]
    (call,) = choice["message"]["tool_calls"]
    assert choice["finish_reason"] == "tool_calls" and call["function"]["name"] == "get_weather"
    assert set(json.loads(call["function"]["arguments"])) == {"city", "days"} and len(call["id"]) == 9
    parsed = cloudburst.parse(MODEL, 200, {}, data)
    assert parsed.finish_reason == "tool_calls" and parsed.tool_calls[0].arguments == json.loads(
        call["function"]["arguments"]
    )
    answered = [
        *asked,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "name": "get_weather", "content": "sunny"},
    ]
    assert answer(sim, messages=answered, tools=[WEATHER])["choices"][0]["finish_reason"] == "stop"
    assert answer(sim, messages=asked, tools=[WEATHER], tool_choice="none")["choices"][0]["finish_reason"] == "stop"
    forced = client.chat.complete(
        model=MODEL,
        messages=[{"role": "user", "content": "Hi"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="any",
    )
    assert forced.choices[0].message and forced.choices[0].message.tool_calls


def test_json_schema_output(sim: Simulator) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    data = answer(sim, response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}})
    assert isinstance(json.loads(data["choices"][0]["message"]["content"])["n"], int)


def test_the_same_request_gives_the_same_bytes(sim: Simulator) -> None:
    assert chat(sim, max_tokens=20).content == chat(sim, max_tokens=20).content


def test_invalid_body_is_422_with_the_detail_list(sim: Simulator, client: Mistral) -> None:
    response = chat(sim, messages=[{"role": "robot", "content": "Hi"}])
    body = response.json()
    assert response.status_code == 422 and body["object"] == "error" and body["type"] == "invalid_request_error"
    assert body["message"]["detail"][0]["loc"][:2] == ["body", "messages"]
    assert isinstance(cloudburst.parse(MODEL, 422, response.headers, response.content).error, InvalidRequestError)
    with pytest.raises(mistral_errors.HTTPValidationError):
        client.chat.complete(model=MODEL, messages=[{"role": "user", "content": "Hi"}], temperature=3.0)


def test_bad_key_is_401(sim: Simulator) -> None:
    sim.configure(keys=frozenset({"good"}))
    response = chat(sim)
    assert response.status_code == 401 and response.json() == {"message": "Unauthorized"}
    assert isinstance(cloudburst.parse(MODEL, 401, response.headers, response.content).error, AuthError)


def test_rate_limits_with_minute_headers(sim: Simulator) -> None:
    sim.configure(rpm=2, tpm=100_000, window_seconds=60)
    responses = [chat(sim) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert [r.headers["x-ratelimit-remaining-req-minute"] for r in responses] == ["1", "0", "0"]
    assert all(r.headers["x-ratelimit-limit-req-minute"] == "2" for r in responses)
    assert all(r.headers["x-ratelimit-limit-tokens-minute"] == "100000" for r in responses)
    assert int(responses[0].headers["x-ratelimit-remaining-tokens-minute"]) < 100_000
    assert responses[2].json() == {"message": "Requests rate limit exceeded"}
    parsed = cloudburst.parse(MODEL, 429, responses[2].headers, responses[2].content)
    assert isinstance(parsed.error, RateLimitedError)
    other = chat(sim, model="mistral-large-latest")
    assert other.status_code == 200 and other.headers["x-ratelimit-remaining-req-minute"] == "1"


def test_no_limits_no_headers(sim: Simulator) -> None:
    assert not any(name.startswith("x-ratelimit") for name in chat(sim).headers)


@pytest.mark.parametrize(("kind", "status", "error"), [("503", 503, OverloadedError), ("500", 500, ServerError)])
def test_server_faults(sim: Simulator, kind: str, status: int, error: type) -> None:
    sim.configure(faults={kind: 1.0})
    response = chat(sim)
    assert response.status_code == status and response.json()["object"] == "error"
    assert isinstance(cloudburst.parse(MODEL, status, response.headers, response.content).error, error)


def test_unserved_mistral_paths_answer_like_its_gateway(sim: Simulator) -> None:
    response = HTTP.post(f"{sim.url}/mistral/v1/fim/completions", json={}, headers=KEY)
    assert response.status_code == 404 and response.json() == {"message": "no Route matched with those values"}
