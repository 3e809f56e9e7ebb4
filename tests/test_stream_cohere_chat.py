"""Cohere's v2 chat stream, both ways: the simulator sends each answer it builds as the typed
events Cohere streams (each one the cohere SDK's own stream types accept), and the fold rebuilds
from them the ChatResponse `/v2/chat` answers, read field by field as the unstreamed one is; a
stream cut before `message-end` has no usage to bill. End to end, the same prompts run streamed
and not give the same responses, and the cohere SDK's `chat_stream`, reading the simulator's
stream, sees what cloudburst folded."""

from __future__ import annotations

import json
from typing import Any

import cohere
import httpx
import pytest
from cohere.core.pydantic_utilities import parse_obj_as
from cohere.v2.types import V2ChatStreamResponse

from cloudburst import APIResponse, SamplingParams, Simulator
from cloudburst._client import LLMClient
from cloudburst._config import RetryPolicy
from cloudburst._options import RequestOptions
from cloudburst._sim.cohere_chat_stream import events
from cloudburst._stream.cohere_chat import CohereChatFold
from cloudburst._stream.sse import Decoder
from cloudburst._tools import Tool
from cloudburst.generated.cohere.chat import parse_body
from tests.responses import same

MODEL = "command-a-03-2025"
HTTP = httpx.Client()
KEY = {"Authorization": "Bearer sim-cohere"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
REQUESTS: dict[str, dict[str, Any]] = {
    "text": {},
    "thinking": {"thinking": {"type": "enabled", "token_budget": 200}},
    "tool_call": {
        "messages": [{"role": "user", "content": "Use get_weather for Rome."}],
        "tools": [WEATHER],
        "thinking": {"type": "enabled"},
    },
    "cut": {"max_tokens": 6},
    "json": {"response_format": {"type": "json_object"}},
}


def answer(sim: Simulator, request: dict[str, Any]) -> dict[str, Any]:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Tell me about rivers."}], **request}
    response = HTTP.post(f"{sim.url}/v2/chat", json=body, headers=KEY)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def events_of(body: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    out = events(body, {})
    assert out[-1] == (None, "[DONE]")
    for name, data in out[:-1]:
        assert name == data["type"]
        assert type(parse_obj_as(V2ChatStreamResponse, data)).__name__.lower().startswith(name.replace("-", ""))
    return out


def fold(stream: list[tuple[str | None, Any]]) -> CohereChatFold:
    folding = CohereChatFold()
    for name, data in stream:
        folding.feed(name, data)
    return folding


@pytest.mark.parametrize("case", sorted(REQUESTS))
def test_folded_stream_is_the_unstreamed_answer(sim: Simulator, case: str) -> None:
    whole = answer(sim, REQUESTS[case])
    folding = fold(events_of(whole))
    assert folding.done and folding.failed is None
    assert folding.body() == whole
    same(parse_body(folding.body()), parse_body(whole))


def test_events_come_in_cohere_order_and_small_pieces(sim: Simulator) -> None:
    whole = answer(sim, REQUESTS["thinking"])
    stream = events_of(whole)[:-1]  # then [DONE]
    names = [name for name, _ in stream]
    assert names[0] == "message-start" and names[-1] == "message-end"
    starts = [index for index, name in enumerate(names) if name == "content-start"]
    assert starts[0] == 1 and names.index("content-end") < starts[1]  # thinking closes before the text opens
    assert names.count("content-delta") > 10
    end = stream[-1][1]["delta"]
    assert end == {"finish_reason": "COMPLETE", "usage": whole["usage"]}


def test_tool_arguments_stream_cut_mid_json(sim: Simulator) -> None:
    whole = answer(sim, REQUESTS["tool_call"])
    stream = events_of(whole)
    names = [name for name, _ in stream]
    assert names.index("tool-plan-delta") < names.index("tool-call-start") < names.index("tool-call-end")
    start = stream[names.index("tool-call-start")][1]["delta"]["message"]["tool_calls"]
    assert start["id"] == whole["message"]["tool_calls"][0]["id"] and start["function"]["arguments"] == ""
    pieces = [
        data["delta"]["message"]["tool_calls"]["function"]["arguments"]
        for name, data in stream
        if name == "tool-call-delta"
    ]
    assert len(pieces) > 1 and "".join(pieces) == whole["message"]["tool_calls"][0]["function"]["arguments"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(pieces[0])
    parsed = parse_body(fold(stream).body())
    assert parsed.finish_reason == "tool_calls" and parsed.tool_calls[0].arguments == json.loads("".join(pieces))


def test_a_stream_cut_before_message_end_has_text_and_no_usage(sim: Simulator) -> None:
    whole = answer(sim, REQUESTS["text"])
    stream = events_of(whole)
    folding = fold(stream[: len(stream) // 2])
    assert not folding.done
    partial, full = parse_body(folding.body()), parse_body(whole)
    assert full.completion and partial.completion and full.completion.startswith(partial.completion)
    assert partial.completion != full.completion and partial.finish_reason is None
    assert partial.usage.output_tokens == 0 == partial.usage.input_tokens


def test_citations_logprobs_and_a_delta_without_its_start_are_kept() -> None:
    citation = {"start": 0, "end": 5, "text": "Hello", "sources": [{"type": "document", "id": "d1"}]}
    logprob = {"text": "Hello", "token_ids": [1, 2], "logprobs": [-0.1, -0.2]}
    stream: list[tuple[str | None, Any]] = [
        ("message-start", {"type": "message-start", "id": "m1", "delta": {"message": {"role": "assistant"}}}),
        ("content-delta", {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Hello"}}},
                           "logprobs": logprob}),
        ("content-delta", {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "!"}}}}),
        ("citation-start", {"type": "citation-start", "index": 0, "delta": {"message": {"citations": citation}}}),
        ("citation-end", {"type": "citation-end", "index": 0}),
        ("message-end", {"type": "message-end", "delta": {"finish_reason": "COMPLETE"}}),
        (None, "[DONE]"),
    ]  # fmt: skip
    assert fold(stream).body() == {
        "id": "m1",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}], "citations": [citation]},
        "finish_reason": "COMPLETE",
        "logprobs": [logprob],
    }


