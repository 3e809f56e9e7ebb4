"""Anthropic's Messages stream: the simulator unfolds each answer it builds into the events Anthropic
sends, cloudburst folds them back into the same body, and the anthropic SDK's own stream
accumulation, reading the same server-sent events, rebuilds the same message."""

from __future__ import annotations

import copy
from typing import Any

import anthropic
import orjson
import pytest
from anthropic.types import Message

import cloudburst
from cloudburst import OverloadedError
from cloudburst._errors import StreamInterruptedError
from cloudburst._sim import anthropic as sim_anthropic
from cloudburst._sim.answers import Draw
from cloudburst._sim.anthropic_messages_stream import Event, events
from cloudburst._stream.anthropic_messages import ERROR_STATUS, AnthropicMessagesFold
from cloudburst._stream.reader import StreamReader
from tests.served import served

MODEL = "claude-haiku-4-5"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 3}},
        "required": ["city", "days"],
    },
}


def answer(prompt: str = "Tell me about rivers.", **request: Any) -> dict[str, Any]:
    """The body the simulator answers this request with, not streamed."""
    body = {"model": MODEL, "max_tokens": 600, "messages": [{"role": "user", "content": prompt}], **request}
    return sim_anthropic.messages_answer(body, Draw.of(body)).body


def with_redacted_thinking_and_cache() -> dict[str, Any]:
    body = answer(thinking={"type": "enabled", "budget_tokens": 300})
    body["content"].insert(
        1,
        {
            "type": "redacted_thinking",
            "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj",
        },
    )
    body["usage"] |= {
        "input_tokens": 12,
        "cache_creation_input_tokens": 1024,
        "cache_read_input_tokens": 4096,
        "cache_creation": {"ephemeral_5m_input_tokens": 1024, "ephemeral_1h_input_tokens": 0},
    }
    return body


def with_citations() -> dict[str, Any]:
    body = answer()
    citation = {
        "type": "char_location",
        "cited_text": "The grass is green.",
        "document_index": 0,
        "document_title": "Colours",
        "start_char_index": 0,
        "end_char_index": 19,
        "file_id": None,
    }
    body["content"] = [{"type": "text", "text": "The grass is green.", "citations": [citation]}, *body["content"]]
    return body


BODIES = {
    "text": answer(),
    "stop_sequence": answer(stop_sequences=["the"]),
    "max_tokens": answer(max_tokens=5),
    "tool": answer("Use get_weather for Rome.", tools=[WEATHER]),
    "thinking_then_tool": answer(
        "Use get_weather for Oslo.", tools=[WEATHER], thinking={"type": "enabled", "budget_tokens": 300}
    ),
    "thinking_omitted": answer(thinking={"type": "enabled", "budget_tokens": 300, "display": "omitted"}),
    "redacted_thinking_and_cache": with_redacted_thinking_and_cache(),
    "citations": with_citations(),
}


def fold(stream: list[Event]) -> AnthropicMessagesFold:
    folding = AnthropicMessagesFold()
    for name, data in stream:
        folding.feed(name, copy.deepcopy(data))
    return folding


def sse(stream: list[Event]) -> bytes:
    return b"".join(b"event: %s\ndata: %s\n\n" % (name.encode(), orjson.dumps(data)) for name, data in stream if name)


def sdk_final_message(stream: list[Event]) -> Message:
    """What the anthropic SDK's `messages.stream(...).get_final_message()` makes of these events,
    served over a loopback socket."""
    with served(sse(stream), "text/event-stream") as url:
        client = anthropic.Anthropic(api_key="sk-ant-test", base_url=url, max_retries=0)
        with client.messages.stream(
            model=MODEL, max_tokens=600, messages=[{"role": "user", "content": "hi"}]
        ) as streamed:
            return streamed.get_final_message()


@pytest.mark.parametrize("name", BODIES)
def test_the_fold_of_the_stream_is_the_unstreamed_body(name: str) -> None:
    body = BODIES[name]
    folding = fold(events(body))
    assert folding.body() == body and folding.failed is None


@pytest.mark.parametrize("name", BODIES)
def test_the_sdk_accumulates_the_same_message(name: str) -> None:
    body = BODIES[name]
    assert sdk_final_message(events(body)).model_dump() == Message.model_validate(body).model_dump()


