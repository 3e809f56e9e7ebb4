"""StatusTracker's readings on a fake clock, and the status line the displays draw from it."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import ClassVar

import pytest

from cloudburst._config import RateLimits
from cloudburst._errors import RateLimitedError, ServerError
from cloudburst._limiter import Bucket, BucketState, Need
from cloudburst._progress import TqdmDisplay, limit_line, status_line, tqdm_class
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
    assert "first token 2.0s, 1 slow" in status_line(tracker)
    tracker.stream_finished(slow)
    tracker.stream_finished(quick)
    assert tracker.slow() == 0 and tracker.streams == 0
    assert "slow" not in status_line(tracker)


class FakeKernel:
    """What IPython's get_ipython() returns inside a Jupyter kernel, as tqdm checks it."""

    config: ClassVar[dict[str, object]] = {"IPKernelApp": {}}


def test_tqdm_in_jupyter_without_ipywidgets_is_a_plain_text_bar_not_a_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import types
    import warnings

    from tqdm.std import tqdm

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = FakeKernel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not installed
    assert tqdm_class() is tqdm
    tracker = StatusTracker(total=2, clock=FakeClock())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        display = TqdmDisplay(tracker)
        tracker.prompt_finished(answered())
        display.refresh()
        display.close()
    assert "1/2" in capsys.readouterr().err


