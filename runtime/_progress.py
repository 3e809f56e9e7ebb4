"""Live displays of a StatusTracker: rich (default), tqdm, or none.

A display is redrawn by the job's timer a few times a second, never per request; the bar
advances on failures too. At the end it shows the summary; with no display the summary goes
to the `cloudburst` logger.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections import Counter
from typing import Any, Literal, Protocol

from cloudburst._errors import ConfigurationError
from cloudburst._status import StatusTracker, count

log = logging.getLogger("cloudburst")

ProgressKind = Literal["rich", "tqdm"] | None


class Display(Protocol):
    def refresh(self) -> None: ...

    def close(self) -> None:
        """Draw the final state and the summary."""
        ...


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _eta(tracker: StatusTracker) -> str:
    return "?" if tracker.stalled() is not None else _duration(tracker.eta())


def _kinds(counts: Counter[str]) -> str:
    return ", ".join(f"{kind} {n:,}" for kind, n in counts.most_common(3)) + (", ..." if len(counts) > 3 else "")


def status_parts(tracker: StatusTracker) -> list[str]:
    """The status line's segments, joined by " · " (a new figure is one more segment)."""
    t = tracker
    failed = f" ({_kinds(t.errors)})" if t.errors else ""
    retried = f" ({_kinds(t.retried)})" if t.retried else ""
    parts = [f"✓ {t.succeeded:,} ✗ {t.failed:,}{failed}"]
    if t.cached:
        parts.append(f"cached {t.cached:,}")
    ttft, slow = t.time_to_first_token, t.slow()
    if ttft is not None:
        parts.append(f"first token {ttft:.1f}s" + (f", {slow:,} slow" if slow else ""))
    parts += [
        f"in flight {t.in_flight:,}",
        f"retries {t.retries:,}{retried}",
        f"429s {t.rate_limited:,}",
        f"limited by {t.limiting_factor or '-'}",
        f"{count(t.input_tokens)} in / {count(t.output_tokens)} out",
        f"${t.cost:,.4f}",
    ]
    return parts


def status_line(tracker: StatusTracker) -> str:
    """Everything but the bar and the limit, on one line."""
    return " · ".join(status_parts(tracker))


def limit_line(tracker: StatusTracker) -> str | None:
    """Which model's bucket holds the job back, why, at what pace, and the capacity left; or
    that the requests left are hung. None when nothing holds it back."""
    quiet = tracker.stalled()
    if quiet is not None:
        return (
            f"waiting on the last {tracker.in_flight:,} in flight: no result for {quiet:.0f}s "
            "(a hung request ends at its timeout, then is retried)"
        )
    limiting = tracker.limiting()
    if not limiting:
        return None
    b = limiting[0][1]
    why = f"cooldown {b.cooldown:.1f}s after a 429" if b.blocked_by == "cooldown" else b.blocked_by
    line = f"slowest: {b.key} ({why}) {b.per_second or 0:,.1f} req/s, {b.waiting:,} waiting"
    line += f", {max(0, b.concurrency - b.in_flight):,}/{b.concurrency:,} slots free"
    if b.remaining:
        line += "; provider: " + ", ".join(f"{count(max(0.0, v))} {d}" for d, v in b.remaining) + " left/min"
    if len(limiting) > 1:
        line += f" (+{len(limiting) - 1} held back)"
    return line


class RichDisplay:
    """A bar and a status line on stderr, redrawn only when `refresh` is called."""

    def __init__(self, tracker: StatusTracker) -> None:
        from rich.console import Console
        from rich.live import Live

        self.tracker = tracker
        self.console = Console(stderr=True)
        self.live = Live(
            get_renderable=self._render,
            console=self.console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
        )
        self.live.start()

    def _render(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        t = self.tracker
        rate = t.rate()
        done = f"{t.done:,}/{t.total:,}" if t.total is not None else f"{t.done:,}"
        percent = f" {100 * t.done / t.total:5.1f}%" if t.total else ""
        row = Table.grid(padding=(0, 1))
        row.add_row(
            Text("cloudburst", style="bold"),
            ProgressBar(total=t.total or None, completed=t.done, width=40, pulse=t.total is None),
            Text(f"{done}{percent}  {rate:,.1f}/s  elapsed {_duration(t.elapsed)}  ETA {_eta(t)}"),
        )
        lines: list[Any] = [row, Text(status_line(t), style="dim")]
        limit = limit_line(t)
        if limit is not None:
            lines.append(Text(limit, style="dim"))
        return Group(*lines)

    def refresh(self) -> None:
        self.live.refresh()

    def close(self) -> None:
        self.live.refresh()
        self.live.stop()
        if not self.console.is_terminal:  # the last frame ends without a line break there
            self.console.line()
        self.console.print(self.tracker.summary(), highlight=False)


def _in_notebook() -> bool:
    """Inside a Jupyter kernel (as tqdm.autonotebook tells), without importing IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def tqdm_class() -> Any:
    """The notebook widget bar in Jupyter with ipywidgets; the plain-text bar everywhere else,
    Jupyter without ipywidgets included (where `tqdm.auto` would warn and fall back to it)."""
    try:
        if _in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.notebook import tqdm  # type: ignore[import-untyped]
        else:
            from tqdm.std import tqdm  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigurationError(
            "progress='tqdm' needs tqdm: pip install 'cloudburst[tqdm]' (or use progress='rich', the default)"
        ) from None
    return tqdm


class TqdmDisplay:
    """A tqdm bar with the status line as its postfix."""

    def __init__(self, tracker: StatusTracker) -> None:
        self.tracker = tracker
        self.bar = tqdm_class()(total=tracker.total, unit="prompt", file=sys.stderr, dynamic_ncols=True, mininterval=0)

    def refresh(self) -> None:
        self.bar.n = self.tracker.done
        limit = limit_line(self.tracker)
        self.bar.set_postfix_str(status_line(self.tracker) + (f" · {limit}" if limit else ""), refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.refresh()
        self.bar.close()
        self.bar.write(self.tracker.summary(), file=sys.stderr)


class LogSummary:
    """No live display: only the summary, to the `cloudburst` logger."""

    def __init__(self, tracker: StatusTracker) -> None:
        self.tracker = tracker

    def refresh(self) -> None:
        return None

    def close(self) -> None:
        log.info("%s", self.tracker.summary())


def check_progress(kind: ProgressKind) -> None:
    """A display that cannot open is a ConfigurationError when the client is built, not when
    its first job starts."""
    if kind == "tqdm":
        tqdm_class()
    elif kind not in ("rich", None):
        raise ConfigurationError(f"progress must be 'rich', 'tqdm' or None, not {kind!r}")


def open_display(kind: ProgressKind, tracker: StatusTracker) -> Display:
    if kind == "rich":
        return RichDisplay(tracker)
    if kind == "tqdm":
        return TqdmDisplay(tracker)
    if kind is None:
        return LogSummary(tracker)
    raise ConfigurationError(f"progress must be 'rich', 'tqdm' or None, not {kind!r}")
