"""StatusTracker: where a job stands, as numbers a program can read and a display can draw.

Updated by the client on every attempt with a few integer additions; the rate and ETA are
computed only when asked (by the display's timer), so tracking costs nothing per request.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable

from cloudburst._constants import RATE_WINDOW_SECONDS, SLOW_ANSWER_SECONDS
from cloudburst._errors import ProviderError
from cloudburst._response import APIResponse


class StatusTracker:
    """Counts for one job. `done` counts prompts with a final result, failures included."""

    def __init__(self, total: int | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.total = total
        """Prompts in the job, when known up front."""
        self.started_at = clock()
        self.finished_at: float | None = None
        self.done = 0
        self.succeeded = 0
        self.failed = 0
        self.cached = 0
        """Prompts answered from the cache or by an identical request in flight: no call, no cost."""
        self.in_flight = 0
        """Attempts sent and not yet answered."""
        self.attempts = 0
        self.retries = 0
        self.rate_limited = 0
        """429 answers seen (each cools down its bucket)."""
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0.0
        """USD for every attempt the provider billed, failed attempts included."""
        self.restored = 0
        """Prompts whose result came from the job's journal, sent in an earlier run."""
        self.errors: Counter[str] = Counter()
        """Final errors by kind."""
        self.retried: Counter[str] = Counter()
        """Errors that got another attempt, by kind."""
        self.limiting_factor_source: Callable[[], str | None] | None = None
        self.streams = 0
        """Streamed attempts in flight."""
        self.first_tokens = 0
        self.first_token_seconds = 0.0
        """Streamed attempts that got their first event, and their times to it, added up."""
        self._waiting: dict[int, float] = {}
        """Streamed attempts in flight without a first event yet: when each was sent."""
        self._samples: deque[tuple[float, int]] = deque()

    # updates, from the client ------------------------------------------------------------
    def attempt_started(self) -> None:
        self.attempts += 1
        self.in_flight += 1

    def attempt_finished(self, response: APIResponse) -> None:
        """An attempt got an answer (or failed on the way); its usage is billed either way."""
        self.in_flight -= 1
        usage = response.usage
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cost += response.cost
        if response.error is not None and response.error.kind == "rate_limited":
            self.rate_limited += 1

    def stream_started(self, attempt: object) -> None:
        self.streams += 1
        self._waiting[id(attempt)] = self.clock()

    def first_event(self, attempt: object) -> None:
        sent = self._waiting.pop(id(attempt), None)
        if sent is not None:
            self.first_tokens += 1
            self.first_token_seconds += self.clock() - sent

    def stream_finished(self, attempt: object) -> None:
        self.streams -= 1
        self._waiting.pop(id(attempt), None)

    def retrying(self, error: ProviderError) -> None:
        self.retries += 1
        self.retried[error.kind] += 1

    def prompt_finished(self, response: APIResponse) -> None:
        self.done += 1
        if response.cached:
            self.cached += 1
        if response.error is None:
            self.succeeded += 1
        else:
            self.failed += 1
            self.errors[response.error.kind] += 1

    def prompt_restored(self, response: APIResponse) -> None:
        self.restored += 1
        self.prompt_finished(response)

    def finish(self) -> None:
        self.finished_at = self.clock()

    # readings, for displays and programs --------------------------------------------------
    @property
    def elapsed(self) -> float:
        return (self.finished_at if self.finished_at is not None else self.clock()) - self.started_at

    @property
    def limiting_factor(self) -> str | None:
        """What holds requests back now: cooldown, tokens, requests, concurrency; or None."""
        source = self.limiting_factor_source
        return source() if source is not None and self.finished_at is None else None

    @property
    def time_to_first_token(self) -> float | None:
        """Mean seconds from sending a streamed request to its first event."""
        return self.first_token_seconds / self.first_tokens if self.first_tokens else None

    def slow(self, seconds: float = SLOW_ANSWER_SECONDS) -> int:
        """Streamed requests in flight that have waited longer than `seconds` for a first event."""
        cutoff = self.clock() - seconds
        return sum(1 for sent in self._waiting.values() if sent < cutoff)

    def rate(self) -> float:
        """Prompts finished per second over the last few seconds (the whole job once done)."""
        now = self.clock()
        if self.finished_at is None:
            samples = self._samples
            samples.append((now, self.done))
            while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW_SECONDS:
                samples.popleft()
            then, done_then = samples[0]
            if now - then >= 1.0:
                return (self.done - done_then) / (now - then)
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        """Seconds left at the current rate, when the total is known and work is moving."""
        if self.total is None:
            return None
        rate = self.rate()
        return (self.total - self.done) / rate if rate > 0 else None

    def summary(self) -> str:
        """The closing report: outcomes, errors by kind, tokens, cost, 429s, rate."""
        elapsed = self.elapsed
        lines = [
            f"{self.done:,} prompts in {elapsed:,.1f}s ({self.done / elapsed if elapsed > 0 else 0:,.1f}/s): "
            f"{self.succeeded:,} succeeded, {self.failed:,} failed"
            + (f" ({self.restored:,} restored from the journal)" if self.restored else "")
            + (f", {self.cached:,} cached (no call, no cost)" if self.cached else ""),
            f"attempts {self.attempts:,}, retries {self.retries:,}, 429s seen {self.rate_limited:,}",
            f"tokens {self.input_tokens:,} in / {self.output_tokens:,} out, cost ${self.cost:,.4f}",
        ]
        if self.errors:
            lines.append("failed by kind: " + ", ".join(f"{kind} {n:,}" for kind, n in self.errors.most_common()))
        if self.retried:
            lines.append("retried by kind: " + ", ".join(f"{kind} {n:,}" for kind, n in self.retried.most_common()))
        return "\n".join(lines)