def test_progress_tqdm_without_tqdm_says_which_extra_to_install(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('"hi"\n')
    without_tqdm = "import sys; sys.modules['tqdm'] = None; from cloudburst._cli import main; sys.exit(main())"
    args = ["run", str(prompts), "-o", str(tmp_path / "out.jsonl"), "--model", "gpt-4.1-mini", "--simulate"]
    done = subprocess.run(
        [sys.executable, "-c", without_tqdm, *args, "--progress", "tqdm"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: progress='tqdm' needs tqdm: pip install 'cloudburst[tqdm]' (or use progress='rich', the default)"
    ]
    requires = metadata.requires("cloudburst") or []
    assert any(r.startswith("tqdm") and 'extra == "tqdm"' in r for r in requires)  # cloudburst[tqdm] exists


def held(key: str, per_second: float, cooldown: float = 0.0, **more: object) -> BucketState:
    factor = "cooldown" if cooldown else "requests"
    settings: dict[str, object] = {"waiting": 0, "in_flight": 8, "concurrency": 16, **more}
    return BucketState(key, factor, cooldown=cooldown, per_second=per_second, **settings)  # type: ignore[arg-type]


def burst_then_paced(clock: FakeClock, tracker: StatusTracker) -> None:
    """1,000 answers in the first second (cached, or a burst the limiter let through), then a
    few seconds at the pace: the trailing window still holds the burst."""
    tracker.rate()  # the display's first frame
    for _ in range(1000):
        tracker.prompt_finished(answered())
    clock.now += 1
    tracker.rate()
    for _ in range(3):
        clock.now += 1
        for _ in range(16):
            tracker.prompt_finished(answered())
        tracker.rate()


def test_eta_while_the_limiter_holds_back_is_the_work_left_at_the_limiting_pace() -> None:
    clock = FakeClock()
    tracker = StatusTracker(total=3048, clock=clock)
    burst_then_paced(clock, tracker)
    assert tracker.eta() == pytest.approx((3048 - 1048) / tracker.rate())  # no limiter: the window's guess
    assert tracker.eta() < 25  # ... which still holds the burst: far too soon
    tracker.shares = {"openai/gpt-4.1-mini": 0.5, "anthropic/claude-haiku-4-5": 0.5}
    buckets = [held("openai/gpt-4.1-mini", 8.0), held("anthropic/claude-haiku-4-5", 8.0)]
    tracker.buckets_source = lambda: buckets
    assert tracker.eta() == pytest.approx(2000 / 2 / 8.0)  # each model's half at 8 a second: 125 s
    buckets[1] = held("anthropic/claude-haiku-4-5", 8.0, cooldown=13.0)  # a 429's retry-after
    assert tracker.eta() == pytest.approx(13.0 + 125.0)
    buckets[0] = held("openai/gpt-4.1-mini", 2.0)  # a tightened pace: the slowest bucket says
    assert tracker.eta() == pytest.approx(1000 / 2.0)


def test_near_the_end_the_eta_goes_by_what_waits_for_each_bucket_not_by_the_weights() -> None:
    tracker = StatusTracker(total=100, clock=FakeClock())
    for _ in range(60):
        tracker.prompt_finished(answered())
    tracker.shares = {"a": 0.5, "b": 0.5}
    tracker.buckets_source = lambda: [held("a", 8.0, waiting=40), held("b", 8.0)]  # the dice gave "a" more
    assert tracker.eta() == pytest.approx(40 / 8.0)


def test_eta_counts_retries_and_leaves_out_what_is_in_flight() -> None:
    tracker = StatusTracker(total=1000, clock=FakeClock())
    tracker.shares = {"openai/gpt-4.1-mini": 1.0}
    tracker.buckets_source = lambda: [held("openai/gpt-4.1-mini", 10.0)]
    for _ in range(150):
        tracker.attempt_started()  # 150 attempts for 100 done and 20 in flight: 1.25 a prompt
    for _ in range(130):
        tracker.attempt_finished(answered())
    for _ in range(100):
        tracker.prompt_finished(answered())
    assert tracker.in_flight == 20
    assert tracker.eta() == pytest.approx((1000 - 100 - 20) * 1.25 / 10.0)


def test_hung_requests_are_waited_on_not_an_eta_of_zero() -> None:
    clock = FakeClock()
    tracker = StatusTracker(total=100, clock=clock)
    for _ in range(100):
        tracker.attempt_started()
    for _ in range(95):
        clock.now += 0.1
        tracker.attempt_finished(answered())
        tracker.prompt_finished(answered())
        tracker.rate()
    assert tracker.stalled() is None and tracker.eta() is not None  # the last five are just slower
    clock.now += 12  # ... and then nothing for 12 s: they hang
    assert tracker.stalled() == pytest.approx(12) and tracker.eta() is None
    assert (
        limit_line(tracker)
        == "waiting on the last 5 in flight: no result for 12s (a hung request ends at its timeout, then is retried)"
    )


def test_the_limit_line_names_the_bucket_its_pace_and_the_capacity_left() -> None:
    tracker = StatusTracker(total=10, clock=FakeClock())
    assert limit_line(tracker) is None
    limited = held("openai/gpt-4.1-mini", 8.0, waiting=30, remaining=(("requests", 350.0), ("tokens", 120_000.0)))
    tracker.buckets_source = lambda: [limited, held("anthropic/claude-haiku-4-5", 8.0, cooldown=3.2)]
    assert limit_line(tracker) == (
        "slowest: openai/gpt-4.1-mini (requests) 8.0 req/s, 30 waiting, 8/16 slots free; "
        "provider: 350 requests, 120.0k tokens left/min (+1 held back)"
    )
    tracker.buckets_source = lambda: [held("anthropic/claude-haiku-4-5", 8.0, cooldown=3.2)]
    assert "(cooldown 3.2s after a 429)" in limit_line(tracker)  # type: ignore[operator]


def test_a_buckets_pace_in_requests_a_second_follows_what_a_request_takes_of_each_rate() -> None:
    bucket = Bucket(RateLimits(rpm=600, tpm=60_000), now=0.0)
    assert bucket.per_second() == pytest.approx(10.0)  # no request yet: the request rate alone
    for at in range(4):
        _, _, ticket = bucket.try_take("k", Need(400, 100), now=float(at * 10))
        assert ticket is not None
        bucket.settle(ticket, Usage(input_tokens=400, output_tokens=100), None, now=at * 10 + 1.0)
    assert bucket.per_second() == pytest.approx(60_000 / 60 / 500)  # 1,000 tokens/s at 500 a request: 2/s


def test_the_summary_has_a_line_a_model_errors_by_kind_and_explains_cooldown() -> None:
    tracker = StatusTracker(total=3, clock=FakeClock())
    for model, error in (("gpt-4.1-mini", None), ("claude-haiku-4-5", None), ("claude-haiku-4-5", ServerError("x"))):
        response = answered(error=error)
        response.model = model
        tracker.attempt_started()
        tracker.attempt_finished(response)
        tracker.prompt_finished(response)
    limited = answered(cost=0.0, error=RateLimitedError("slow down"))
    limited.model = "gpt-4.1-mini"
    tracker.attempt_started()
    tracker.attempt_finished(limited)
    assert "✗ 1 (server 1)" in status_line(tracker)
    tracker.finish()
    lines = tracker.summary().splitlines()
    assert [line.split() for line in lines if line.startswith("  ")] == [
        ["gpt-4.1-mini", "1", "ok", "0", "failed", "20", "in", "/", "10", "out", "$0.0100", "·", "2", "attempts"],
        ["claude-haiku-4-5", "1", "ok", "1", "failed", "20", "in", "/", "10", "out", "$0.0200"],
    ]
    assert lines[-1].startswith("cooldown: a model's requests wait out a 429's retry-after")
