"""What reading a stream costs the client, per format: the SSE bytes of a long answer decoded
into events, then the events folded back into its body, each against a floor measured in the
same run, `orjson.loads` of each event's JSON (the least any client reading the stream does).

    python bench/stream_folds.py            # a few seconds
    python bench/stream_folds.py --quick    # fewer rounds
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import orjson

from cloudburst._sim import cohere, cohere_chat_stream, gemini, gemini_stream
from cloudburst._sim.answers import Draw
from cloudburst._sim.provider import sse_frame
from cloudburst._stream import Streaming

CEILING = 3.0
"""Folding may cost this many times the floor (decoding is the framing's, reported beside it)."""


def gemini_answer() -> dict[str, Any]:
    request = {
        "model": "gemini-2.5-flash",
        "contents": [{"role": "user", "parts": [{"text": "Tell me about rivers."}]}],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 300, "includeThoughts": True}},
    }
    return gemini.generate_answer(request, Draw.of(request)).body


def cohere_answer() -> dict[str, Any]:
    request = {
        "model": "command-a-reasoning-08-2025",
        "messages": [{"role": "user", "content": "Tell me about rivers."}],
    }
    return cohere.chat_answer(request, Draw.of(request)).body


FORMATS: dict[str, tuple[Callable[[], dict[str, Any]], Any]] = {
    "gemini": (gemini_answer, gemini_stream.events),
    "cohere_chat": (cohere_answer, cohere_chat_stream.events),
}


def best(rounds: int, work: Callable[[], object]) -> float:
    """The fastest of `rounds` runs, in seconds: the least disturbed by other processes."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(name: str, rounds: int, repeat: int) -> tuple[str, str, str, str]:
    make, events = FORMATS[name]
    answer = make()
    framed = events(answer, {})
    raw = b"".join(sse_frame(event, data) for event, data in framed)
    payloads = [orjson.dumps(data) for _, data in framed if isinstance(data, dict)]  # not `[DONE]`
    streaming = Streaming(format=name)

    def floor() -> None:
        for _ in range(repeat):
            for payload in payloads:
                orjson.loads(payload)

    def decode() -> list[list[tuple[str | None, Any]]]:
        return [streaming.decoder().feed(raw) for _ in range(repeat)]

    decoded = decode()

    def fold() -> None:
        for events_of_one in decoded:
            folding = streaming.fold()
            for event, data in events_of_one:
                folding.feed(event, data)
            orjson.dumps(folding.body())

    folding = streaming.fold()
    for event, data in decoded[0]:
        folding.feed(event, data)
    assert folding.done and folding.body() == answer, name
    floor_s, decode_s, fold_s = best(rounds, floor), best(rounds, decode), best(rounds, fold)
    ratio = fold_s / floor_s

    def micros(seconds: float) -> str:
        return f"{seconds / repeat * 1e6:,.0f} µs"

    return (
        f"{name}: {len(framed)} events, {len(raw):,} bytes",
        f"fold {micros(fold_s)} an answer ({fold_s / repeat / len(framed) * 1e6:.1f} µs an event) vs floor "
        f"{micros(floor_s)} = {ratio:.2f}x; SSE decoding {micros(decode_s)} = {decode_s / floor_s:.2f}x",
        f"fold <= {CEILING}x floor",
        "ok" if ratio <= CEILING else "MISS",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, repeat = (3, 200) if args.quick else (7, 1000)
    for row in (measure(name, rounds, repeat) for name in FORMATS):
        print(" | ".join(row))


if __name__ == "__main__":
    main()
