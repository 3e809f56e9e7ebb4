"""StatusTracker's readings on a fake clock, and the status line the displays draw from it."""

from __future__ import annotations

import pytest

from cloudburst._errors import RateLimitedError, ServerError
from cloudburst._progress import status_line
from cloudburst._response import APIResponse, Usage
from cloudburst._status import StatusTracker


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def answered(cost: float = 0.01, error: Exception | None = None) -> APIResponse:
    return APIResponse("openai", usage=Usage(input_tokens=10, output_tokens=5), cost=cost, error=error)  # type: ignore[arg-type]


def test_rate_and_eta_follow_the_recent_pace() -> None:
    clock = FakeClock()
    tracker = StatusTracker(total=1000, clock=clock)
    assert tracker.eta() is None  # nothing done yet: no pace to go by
    for second in range(1, 21):
        clock.now = 100.0 + second
        for _ in range(10 if second <= 10 else 30):  # 10/s, then 30/s
            tracker.prompt_finished(answered())
        tracker.rate()
    assert tracker.rate() == pytest.approx(30, rel=0.05)  # the last ten seconds, not the average
    assert tracker.eta() == pytest.approx((1000 - 400) / tracker.rate(), rel=0.01)
    tracker.finish()
    assert tracker.rate() == pytest.approx(400 / 20)


def test_attempts_failures_and_429s_are_counted_apart() -> None:
    tracker = StatusTracker(total=3, clock=FakeClock())
    tracker.limiting_factor_source = lambda: "requests"
    for _ in range(4):
        tracker.attempt_started()
    assert tracker.in_flight == 4
    limited = answered(cost=0.0, error=RateLimitedError("slow down"))
    tracker.attempt_finished(limited)
    tracker.retrying(limited.error)  # type: ignore[arg-type]
    for _ in range(2):
        tracker.attempt_finished(answered())
        tracker.prompt_finished(answered())
    broken = answered(cost=0.0, error=ServerError("boom"))
    tracker.attempt_finished(broken)
    tracker.prompt_finished(broken)
    assert (tracker.done, tracker.succeeded, tracker.failed, tracker.in_flight) == (3, 2, 1, 0)
    assert (tracker.attempts, tracker.retries, tracker.rate_limited) == (4, 1, 1)
    assert tracker.errors == {"server": 1} and tracker.retried == {"rate_limited": 1}
    assert (tracker.input_tokens, tracker.output_tokens, tracker.cost) == (40, 20, pytest.approx(0.02))
    line = status_line(tracker)
    assert "✓ 2 ✗ 1" in line and "limited by requests" in line and "429s 1" in line and "$0.0200" in line
    tracker.finish()
    assert tracker.limiting_factor is None
    summary = tracker.summary()
    assert "2 succeeded, 1 failed" in summary and "server 1" in summary and "429s seen 1" in summary


def test_streams_show_their_time_to_first_token_and_how_many_wait_long() -> None:
    clock = FakeClock()
    tracker = StatusTracker(total=3, clock=clock)
    quick, slow = object(), object()
    tracker.stream_started(quick)
    tracker.stream_started(slow)
    clock.now += 2.0
    tracker.first_event(quick)
    tracker.first_event(quick)  # only its first event counts
    clock.now += 40.0
    assert tracker.time_to_first_token == 2.0 and tracker.slow() == 1
    assert "first token 2.0s · 1 slow" in status_line(tracker)
    tracker.stream_finished(slow)
    tracker.stream_finished(quick)
    assert tracker.slow() == 0 and tracker.streams == 0
    assert "slow" not in status_line(tracker)
