"""StatusTracker's readings on a fake clock, and the status line the displays draw from it."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import ClassVar

import pytest

from cloudburst._errors import RateLimitedError, ServerError
from cloudburst._progress import TqdmDisplay, status_line, tqdm_class
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
