"""The SSE decoder against the event-stream rules real providers' streams exercise: any chunk
boundary, `\\r\\n` and bare `\\r` line ends, data over several lines, comments, `[DONE]`."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cloudburst._stream.sse import Decoder

STREAM = (
    b": keep-alive comment\r\n\r\n"
    b'event: message_start\r\ndata: {"a": 1}\r\n\r\n'
    b'data: {"text":\r\ndata:  "two lines"}\n\n'
    b"event: ping\rdata:{}\r\r"
    b"id: 7\nretry: 100\ndata: [DONE]\n\n"
)
EVENTS: list[tuple[str | None, Any]] = [
    ("message_start", {"a": 1}),
    (None, {"text": "two lines"}),
    ("ping", {}),
    (None, "[DONE]"),
]


def test_a_whole_stream_decodes_into_its_events() -> None:
    assert Decoder().feed(STREAM) == EVENTS


@pytest.mark.parametrize("seed", range(20))
def test_a_stream_cut_anywhere_decodes_the_same(seed: int) -> None:
    rng = random.Random(seed)
    decoder, events, at = Decoder(), [], 0
    while at < len(STREAM):
        step = rng.randint(1, 9)
        events += decoder.feed(STREAM[at : at + step])
        at += step
    assert events == EVENTS


def test_a_crlf_split_between_chunks_ends_one_line() -> None:
    decoder = Decoder()
    assert decoder.feed(b"data: {}\r") == []
    assert decoder.feed(b"\n\r") == [(None, {})]
    assert decoder.feed(b"\ndata: [1]\r\n\r\n") == [(None, [1])]


def test_an_event_left_open_at_the_end_is_not_dispatched() -> None:
    decoder = Decoder()
    assert decoder.feed(b'data: {"cut": true}\n') == []


def test_multibyte_text_split_inside_a_character_decodes() -> None:
    line = 'data: {"t": "naïve ☃"}\n\n'.encode()
    decoder = Decoder()
    cut = line.index("☃".encode()) + 1
    assert decoder.feed(line[:cut]) == [] and decoder.feed(line[cut:]) == [(None, {"t": "naïve ☃"})]


def test_an_event_not_of_the_streams_format_is_an_interrupted_attempt_not_a_crash() -> None:
    from cloudburst._errors import StreamInterruptedError
    from cloudburst._stream import Streaming
    from cloudburst._stream.reader import StreamReader

    reader = StreamReader(Streaming("openai_responses"), 1 << 20, "http://sim/v1/responses")
    with pytest.raises(StreamInterruptedError, match="not of the stream's format") as caught:
        reader.feed(b"event: response.output_item.added\ndata: {}\n\n")
    assert caught.value.retryable and caught.value.partial.startswith(b"{")


def test_a_stream_over_the_cap_is_cut_off() -> None:
    from cloudburst._errors import ResponseTooLargeError
    from cloudburst._stream import Streaming
    from cloudburst._stream.reader import StreamReader

    reader = StreamReader(Streaming("openai_chat"), 100, "http://sim/v1/chat/completions")
    reader.feed(b'data: {"choices": []}\n\n')
    with pytest.raises(ResponseTooLargeError):
        reader.feed(b"data: " + b"x" * 100)