TOOL = Tool(name="get_weather", description="The weather in a city.", parameters=WEATHER["function"]["parameters"])
CASES: dict[str, tuple[SamplingParams, RequestOptions]] = {
    "text": (SamplingParams(max_new_tokens=200), RequestOptions()),
    "tools": (SamplingParams(max_new_tokens=300), RequestOptions(tools=[TOOL])),
    "cut": (SamplingParams(max_new_tokens=8), RequestOptions()),
}
PROMPTS = ["Say something about rivers.", "What is the weather in Rome? Use get_weather.", "Tell me a story."]


def client_on(sim: Simulator, **settings: Any) -> LLMClient:
    return LLMClient(MODEL, base_urls=sim.base_urls(), api_keys={"cohere": "sim-cohere"}, progress=None, **settings)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_streamed_answer_is_the_same_response_as_the_unstreamed_one(sim: Simulator, case: str) -> None:
    sampling, options = CASES[case]
    plain = client_on(sim, sampling=sampling, options=options, stream=False).run(PROMPTS)
    assert sim.stats()["streams"] == 0
    streamed = client_on(sim, sampling=sampling, options=options, stream=True).run(PROMPTS)
    assert sim.stats()["streams"] == len(PROMPTS)
    for one, other in zip(plain, streamed, strict=True):
        assert one.ok and other.ok, (one.error, other.error)
        same(other, one)
    assert {
        "text": lambda r: r.finish_reason == "stop" and r.usage.output_tokens,
        "tools": lambda r: r.tool_calls and r.finish_reason == "tool_calls",
        "cut": lambda r: r.finish_reason == "length" and r.usage.output_tokens == 8,
    }[case](streamed[1])


SDK_CASES: dict[str, dict[str, Any]] = {
    "thinking": {
        "model": "command-a-reasoning-08-2025",
        "messages": [{"role": "user", "content": PROMPTS[0]}],
        "thinking": {"type": "enabled", "token_budget": 200},
    },
    "tools": {"model": MODEL, "messages": [{"role": "user", "content": PROMPTS[1]}], "tools": [WEATHER]},
}


