"""Cohere's v2 chat stream, both ways: the simulator sends each answer it builds as the typed
events Cohere streams (each one the cohere SDK's own stream types accept), and the fold rebuilds
from them the ChatResponse `/v2/chat` answers, read field by field as the unstreamed one is; a
stream cut before `message-end` has no usage to bill."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
from cohere.core.pydantic_utilities import parse_obj_as
from cohere.v2.types import V2ChatStreamResponse

from cloudburst import APIResponse, Simulator
from cloudburst._sim.cohere_chat_stream import events
from cloudburst._stream.cohere_chat import CohereChatFold
from cloudburst.generated.cohere.chat import parse_body

MODEL = "command-a-03-2025"
HTTP = httpx.Client()
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
    response = HTTP.post(f"{sim.url}/v2/chat", json=body, headers={"Authorization": "Bearer sim-cohere"})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def events_of(body: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    out = events(body, {})
    for name, data in out:
        assert name == data["type"]
        assert type(parse_obj_as(V2ChatStreamResponse, data)).__name__.lower().startswith(name.replace("-", ""))
    return out


def fold(stream: list[tuple[str | None, Any]]) -> CohereChatFold:
    folding = CohereChatFold()
    for name, data in stream:
        folding.feed(name, data)
    return folding


def same(streamed: APIResponse, whole: APIResponse) -> None:
    assert replace(streamed, error=None, raw=None) == replace(whole, error=None, raw=None)
    assert repr(streamed.error) == repr(whole.error)


@pytest.mark.parametrize("case", sorted(REQUESTS))
def test_folded_stream_is_the_unstreamed_answer(sim: Simulator, case: str) -> None:
    whole = answer(sim, REQUESTS[case])
    folding = fold(events_of(whole))
    assert folding.done and folding.failed is None
    assert folding.body() == whole
    same(parse_body(folding.body()), parse_body(whole))


def test_events_come_in_cohere_order_and_small_pieces(sim: Simulator) -> None:
    whole = answer(sim, REQUESTS["thinking"])
    names = [name for name, _ in events_of(whole)]
    assert names[0] == "message-start" and names[-1] == "message-end"
    starts = [index for index, name in enumerate(names) if name == "content-start"]
    assert starts[0] == 1 and names.index("content-end") < starts[1]  # thinking closes before the text opens
    assert names.count("content-delta") > 10
    end = events_of(whole)[-1][1]["delta"]
    assert end == {"finish_reason": "COMPLETE", "usage": whole["usage"]}


def test_tool_arguments_stream_cut_mid_json(sim: Simulator) -> None:
    whole = answer(sim, REQUESTS["tool_call"])
    stream = events_of(whole)
    names = [name for name, _ in stream]
    assert names.index("tool-plan-delta") < names.index("tool-call-start") < names.index("tool-call-end")
    start = stream[names.index("tool-call-start")][1]["delta"]["message"]["tool_calls"]
    assert start["id"] == whole["message"]["tool_calls"][0]["id"] and start["function"]["arguments"] == ""
    pieces = [data["delta"]["message"]["tool_calls"]["function"]["arguments"] for data in (d for _, d in stream)
              if data["type"] == "tool-call-delta"]  # fmt: skip
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
