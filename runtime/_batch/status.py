"""Where a batch job stands: per part, and in all, as numbers a program can read."""

from __future__ import annotations

from dataclasses import dataclass

from cloudburst._batch.manifest import Part
from cloudburst._status import StatusTracker


@dataclass(frozen=True, slots=True)
class PartStatus:
    """One part of a job: its provider id and state, and how many of its requests have ended how."""

    number: int
    provider_id: str | None
    state: str
    """`not_submitted`, the provider's own state while it runs, or `ended`."""
    outcome: str | None
    """Once ended: completed, expired, cancelled or failed."""
    requests: int
    succeeded: int
    errored: int
    pending: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BatchStatus:
    id: str
    parts: tuple[PartStatus, ...]

    @property
    def ended(self) -> bool:
        return all(part.state == "ended" for part in self.parts)

    @property
    def requests(self) -> int:
        return sum(part.requests for part in self.parts)

    @property
    def succeeded(self) -> int:
        return sum(part.succeeded for part in self.parts)

    @property
    def errored(self) -> int:
        return sum(part.errored for part in self.parts)

    def __str__(self) -> str:
        ended = sum(part.state == "ended" for part in self.parts)
        return (
            f"batch {self.id}: {ended}/{len(self.parts)} parts ended; {self.requests:,} requests, "
            f"{self.succeeded:,} succeeded, {self.errored:,} errored"
        )


def part_status(part: Part) -> PartStatus:
    """A part as last seen, in the job's own words (counts normalised by its protocol)."""
    counts = part.counts
    state = "ended" if part.ended else "not_submitted" if part.provider_id is None else part.state or "submitted"
    pending = counts.get("pending", part.requests if not part.ended else 0)
    return PartStatus(
        part.number,
        part.provider_id,
        state,
        part.outcome,
        part.requests,
        counts.get("succeeded", 0),
        counts.get("errored", 0),
        pending,
        part.error,
    )


def count_into(tracker: StatusTracker, status: BatchStatus) -> None:
    """The display's numbers from the providers' counts."""
    tracker.succeeded = status.succeeded
    tracker.failed = status.errored
    tracker.done = sum(part.requests - part.pending for part in status.parts)
    tracker.in_flight = sum(part.pending for part in status.parts)
