"""StatusTracker: where a job stands, as numbers a program can read and a display can draw.

Updated by the client on every attempt with a few integer additions; the rate and ETA are
computed only when asked (by the display's timer), so tracking costs nothing per request.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cloudburst._constants import RATE_WINDOW_SECONDS, SLOW_ANSWER_SECONDS, STALL_SECONDS
from cloudburst._errors import ProviderError
from cloudburst._limiter.base import RATE_FACTORS, BucketState
from cloudburst._response import APIResponse

LEGEND = (
    "cooldown: a model's requests wait out a 429's retry-after, then go at a slower pace; "
    "overloaded: it sends fewer at once after 503/529 answers, widening again with each success"
)
"""What the limiter's words mean, under a summary of a job that met them."""


def count(n: float) -> str:
    """A count in three or four figures: 950, 12.3k, 4.5M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f}{suffix}"
    return f"{n:.0f}"


@dataclass(slots=True)
class ModelTally:
    """One model's share of a job: prompts it ended, and what its attempts used and cost."""

    succeeded: int = 0
    failed: int = 0
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0


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
        self.stopped = 0
        """Prompts pulled and then stopped without a result: the job ended early (the caller
        broke out of `as_completed`, or a signal's grace ran out)."""
        self.cancelled = 0
        """Attempts cancelled in flight by such an end (counted in `attempts`: they were sent)."""
        self.models: dict[str, ModelTally] = {}
        """By model id, in the order they first answered."""
        self.limiting_factor_source: Callable[[], str | None] | None = None
        self.streams = 0
        """Streamed attempts in flight."""
        self.first_tokens = 0
        self.first_token_seconds = 0.0
        """Streamed attempts that got their first event, and their times to it, added up."""
        self._waiting: dict[int, float] = {}
        """Streamed attempts in flight without a first event yet: when each was sent."""
        self.buckets_source: Callable[[], Sequence[BucketState]] | None = None
        """The limiter's buckets (`Limiter.states`), for the limit line and the ETA."""
        self.shares: Mapping[str, float] = {}
        """Each bucket's share of first attempts (the client's weights), for the ETA."""
        self.last_result_at = self.started_at
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
        tally = self.models.get(response.model)
        if tally is None:
            tally = self.models[response.model] = ModelTally()
        tally.attempts += 1
        tally.input_tokens += usage.input_tokens
        tally.output_tokens += usage.output_tokens
        tally.cost += response.cost
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

    def attempt_cancelled(self) -> None:
        """An attempt in flight was cancelled (the job ended early): no answer, nothing billed."""
        self.in_flight -= 1
        self.cancelled += 1

    def retrying(self, error: ProviderError) -> None:
        self.retries += 1
        self.retried[error.kind] += 1

    def prompt_finished(self, response: APIResponse) -> None:
        self.done += 1
        self.last_result_at = self.clock()
        if response.cached:
            self.cached += 1
        tally = self.models.get(response.model) if response.model else None
        if response.error is None:
            self.succeeded += 1
            if tally is not None:
                tally.succeeded += 1
        else:
            self.failed += 1
            self.errors[response.error.kind] += 1
            if tally is not None:
                tally.failed += 1

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

    def buckets(self) -> Sequence[BucketState]:
        source = self.buckets_source
        return source() if source is not None and self.finished_at is None else ()

    def limiting(self) -> list[tuple[float, BucketState]]:
        """The buckets whose waiting requests a rate or a cooldown holds back, each with the
        seconds it needs for its part of the work left, slowest first. Its part: the prompts
        waiting for it now, and its share (the client's weights) of those not yet pulled, with
        retries at the rate seen so far; at the pace it grants now, after its cooldown."""
        buckets = self.buckets()
        held = [b for b in buckets if b.blocked_by in RATE_FACTORS and b.per_second]
        if not held or self.total is None:
            return []
        waiting = sum(b.waiting for b in buckets)
        unpulled = max(0, self.total - self.done - self.in_flight - waiting)
        started = self.done + self.in_flight
        per_prompt = max(1.0, self.attempts / started) if started else 1.0
        share = 1.0 / len(self.shares) if self.shares else 1.0
        times = [
            (
                b.cooldown
                + (b.waiting + unpulled * self.shares.get(b.key, share) * per_prompt) / (b.per_second or 1.0),
                b,
            )
            for b in held
        ]
        return sorted(times, key=lambda pair: -pair[0])

    def stalled(self) -> float | None:
        """Seconds since the last result, when everything left is in flight and none has ended
        for `STALL_SECONDS` and three times the job's mean gap between results (slow or hung
        requests): no rate then says when they end."""
        if self.finished_at is not None or self.total is None or self.total - self.done > self.in_flight:
            return None
        quiet = self.clock() - self.last_result_at
        gap = self.elapsed / self.done if self.done else 0.0
        return quiet if quiet >= max(STALL_SECONDS, 3 * gap) and self.in_flight else None

    def eta(self) -> float | None:
        """Seconds left, when the total is known. While the limiter holds requests back, each
        held bucket's share of the prompts not yet sent (retries included, at the rate seen so
        far), at the rate its pace grants now, after its cooldown: the slowest bucket says.
        Otherwise the prompts left at the recent completion rate. None while nothing moves, or
        while only hung requests are left (`stalled`)."""
        if self.total is None:
            return None
        left = self.total - self.done
        if left <= 0:
            return 0.0
        if self.stalled() is not None:
            return None
        limiting = self.limiting()
        if limiting:
            return limiting[0][0]
        rate = self.rate()
        return left / rate if rate > 0 else None

    def summary(self) -> str:
        """The closing report: outcomes, errors by kind, tokens, cost, 429s, rate, a line a
        model, and what the words mean."""
        elapsed = self.elapsed
        lines = [
            f"{self.done:,} prompts in {elapsed:,.1f}s ({self.done / elapsed if elapsed > 0 else 0:,.1f}/s): "
            f"{self.succeeded:,} succeeded, {self.failed:,} failed"
            + (f" ({self.restored:,} restored from the journal)" if self.restored else "")
            + (f", {self.cached:,} cached (no call, no cost)" if self.cached else ""),
            f"attempts {self.attempts:,}"
            + (f" ({self.cancelled:,} cancelled in flight)" if self.cancelled else "")
            + f", retries {self.retries:,}, 429s seen {self.rate_limited:,}",
            f"tokens {self.input_tokens:,} in / {self.output_tokens:,} out, cost ${self.cost:,.4f}",
        ]
        if self.stopped:
            lines.append(f"stopped early: {self.stopped:,} prompts taken from the input have no result")
        if self.errors:
            lines.append("failed by kind: " + ", ".join(f"{kind} {n:,}" for kind, n in self.errors.most_common()))
        if self.retried:
            lines.append("retried by kind: " + ", ".join(f"{kind} {n:,}" for kind, n in self.retried.most_common()))
        width = max((len(model) for model in self.models), default=0)
        for model, t in self.models.items():
            retried = f" · {t.attempts:,} attempts" if t.attempts != t.succeeded + t.failed else ""
            lines.append(
                f"  {model:<{width}} {t.succeeded:>6,} ok {t.failed:>3,} failed "
                f"{count(t.input_tokens):>6} in / {count(t.output_tokens):>6} out ${t.cost:,.4f}{retried}"
            )
        if self.rate_limited or "overloaded" in self.retried:
            lines.append(LEGEND)
        return "\n".join(lines)
