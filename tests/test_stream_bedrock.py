"""Bedrock's streams: ConverseStream and InvokeModelWithResponseStream (Anthropic's events in
`chunk`s), in AWS's binary event stream. The simulator's frames are read back by botocore with
the service's own shapes and match them; cloudburst's decoder and folds rebuild the unstreamed
answer from them; the anthropic SDK's Bedrock client, which reads frames with botocore, rebuilds
the same message; exception frames fail as the same exception does online."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import botocore.loaders
import botocore.model
import botocore.parsers
import pytest
from anthropic.types import Message
from botocore.eventstream import EventStream, EventStreamBuffer
from botocore.exceptions import EventStreamError

import cloudburst
from cloudburst import OverloadedError, RateLimitedError
from cloudburst._errors import StreamInterruptedError
from cloudburst._sim import bedrock, bedrock_converse, bedrock_converse_stream, bedrock_invoke_stream, eventstream
from cloudburst._sim.answers import Draw
from cloudburst._sim.anthropic_messages_stream import Event
from cloudburst._stream.aws_eventstream import EXCEPTION_STATUS, Decoder
from cloudburst._stream.bedrock_converse import BedrockConverseFold
from cloudburst._stream.bedrock_invoke import BedrockInvokeFold
from cloudburst._stream.reader import StreamReader
from tests.served import served

MODEL_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
CONVERSE = "bedrock-claude-haiku-4-5@converse"
INVOKE = "bedrock-claude-haiku-4-5"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 3}},
    "required": ["city", "days"],
}
SERVICE = botocore.model.ServiceModel(botocore.loaders.Loader().load_service_model("bedrock-runtime", "service-2"))


def converse_answer(prompt: str = "Tell me about rivers.", **request: Any) -> dict[str, Any]:
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": [{"text": prompt}]}], **request}
    return bedrock_converse.converse_answer(body, Draw.of(body)).body


def invoke_answer(prompt: str = "Tell me about rivers.", **request: Any) -> dict[str, Any]:
    body = {
        "model": MODEL_ID,
        "anthropic_version": bedrock.VERSION,
        "max_tokens": 600,
        "messages": [{"role": "user", "content": prompt}],
        **request,
    }
    return bedrock.invoke_answer(body, Draw.of(body)).body


def with_redacted_reasoning_and_cache() -> dict[str, Any]:
    body = converse_answer(additionalModelRequestFields={"thinking": {"type": "enabled", "budget_tokens": 300}})
    redacted = base64.b64encode(b"\x00opaque reasoning\xff" * 5).decode()
    body["output"]["message"]["content"].insert(1, {"reasoningContent": {"redactedContent": redacted}})
    body["usage"] |= {"cacheReadInputTokens": 2048, "cacheWriteInputTokens": 512}
    body["additionalModelResponseFields"] = {"stop_sequence": None}
    return body


TOOL = {"toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": SCHEMA}}}]}}
THINKING = {"additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 300}}}
CONVERSE_BODIES = {
    "text": converse_answer(),
    "max_tokens": converse_answer(inferenceConfig={"maxTokens": 4}),
    "tool": converse_answer("Use get_weather for Rome.", **TOOL),
    "thinking_then_tool": converse_answer("Use get_weather for Oslo.", **TOOL, **THINKING),
    "service_tier": converse_answer(serviceTier={"type": "priority"}),
    "redacted_reasoning_and_cache": with_redacted_reasoning_and_cache(),
}
TOOLS = [{"name": "get_weather", "description": "Weather.", "input_schema": SCHEMA}]
INVOKE_BODIES = {
    "text": invoke_answer(),
    "tool": invoke_answer("Use get_weather for Rome.", tools=TOOLS),
    "thinking_then_tool": invoke_answer(
        "Use get_weather for Oslo.", tools=TOOLS, thinking={"type": "enabled", "budget_tokens": 300}
    ),
}


def encoded(stream: list[Event]) -> bytes:
    return b"".join(eventstream.event(str(name), data) for name, data in stream)


def decoded(raw: bytes, piece: int = 29) -> Iterator[tuple[str, Any]]:
    """The frames of `raw` as cloudburst decodes them, the bytes arriving `piece` at a time."""
    decoder = Decoder()
    for at in range(0, len(raw), piece):
        yield from decoder.feed(raw[at : at + piece])


def fold_converse(raw: bytes) -> BedrockConverseFold:
    folding = BedrockConverseFold()
    for name, data in decoded(raw):
        folding.feed(name, data)
    return folding


def fold_invoke(raw: bytes) -> BedrockInvokeFold:
    folding = BedrockInvokeFold()
    for name, data in decoded(raw):
        folding.feed(name, data)
    return folding


class _Raw:
    """A response body botocore's `EventStream` reads, in pieces."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def stream(self) -> Iterator[bytes]:
        for at in range(0, len(self.raw), 50):
            yield self.raw[at : at + 50]


