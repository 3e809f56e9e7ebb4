"""`cloudburst run --ordered`: results written in input order, in bounded memory.

Results finish out of order; a reorder buffer holds each one until every earlier prompt has its
result, then writes the run of them. A slow prompt early in the file (a hang, retries after
429s) would make the buffer grow without bound while the later prompts keep finishing, so the
prompts are read at most `window` past the oldest one without a result: once that many are
held, no new prompt is pulled until the slow one ends (at worst at its timeout, after its
retries), and throughput falls to nothing meanwhile. Memory stays at `window` results; a
bigger window rides out longer stalls at the cost of more memory.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator

from cloudburst._prompt import PromptLike


class ReadAhead:
    """The prompts, pulled at most `window` past the oldest one without a result. An async
    iterable for the job (it waits for room); iterable as it is for the journal's check."""

    def __init__(self, prompts: Iterable[PromptLike], window: int) -> None:
        self.prompts = prompts
        self.window = window
        self.pulled = 0
        self.low = 0
        """Every prompt before this index has its result."""
        self.finished: set[int] = set()
        """Indices with a result past `low` (at most `window` of them)."""
        self.room: asyncio.Event | None = None

    def __iter__(self) -> Iterator[PromptLike]:
        return iter(self.prompts)

    async def __aiter__(self) -> AsyncIterator[PromptLike]:
        self.room = asyncio.Event()
        for prompt in self.prompts:
            while self.pulled - self.low >= self.window:
                self.room.clear()
                await self.room.wait()
            self.pulled += 1
            yield prompt

    def done(self, index: int) -> None:
        """Prompt `index` has its result."""
        self.finished.add(index)
        while self.low in self.finished:
            self.finished.remove(self.low)
            self.low += 1
        if self.room is not None:
            self.room.set()


class Reorder:
    """Lines in index order: `put` holds a line until every earlier index was put (or
    `skip`ped: its line is written already), then hands the run to `write`. Thread-safe: the
    journal's writer puts, the job skips."""

    def __init__(self, write: Callable[[list[bytes]], None]) -> None:
        self.write = write
        self.next = 0
        self.held: dict[int, bytes] = {}
        self.skipped: set[int] = set()
        self.lock = threading.Lock()

    def put(self, index: int, line: bytes) -> None:
        with self.lock:
            self.held[index] = line
            self._release()

    def skip(self, index: int) -> None:
        with self.lock:
            self.skipped.add(index)
            self._release()

    def _release(self) -> None:
        ready = []
        while True:
            if self.next in self.held:
                ready.append(self.held.pop(self.next))
            elif self.next in self.skipped:
                self.skipped.remove(self.next)
            else:
                break
            self.next += 1
        if ready:
            self.write(ready)

    def flush(self) -> None:
        """Write what is held, in order, gaps and all (the job ended before the gaps' results)."""
        with self.lock:
            if self.held:
                self.write([self.held[index] for index in sorted(self.held)])
                self.held.clear()