def folded_over_the_wire(sim: Simulator, body: dict[str, Any]) -> APIResponse:
    """The body streamed from the simulator, decoded and folded as cloudburst's transport does."""
    decoder, folding = Decoder(), CohereChatFold()
    with HTTP.stream("POST", f"{sim.url}/v2/chat", json={**body, "stream": True}, headers=KEY) as response:
        assert response.headers["content-type"] == "text/event-stream"
        for chunk in response.iter_bytes():
            for name, data in decoder.feed(chunk):
                folding.feed(name, data)
    assert folding.done
    return parse_body(folding.body())


@pytest.mark.parametrize("case", sorted(SDK_CASES))
def test_the_cohere_sdk_reads_the_simulators_stream_as_cloudburst_folds_it(sim: Simulator, case: str) -> None:
    """The witness: the cohere SDK's own `chat_stream`, over a real socket, event by event adds
    up to the response cloudburst folds from the same stream."""
    ours = folded_over_the_wire(sim, SDK_CASES[case])
    sdk = cohere.ClientV2(api_key="sim-cohere", base_url=sim.base_urls()["cohere"])
    texts = {"text": "", "thinking": ""}
    plan, calls, end = "", {}, None
    for event in sdk.chat_stream(**SDK_CASES[case]):
        if event.type == "content-delta":
            for key in texts:
                texts[key] += getattr(event.delta.message.content, key) or ""  # type: ignore[union-attr]
        elif event.type == "tool-plan-delta":
            plan += event.delta.message.tool_plan or ""  # type: ignore[union-attr]
        elif event.type == "tool-call-start":
            call = event.delta.message.tool_calls  # type: ignore[union-attr]
            calls[event.index] = [call.id, call.function.name, call.function.arguments or ""]  # type: ignore[union-attr]
        elif event.type == "tool-call-delta":
            calls[event.index][2] += event.delta.message.tool_calls.function.arguments or ""  # type: ignore[union-attr]
        elif event.type == "message-end":
            end = event.delta
    assert texts["text"] == ours.completion and [t.thinking for t in ours.thoughts] == [texts["thinking"]] * (
        case == "thinking"
    )
    assert [(i, n, json.loads(a)) for i, n, a in calls.values()] == [
        (c.id, c.name, c.arguments) for c in ours.tool_calls
    ]
    assert bool(plan) == bool(ours.tool_calls)
    assert end is not None and end.finish_reason == ours.raw_finish_reason
    assert end.usage and end.usage.billed_units and end.usage.billed_units.output_tokens == ours.usage.output_tokens


def test_a_cohere_stream_cut_off_midway_is_retried(sim: Simulator) -> None:
    """Cohere counts a stream's usage only in `message-end`: one cut off before it is retried,
    and bills nothing of its own."""
    sim.configure(faults={"disconnect": 0.5}, seed=4)
    client = client_on(sim, stream=True, retry=RetryPolicy(max_attempts=8, backoff_base=0.01))
    results = client.run([f"question {i}" for i in range(12)])
    assert all(r.ok for r in results)
    retried = [r for r in results if r.attempts > 1]
    assert retried and sim.stats()["faults"]["disconnect"] == sum(r.attempts - 1 for r in results)
    assert all(r.failed_usage.output_tokens == 0 for r in retried)


@pytest.mark.parametrize("fault", ["truncated", "malformed", "reset"])
def test_a_cohere_stream_cut_or_broken_is_an_interrupted_attempt_and_retried(sim: Simulator, fault: str) -> None:
    sim.configure(faults={fault: 1.0})
    client = client_on(sim, stream=True, retry=RetryPolicy(max_attempts=2, backoff_base=0.01))
    (response,) = client.run(["hello"])
    assert response.error is not None and response.error.kind == "stream_interrupted"
    assert response.attempts == 2 and sim.stats()["faults"] == {fault: 2}
    assert response.usage.output_tokens == 0  # Cohere counts a stream's tokens in its last event only
