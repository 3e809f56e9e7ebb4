"""Files and batches a simulated provider holds, and the clock a batch runs on.

A batch's state is a function of time since its creation, read when asked — no background
tasks. With duration T it validates until 0.1·T, processes its requests evenly until 0.8·T,
finalizes until T, then ends. A cancel freezes what was processed; cancelling lasts 0.1·T.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from cloudburst._sim.answers import fraction, make_id

Phase = Literal["validating", "in_progress", "finalizing", "ended", "cancelling", "cancelled"]
Fate = Literal["succeeded", "errored", "expired"]
T = TypeVar("T")


@dataclass(slots=True)
class StoredFile:
    id: str
    filename: str
    purpose: str
    mime_type: str
    content: bytes
    created_at: float
    downloadable: bool = True
    owner: str = ""
    """The API key that made it, for providers that keep files per key (Gemini)."""
    ready_at: float = 0.0
    """When processing ends and the file may be used (Gemini's PROCESSING → ACTIVE)."""


@dataclass(slots=True)
class Upload:
    """A resumable upload in progress (Gemini's): what was declared and what has arrived."""

    id: str
    owner: str
    name: str
    display_name: str | None
    mime_type: str
    size: int | None
    """The declared total size in bytes, None when the client did not say."""
    received: bytearray = field(default_factory=bytearray)


@dataclass(slots=True)
class StoredBatch:
    """A batch's requests (custom_id, body) and its clock; `info` holds provider fields."""

    id: str
    items: list[tuple[str, Any]]
    created_at: float
    duration: float
    error_fraction: float
    expired_fraction: float
    info: dict[str, Any] = field(default_factory=dict)
    cancelled_at: float | None = None
    results: list[tuple[str, str, Any]] | None = None
    """(custom_id, outcome, provider result) per request, made once when the batch ends."""

    def _progress(self, at: float) -> float:
        if self.duration <= 0:
            return 1.0
        return min(1.0, max(0.0, (at - self.created_at - 0.1 * self.duration) / (0.7 * self.duration)))

    def processed(self, now: float) -> int:
        """How many requests (in order) have been attempted by `now`."""
        at = now if self.cancelled_at is None else min(now, self.cancelled_at)
        return int(len(self.items) * self._progress(at))

    def phase(self, now: float) -> Phase:
        if self.cancelled_at is not None:
            return "cancelled" if now >= self.cancelled_at + 0.1 * self.duration else "cancelling"
        elapsed = now - self.created_at
        if elapsed >= self.duration:
            return "ended"
        if elapsed < 0.1 * self.duration:
            return "validating"
        return "in_progress" if elapsed < 0.8 * self.duration else "finalizing"

    def ends_at(self) -> float:
        if self.cancelled_at is not None:
            return self.cancelled_at + 0.1 * self.duration
        return self.created_at + self.duration

    def fate(self, custom_id: str) -> Fate:
        """Whether a request succeeds, fails or expires: drawn from its custom_id."""
        draw = fraction(f"{self.id}/{custom_id}")
        if draw < self.error_fraction:
            return "errored"
        return "expired" if draw < self.error_fraction + self.expired_fraction else "succeeded"


def file_ids(value: Any) -> Iterator[str]:
    """Every `file_id` a request body names, wherever it sits (OpenAI's `file.file_id` and
    `input_file`, Anthropic's `source.file_id`)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "file_id" and isinstance(item, str):
                yield item
            else:
                yield from file_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from file_ids(item)


@dataclass(slots=True)
class Store:
    """One provider's files, batches and open uploads, by id."""

    files: dict[str, StoredFile] = field(default_factory=dict)
    batches: dict[str, StoredBatch] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def new_id(self, prefix: str, length: int = 24) -> str:
        return make_id(next(self._ids).to_bytes(8, "big") + prefix.encode(), prefix, length)


def shuffle(results: list[T], seed: int, batch_id: str) -> None:
    """Put a batch's results in an order of their own, as OpenAI and Anthropic say they may
    come (not the input's); the same seed and batch give the same order."""
    random.Random(f"{seed}/{batch_id}").shuffle(results)
