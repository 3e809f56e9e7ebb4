"""Cohere v2 as the simulator plays it: the cohere SDK's ClientV2 completes chat, embed and rerank
calls against it, answers validate against our generated models, and limits, faults and errors
come as Cohere's bare messages, which cloudburst classifies right."""

from __future__ import annotations

import base64
import json
from array import array
from typing import Any

import cohere
import httpx
import pytest

import cloudburst
from cloudburst import AuthError, InvalidRequestError, OverloadedError, RateLimitedError, ServerError, Simulator
from cloudburst._tokens import count_text
from cloudburst.generated.cohere.models import ChatResponseV2, EmbedByTypeResponse, RerankResponseV2

MODEL = "command-a-03-2025"
HTTP = httpx.Client()
KEY = {"Authorization": "Bearer sim-cohere"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def post(sim: Simulator, path: str, body: dict[str, Any], headers: dict[str, str] = KEY) -> httpx.Response:
    return HTTP.post(f"{sim.url}/v2/{path}", json=body, headers=headers)


def chat(sim: Simulator, **body: Any) -> dict[str, Any]:
    response = post(sim, "chat", {"model": MODEL, "messages": [{"role": "user", "content": "Hello there"}], **body})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    ChatResponseV2.model_validate(data)
    return data


@pytest.fixture
def client(sim: Simulator) -> cohere.ClientV2:
    return cohere.ClientV2(api_key="sim-cohere", base_url=sim.base_urls()["cohere"])


def test_sdk_chat_completes_and_counts_tokens(client: cohere.ClientV2, sim: Simulator) -> None:
    response = client.chat(model=MODEL, messages=[{"role": "user", "content": "Name three primes."}], max_tokens=200)
    assert response.finish_reason == "COMPLETE" and response.message.content
    text = response.message.content[0].text  # type: ignore[union-attr]
    assert response.usage and response.usage.billed_units and response.usage.tokens
    assert response.usage.billed_units.output_tokens == count_text(text)
    assert response.usage.tokens.input_tokens > response.usage.billed_units.input_tokens  # type: ignore[operator]
    assert sim.env()["CO_API_URL"] == sim.url and sim.env()["CO_API_KEY"]


def test_cut_by_max_tokens_and_stop_sequences(sim: Simulator) -> None:
    cut = chat(sim, max_tokens=3)
    full = chat(sim, max_tokens=1000)
    assert cut["finish_reason"] == "MAX_TOKENS" and cut["usage"]["billed_units"]["output_tokens"] == 3
    text = full["message"]["content"][0]["text"]
    assert text.startswith(cut["message"]["content"][0]["text"])
    assert cloudburst.parse(MODEL, 200, {}, cut).finish_reason == "length"
    word = " " + text.split(" ")[2]
    stopped = chat(sim, max_tokens=1000, stop_sequences=[word])
    assert stopped["finish_reason"] == "STOP_SEQUENCE" and word not in stopped["message"]["content"][0]["text"]


def test_thinking_block_comes_first(sim: Simulator) -> None:
    data = chat(sim, thinking={"type": "enabled", "token_budget": 500}, max_tokens=2000)
    thinking, text = data["message"]["content"]
    assert thinking["type"] == "thinking" and text["type"] == "text"
    parsed = cloudburst.parse(MODEL, 200, {}, data)
    assert parsed.completion == text["text"] and parsed.thoughts[0].thinking == thinking["thinking"]
    assert [c["type"] for c in chat(sim, model="command-a-reasoning-08-2025")["message"]["content"]] == [
        "thinking",
        "text",
    ]
    disabled = chat(sim, model="command-a-reasoning-08-2025", thinking={"type": "disabled"})
    assert [c["type"] for c in disabled["message"]["content"]] == ["text"]


def test_tool_call_with_a_plan(sim: Simulator, client: cohere.ClientV2) -> None:
    asked = [{"role": "user", "content": "Use get_weather for Rome."}]
    data = chat(sim, messages=asked, tools=[WEATHER])
    assert data["finish_reason"] == "TOOL_CALL" and data["message"]["tool_plan"]
    (call,) = data["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather" and "city" in json.loads(call["function"]["arguments"])
    parsed = cloudburst.parse(MODEL, 200, {}, data)
    assert parsed.finish_reason == "tool_calls" and parsed.tool_calls[0].name == "get_weather"
    answered = [
        *asked,
        {"role": "assistant", "tool_calls": [call], "tool_plan": data["message"]["tool_plan"]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
    ]
    assert chat(sim, messages=answered, tools=[WEATHER])["finish_reason"] == "COMPLETE"
    assert chat(sim, messages=asked, tools=[WEATHER], tool_choice="NONE")["finish_reason"] == "COMPLETE"
    forced = client.chat(
        model=MODEL,
        messages=[{"role": "user", "content": "Hi"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="REQUIRED",
    )
    assert forced.finish_reason == "TOOL_CALL"


def test_json_response_format_matches_the_schema(sim: Simulator) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    data = chat(sim, response_format={"type": "json_object", "json_schema": schema})
    assert isinstance(json.loads(data["message"]["content"][0]["text"])["n"], int)


def test_embed_by_type(client: cohere.ClientV2, sim: Simulator) -> None:
    kinds = ["float", "int8", "uint8", "binary", "ubinary", "base64"]
    response = client.embed(
        model="embed-v4.0",
        texts=["red apple", "green pear"],
        input_type="search_document",
        embedding_types=kinds,  # type: ignore[arg-type]
        output_dimension=256,
    )
    embeddings = response.embeddings
    assert embeddings.float_ and len(embeddings.float_) == 2 and len(embeddings.float_[0]) == 256
    assert embeddings.int8 and all(-128 <= x <= 127 for x in embeddings.int8[0])
    assert embeddings.uint8 and all(0 <= x <= 255 for x in embeddings.uint8[0])
    assert embeddings.binary and len(embeddings.binary[0]) == 32 and embeddings.ubinary
    assert embeddings.base64 and list(array("f", base64.b64decode(embeddings.base64[0]))) == pytest.approx(
        embeddings.float_[0], rel=1e-6
    )
    raw = post(sim, "embed", {"model": "embed-v4.0", "texts": ["red apple"], "input_type": "search_query"})
    EmbedByTypeResponse.model_validate(raw.json())
    assert len(raw.json()["embeddings"]["float"][0]) == 1536
    assert raw.json()["meta"]["billed_units"]["input_tokens"] == count_text("red apple")


def test_rerank_orders_by_relevance(client: cohere.ClientV2, sim: Simulator) -> None:
    documents = ["the weather in Paris", "a red apple on a table", "blue sky"]
    response = client.rerank(model="rerank-v3.5", query="red apple", documents=documents, top_n=2)
    assert response.results[0].index == 1 and len(response.results) == 2
    scores = [result.relevance_score for result in response.results]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    raw = post(sim, "rerank", {"model": "rerank-v3.5", "query": "red apple", "documents": documents})
    RerankResponseV2.model_validate(raw.json())
    assert raw.json()["meta"]["billed_units"]["search_units"] == 1


def test_the_same_request_gives_the_same_bytes(sim: Simulator) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Same"}]}
    assert post(sim, "chat", body).content == post(sim, "chat", body).content


def test_errors_in_coheres_shape(sim: Simulator) -> None:
    bad = post(sim, "chat", {"model": MODEL, "messages": [{"role": "robot", "content": "Hi"}]})
    assert bad.status_code == 400 and set(bad.json()) == {"message"}
    assert bad.json()["message"].startswith("invalid request: messages.0")
    assert isinstance(cloudburst.parse(MODEL, 400, bad.headers, bad.content).error, InvalidRequestError)
    sim.configure(keys=frozenset({"good"}))
    denied = post(sim, "chat", {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]})
    assert denied.status_code == 401 and denied.json() == {"message": "invalid api token"}
    assert isinstance(cloudburst.parse(MODEL, 401, denied.headers, denied.content).error, AuthError)


def test_rate_limit_is_429_with_a_message_and_no_limit_headers(sim: Simulator, client: cohere.ClientV2) -> None:
    sim.configure(rpm=2, window_seconds=60)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    responses = [post(sim, "chat", body) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert set(responses[2].json()) == {"message"}
    assert not any("ratelimit" in name or name == "retry-after" for r in responses for name in r.headers)
    assert isinstance(cloudburst.parse(MODEL, 429, responses[2].headers, responses[2].content).error, RateLimitedError)
    with pytest.raises(cohere.TooManyRequestsError):
        client.chat(model=MODEL, messages=[{"role": "user", "content": "Hi"}], request_options={"max_retries": 0})


@pytest.mark.parametrize(("kind", "status", "error"), [("503", 503, OverloadedError), ("500", 500, ServerError)])
def test_server_faults(sim: Simulator, kind: str, status: int, error: type) -> None:
    sim.configure(faults={kind: 1.0})
    response = post(sim, "chat", {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]})
    assert response.status_code == status and set(response.json()) == {"message"}
    assert isinstance(cloudburst.parse(MODEL, status, response.headers, response.content).error, error)