def stream_shape(operation: str) -> Any:
    """The operation's event-stream union: ConverseStream's `stream`, InvokeModel's `body`."""
    output: Any = SERVICE.operation_model(operation).output_shape
    return output.members[output.serialization["payload"]]


def botocore_events(raw: bytes, operation: str) -> list[dict[str, Any]]:
    """The events as boto3 hands them to its users, parsed by the operation's output shape."""
    shape = stream_shape(operation)
    return list(EventStream(_Raw(raw), shape, botocore.parsers.EventStreamJSONParser(), operation))


def without_padding(data: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(data.pop("p"), str)
    return data


@pytest.mark.parametrize("name", CONVERSE_BODIES)
def test_the_converse_fold_of_the_stream_is_the_unstreamed_body(name: str) -> None:
    body = CONVERSE_BODIES[name]
    folding = fold_converse(encoded(bedrock_converse_stream.events(body)))
    assert folding.body() == body and folding.failed is None


@pytest.mark.parametrize("name", CONVERSE_BODIES)
def test_botocore_reads_the_converse_stream_as_the_service_model_says(name: str) -> None:
    """Every member the simulator writes is one the shape has: botocore drops any other."""
    stream = bedrock_converse_stream.events(CONVERSE_BODIES[name])
    parsed = botocore_events(encoded(stream), "ConverseStream")
    expected = [{event: without_padding(copy.deepcopy(data))} for event, data in stream]
    for event in expected:
        reasoning = event.get("contentBlockDelta", {}).get("delta", {}).get("reasoningContent", {})
        if "redactedContent" in reasoning:  # a blob: base64 in the JSON, bytes once parsed
            reasoning["redactedContent"] = base64.b64decode(reasoning["redactedContent"])
    assert parsed == expected


def test_the_converse_stream_is_cut_as_bedrock_cuts_it() -> None:
    stream = bedrock_converse_stream.events(CONVERSE_BODIES["thinking_then_tool"])
    names = [name for name, _ in stream]
    assert names[0] == "messageStart" and names[-2:] == ["messageStop", "metadata"]
    starts = [data["start"] for name, data in stream if name == "contentBlockStart"]
    assert [list(start) for start in starts] == [["toolUse"]], "only a tool call's block has a start"
    deltas = [data["delta"] for name, data in stream if name == "contentBlockDelta"]
    assert sum("reasoningContent" in delta and "text" in delta["reasoningContent"] for delta in deltas) > 3
    assert sum("toolUse" in delta for delta in deltas) > 2
    assert len({len(data["p"]) for _, data in stream}) > 3


def test_a_converse_stream_cut_off_keeps_what_arrived_and_counts_a_token_a_delta() -> None:
    """Bedrock says the usage only in the last event: before it, each delta that carried text
    counts one output token, and the input is left to the engine's count of the prompt."""
    body = CONVERSE_BODIES["text"]
    stream = bedrock_converse_stream.events(body)
    folding = fold_converse(encoded(stream)[: len(encoded(stream)) // 2])
    partial = folding.body()
    text = partial["output"]["message"]["content"][0]["text"]
    assert text and body["output"]["message"]["content"][0]["text"].startswith(text)
    assert not folding.done and "stopReason" not in partial
    deltas = sum(1 for name, _ in decoded(encoded(stream)[: len(encoded(stream)) // 2]) if name == "contentBlockDelta")
    assert partial["usage"] == {"inputTokens": 0, "outputTokens": deltas, "totalTokens": deltas}
    assert fold_converse(encoded(stream)).done


@pytest.mark.parametrize("name", INVOKE_BODIES)
def test_the_invoke_fold_of_the_stream_is_the_unstreamed_message(name: str) -> None:
    body = INVOKE_BODIES[name]
    folding = fold_invoke(encoded(bedrock_invoke_stream.events(body)))
    assert folding.body() == body and folding.failed is None


@pytest.mark.parametrize("name", INVOKE_BODIES)
def test_the_anthropic_bedrock_client_accumulates_the_same_message(name: str) -> None:
    """The anthropic SDK's Bedrock client reads the frames with botocore and the chunks as
    Anthropic's events, over a loopback socket."""
    body = INVOKE_BODIES[name]
    with served(encoded(bedrock_invoke_stream.events(body)), eventstream.CONTENT_TYPE) as url:
        client = anthropic.AnthropicBedrock(api_key="ABSK-test", aws_region="us-east-1", base_url=url, max_retries=0)
        with client.messages.stream(
            model=MODEL_ID, max_tokens=600, messages=[{"role": "user", "content": "hi"}]
        ) as streamed:
            final = streamed.get_final_message()
    assert final.model_dump() == Message.model_validate(body).model_dump()


def test_invoke_chunks_are_anthropic_events_and_the_last_has_the_invocation_metrics() -> None:
    body = INVOKE_BODIES["tool"]
    stream = bedrock_invoke_stream.events(body)
    parsed = botocore_events(encoded(stream), "InvokeModelWithResponseStream")
    assert [list(event) for event in parsed] == [["chunk"]] * len(stream)
    assert [event["chunk"]["bytes"] for event in parsed] == [base64.b64decode(data["bytes"]) for _, data in stream]
    inner = [json.loads(event["chunk"]["bytes"]) for event in parsed]
    assert "ping" not in {event["type"] for event in inner}
    metrics = inner[-1][bedrock_invoke_stream.METRICS]
    assert inner[-1]["type"] == "message_stop"
    assert metrics["inputTokenCount"] == body["usage"]["input_tokens"]
    assert metrics["outputTokenCount"] == body["usage"]["output_tokens"]


def test_a_partial_invoke_stream_bills_the_input_anthropic_reported() -> None:
    body = INVOKE_BODIES["text"]
    stream = bedrock_invoke_stream.events(body)
    partial = fold_invoke(encoded(stream[:4])).body()  # the start, a block's start, two deltas
    assert partial["usage"]["input_tokens"] == body["usage"]["input_tokens"] and partial["usage"]["output_tokens"] == 2


@pytest.mark.parametrize(
    ("exception", "status", "error"),
    [
        ("ThrottlingException", 429, RateLimitedError),
        ("ServiceUnavailableException", 503, OverloadedError),
        ("InternalServerException", 500, cloudburst.ServerError),
        ("ModelStreamErrorException", 424, cloudburst.ServerError),
        ("ModelTimeoutException", 408, cloudburst.RequestTimeoutError),
    ],
)
def test_an_exception_frame_fails_as_the_same_exception_online(exception: str, status: int, error: type) -> None:
    message = "Too many tokens, please wait before trying again."
    for events_of, folding, body in (
        (bedrock_converse_stream.events, BedrockConverseFold(), CONVERSE_BODIES["text"]),
        (bedrock_invoke_stream.events, BedrockInvokeFold(), INVOKE_BODIES["text"]),
    ):
        raw = encoded(events_of(body)[:3]) + eventstream.exception(exception, message)
        for name, data in decoded(raw):
            folding.feed(name, data)
        assert folding.failed == (status, {"message": message})
        online = {"x-amzn-ErrorType": f"{exception}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
        assert isinstance(cloudburst.parse(CONVERSE, status, online, folding.failed[1]).error, error)
        # the stream's own headers name no error type: its status alone classifies it the same
        assert isinstance(cloudburst.parse(CONVERSE, status, {}, folding.failed[1]).error, error)
    operation = (
        "ConverseStream"
        if exception in ("ThrottlingException", "InternalServerException", "ServiceUnavailableException")
        else "InvokeModelWithResponseStream"
    )
    with pytest.raises(EventStreamError) as raised:
        botocore_events(eventstream.exception(exception, message), operation)
    assert raised.value.response["Error"] == {"Code": exception[:1].lower() + exception[1:], "Message": message}


def test_exception_statuses_are_the_service_models() -> None:
    exceptions = {
        shape.name: shape.metadata["error"]["httpStatusCode"]
        for operation in ("ConverseStream", "InvokeModelWithResponseStream")
        for shape in SERVICE.operation_model(operation).error_shapes
    }
    for operation in ("ConverseStream", "InvokeModelWithResponseStream"):
        for member in stream_shape(operation).members.values():
            if member.metadata.get("exception"):
                exceptions[member.name] = member.metadata["error"]["httpStatusCode"]
    assert dict(EXCEPTION_STATUS) == exceptions


def test_the_encoder_writes_frames_botocore_checks() -> None:
    raw = eventstream.event("messageStart", {"role": "assistant", "p": "abc"})
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    (message,) = list(buffer)
    assert message.headers == {
        ":event-type": "messageStart",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert message.payload == b'{"role":"assistant","p":"abc"}'


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (eventstream.event("messageStart", {"role": "assistant"})[:-1] + b"\x00", "broken event-stream frame"),
        (eventstream.frame({":event-type": "chunk", ":message-type": "event"}, b"{not json"), "unexpected character"),
        (eventstream.frame({":message-type": "event"}, b"{}"), "without its name"),
    ],
)
def test_a_broken_frame_is_a_broken_frame_naming_it(raw: bytes, message: str) -> None:
    """The stream reader makes it the StreamInterruptedError of a stream broken there."""
    with pytest.raises(ValueError, match=message):
        list(decoded(raw))


@pytest.mark.parametrize(
    ("fold", "event", "data", "message"),
    [
        (BedrockInvokeFold, "chunk", {"bytes": "bm90IGpzb24="}, "not base64 of JSON"),
        (BedrockInvokeFold, "chunk", {"bytes": 3}, "not base64 of JSON"),
        (
            BedrockConverseFold,
            "contentBlockDelta",
            {"contentBlockIndex": -1, "delta": {"text": "x"}},
            "contentBlockIndex",
        ),
        (BedrockConverseFold, "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": 1}}, "not a string"),
        (
            BedrockConverseFold,
            "contentBlockDelta",
            {"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{"}}},
            "no toolUse",
        ),
    ],
)
def test_a_malformed_bedrock_event_is_refused_naming_it(fold: Any, event: str, data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fold().feed(event, data)


def test_a_broken_frame_midway_ends_the_attempt_interrupted_with_the_events_before_it_billed() -> None:
    """The frames before the broken one count: their deltas were generated and are billed."""
    from cloudburst.generated.bedrock import converse

    stream = bedrock_converse_stream.events(CONVERSE_BODIES["text"])
    good = encoded(stream[:6])
    broken = eventstream.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}})[:-1] + b"\x00"
    reader = StreamReader(converse.STREAM, 1 << 20, "http://simulator/converse-stream")
    with pytest.raises(StreamInterruptedError, match="ChecksumMismatch") as raised:
        reader.feed(good + broken)
    partial = json.loads(raised.value.partial)
    assert partial["usage"]["outputTokens"] == 5 and partial["output"]["message"]["content"][0]["text"]


def test_an_exception_the_service_model_does_not_name_fails_as_a_server_error() -> None:
    folding = BedrockConverseFold()
    folding.feed("BrandNewException", {"message": "new"})
    assert folding.failed == (500, {"message": "new"})
    folding = BedrockConverseFold()
    folding.feed("brandNewEvent", {"x": 1})
    assert folding.failed is None and not folding.done