def test_the_stream_is_cut_as_anthropic_cuts_it() -> None:
    body = BODIES["thinking_then_tool"]
    stream = events(body)
    names = [name for name, _ in stream]
    assert names[:3] == ["message_start", "content_block_start", "ping"] and names[-2:] == [
        "message_delta",
        "message_stop",
    ]
    deltas = [data["delta"] for name, data in stream if name == "content_block_delta"]
    kinds = [delta["type"] for delta in deltas]
    assert kinds.count("thinking_delta") > 3 and kinds.count("signature_delta") == 1
    tool_json = [delta["partial_json"] for delta in deltas if delta["type"] == "input_json_delta"]
    assert tool_json[0] == "" and len(tool_json) > 2
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(tool_json[1])
    start = stream[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["output_tokens"] == 1
    assert stream[-2][1]["usage"]["output_tokens"] == body["usage"]["output_tokens"]


def test_a_stream_cut_off_bills_what_arrived() -> None:
    body = BODIES["text"]
    stream = events(body)
    cut = stream[: len(stream) // 2]
    partial = fold(cut).body()
    deltas = sum(1 for name, _ in cut if name == "content_block_delta")
    assert deltas > 1 and partial["usage"]["output_tokens"] == deltas, "a token a delta, more than message_start's 1"
    assert partial["usage"]["input_tokens"] == body["usage"]["input_tokens"]
    text = partial["content"][0]["text"]
    assert text and body["content"][0]["text"].startswith(text) and text != body["content"][0]["text"]
    assert partial["stop_reason"] is None
    response = cloudburst.parse(MODEL, 200, {}, partial)
    assert response.usage is not None and response.usage.input_tokens == body["usage"]["input_tokens"]


def test_an_error_event_fails_as_the_same_error_online() -> None:
    stream = events(BODIES["text"])
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    folding = fold([*stream[:5], ("error", overloaded)])
    assert folding.failed == (529, overloaded)
    status, error_body = folding.failed
    assert isinstance(cloudburst.parse(MODEL, status, {}, error_body).error, OverloadedError)
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        sdk_final_message([*stream[:5], ("error", overloaded)])


def test_error_statuses_are_anthropics() -> None:
    """Anthropic's errors page: each type's HTTP status."""
    assert ERROR_STATUS["rate_limit_error"] == 429 and ERROR_STATUS["api_error"] == 500
    assert ERROR_STATUS["invalid_request_error"] == 400 and ERROR_STATUS["overloaded_error"] == 529
    assert fold([("error", {"type": "error", "error": {"type": "new_kind_of_error", "message": "?"}})]).failed == (
        500,
        {"type": "error", "error": {"type": "new_kind_of_error", "message": "?"}},
    )


def test_unknown_events_and_deltas_are_skipped() -> None:
    body = BODIES["text"]
    stream = events(body)
    novel = [
        ("future_event", {"type": "future_event", "x": 1}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "future_delta"}}),
    ]
    assert fold([*stream[:3], *novel, *stream[3:]]).body() == body


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"type": "content_block_delta", "index": 7, "delta": {"type": "text_delta", "text": "x"}}, "never started"),
        ({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 5}}, "not a string"),
        (
            {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{"}},
            "text' block",
        ),
        ({"type": "content_block_start", "index": 1, "content_block": None}, "not an object"),
        ([{"type": "ping"}], "an event that is not an object"),
    ],
)
def test_a_malformed_event_is_refused_naming_it(event: Any, message: str) -> None:
    stream = events(BODIES["text"])
    with pytest.raises(ValueError, match=message):
        fold([*stream[:2], ("content_block_delta", event)])


def test_tool_input_that_is_not_json_is_refused() -> None:
    stream = [
        (name, data)
        for name, data in events(BODIES["tool"])
        if not (name == "content_block_delta" and data["delta"]["type"] == "input_json_delta")
    ]
    broken = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "input_json_delta", "partial_json": '{"city": "Ro'},
    }
    at = next(i for i, (name, _) in enumerate(stream) if name == "content_block_stop")
    with pytest.raises(ValueError, match="not JSON"):
        fold([*stream[:at], ("content_block_delta", broken), *stream[at:]])


def test_a_malformed_event_midway_ends_the_attempt_interrupted_and_billed() -> None:
    from cloudburst.generated.anthropic import messages

    stream = events(BODIES["text"])
    bad = (
        "content_block_delta",
        {"type": "content_block_delta", "index": 9, "delta": {"type": "text_delta", "text": "x"}},
    )
    reader = StreamReader(messages.STREAM, 1 << 20, "http://simulator/v1/messages")
    with pytest.raises(StreamInterruptedError, match="never started") as raised:
        reader.feed(sse([*stream[:5], bad]))
    assert orjson.loads(raised.value.partial)["usage"]["input_tokens"] == BODIES["text"]["usage"]["input_tokens"]


def test_a_tool_call_joins_the_body_whole_at_its_blocks_stop() -> None:
    stream = events(BODIES["tool"])
    stop = next(i for i, (name, _) in enumerate(stream) if name == "content_block_stop")
    assert fold(stream[:stop]).body()["content"] == []
    assert fold(stream[: stop + 1]).body()["content"] == BODIES["tool"]["content"]
