"""What every limiter shares: what a request needs, the ticket it holds, and the interface the
client talks to (in-process by default, Redis to share a limit across processes)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cloudburst._config import RateLimits
from cloudburst._errors import InvalidRequestError
from cloudburst._headers import ReportedLimits
from cloudburst._response import Usage

Clock = Callable[[], float]
"""Monotonic seconds."""

LIMITING_FACTORS = (
    "cooldown",
    "overloaded",
    "tokens",
    "input tokens",
    "output tokens",
    "requests",
    "concurrency",
)
"""What can hold a request back, most telling first (the display shows the first that applies).
"overloaded" is the concurrency window narrowed after overloaded answers."""

DIMENSIONS = ("requests", "tokens", "input tokens", "output tokens")
"""What a bucket meters, in the order of `Need.amounts`."""


RATE_FACTORS = frozenset({"cooldown", "tokens", "input tokens", "output tokens", "requests"})
"""Factors that hold a bucket to a rate (so its rate tells how long the work left takes)."""


@dataclass(frozen=True, slots=True)
class BucketState:
    """One bucket as the display and the ETA read it, a few times a second."""

    key: str
    """`provider/model`."""
    blocked_by: str | None
    """What holds its waiting requests back (a `LIMITING_FACTORS` entry); None when none wait."""
    waiting: int
    in_flight: int
    concurrency: int
    """Requests it lets be in flight now (narrowed after overloaded answers)."""
    cooldown: float
    """Seconds left of its hold after a 429."""
    per_second: float | None
    """Requests a second its pace grants now (tightened after 429s), from each metered rate and
    what an average request takes of it; None when no rate meters it."""
    remaining: tuple[tuple[str, float], ...] = ()
    """What the provider's headers last said is left this minute, by dimension."""


class RequestTooLargeError(InvalidRequestError):
    """A request that can never fit its bucket: more tokens than the whole per-minute budget.
    Returned on the prompt's result at once, instead of waiting forever; never sent."""


@dataclass(frozen=True, slots=True)
class Need:
    """What one attempt reserves: one request, its prompt's estimated tokens, its maximum output."""

    input_tokens: int = 0
    output_tokens: int = 0
    as_counted: bool = False
    """The provider counts this input as estimated here and never corrects it: nothing of it is
    given back once the answer reports its usage."""

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def amounts(self) -> tuple[int, int, int, int]:
        """Per dimension, in `DIMENSIONS` order."""
        return 1, self.input_tokens + self.output_tokens, self.input_tokens, self.output_tokens


@dataclass(frozen=True, slots=True)
class Ticket:
    """A granted reservation; `lease` names it where the limiter keeps shared state."""

    key: str
    need: Need
    lease: str = ""


async def granted(future: asyncio.Future[Ticket], release_unsent: Callable[[Ticket], None]) -> Ticket:
    """The ticket a waiter is granted; cancelled after the grant (but before it was seen), the
    reservation is given back unsent."""
    try:
        return await future
    except asyncio.CancelledError:
        if future.done() and not future.cancelled():
            release_unsent(future.result())
        raise


def refunds(need: Need, used: Usage | None) -> tuple[float, float, float, float]:
    """What to give back per dimension once the provider reported its usage: the input estimate
    less what was counted; output only where it is metered apart (Anthropic refunds unused
    max_tokens; OpenAI's combined budget counts max_tokens whole)."""
    if used is None:
        return 0.0, 0.0, 0.0, 0.0
    unused_input = 0 if need.as_counted else need.input_tokens - used.input_tokens
    return 0.0, unused_input, unused_input, need.output_tokens - used.output_tokens


class Limiter(Protocol):
    """What the client needs from a limiter; keys name a (provider, model) bucket."""

    def configure(self, key: str, limits: RateLimits) -> None: ...

    def too_large(self, key: str, need: Need) -> str | None:
        """Why `need` can never be granted on `key`, or None."""
        ...

    def counts_tokens(self, key: str) -> bool:
        """Whether `key` has a token budget (set, or learned from headers), so requests to it
        must carry a token estimate."""
        ...

    async def acquire(self, key: str, need: Need) -> Ticket:
        """Wait until `need` fits, then reserve it (and a concurrency slot)."""
        ...

    def settle(self, ticket: Ticket, used: Usage | None, reported: ReportedLimits | None) -> None:
        """The attempt got an answer (or failed on the way): free its slot, reconcile the
        estimate with `used` (None keeps the reservation: it may have been counted), and bring
        the provider's reported budget in."""
        ...

    def release_unsent(self, ticket: Ticket) -> None:
        """A reservation that was never sent: give everything back."""
        ...

    def rate_limited(self, key: str, cooldown: float) -> None:
        """A 429: hold the bucket for `cooldown` seconds, then resume at a tightened pace."""
        ...

    def overloaded(self, key: str) -> None:
        """An overloaded answer: narrow the bucket's concurrency window."""
        ...

    def limiting_factor(self) -> str | None:
        """What is holding requests back right now, for the display; None when nothing is."""
        ...

    def states(self) -> list[BucketState]:
        """Every bucket's state, for the display and the ETA."""
        ...
