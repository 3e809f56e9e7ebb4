"""Answers shared between identical requests: kept in a response cache across jobs and
processes, and shared while in flight, so the same request is never paid for twice.

Two requests are identical when their key is: a SHA-256 of the model id, the URL path, the
headers that shape the answer (API keys and other credentials left out) and the body exactly as
rendered — prompt, settings, tools, schema and media included. Only successful answers are
kept; errors, and answers that fail their JSON or schema check, are sent again next time.

    client = LLMClient("gpt-4.1-mini", cache="answers.sqlite")   # or cache=MyCache()

`Cache` is the small interface a cache implements; `SQLiteCache` is the default one. What it
keeps is the raw answer (status and body), parsed again on every hit, so parsing stays in one
place and a hit gives each prompt a fresh APIResponse.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

import orjson

from cloudburst._constants import (
    CACHE_BUSY_TIMEOUT_SECONDS,
    CACHE_WRITE_BATCH,
    CACHE_WRITE_INTERVAL_SECONDS,
    CACHE_WRITER_IDLE_SECONDS,
)
from cloudburst._errors import ConfigurationError, ProviderError

log = logging.getLogger("cloudburst")

_SECRET_HINTS = ("auth", "key", "token", "secret", "cookie", "signature", "credential")
"""A header whose name holds one of these carries a credential: never part of a key."""


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A provider's successful answer, as it came: the HTTP status and the body's bytes."""

    status: int
    body: bytes


@runtime_checkable
class Cache(Protocol):
    """What a response cache does. `get` runs on the job's event loop; `put` must return at
    once (store in the background); `flush` blocks until every put is stored, and is called
    off the event loop at the end of each job."""

    async def get(self, key: str) -> CachedAnswer | None: ...

    def put(self, key: str, answer: CachedAnswer) -> None: ...

    def flush(self) -> None: ...


CacheSpec = str | os.PathLike[str] | Cache | None
"""What `LLMClient(cache=...)` takes: a path to a SQLite file, a Cache, or None (no cache)."""


def open_cache(spec: CacheSpec) -> Cache | None:
    if spec is None or isinstance(spec, Cache):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return SQLiteCache(spec)
    raise ConfigurationError(f"cache must be a path or a Cache (get, put, flush), not {type(spec).__name__}")


def request_identity(model_id: str, url: str, headers: Mapping[str, str], auth_header: str) -> bytes:
    """What, besides the body, makes two requests the same: computed once per route."""
    auth = auth_header.lower()
    kept = sorted(
        (name.lower(), value)
        for name, value in headers.items()
        if name.lower() != auth and not any(hint in name.lower() for hint in _SECRET_HINTS)
    )
    return orjson.dumps([model_id, urlsplit(url).path, kept]) + b"\n"


def request_key(identity: bytes, body: bytes) -> str:
    digest = hashlib.sha256(identity)
    digest.update(body)
    return digest.hexdigest()


class SQLiteCache:
    """A response cache in one SQLite file (WAL mode), which any number of processes may share:
    SQLite's locks order their writes, each waiting up to `CACHE_BUSY_TIMEOUT_SECONDS`.

    A lookup is one primary-key read on the caller's thread (tens of microseconds). Writes go
    to a thread of their own that commits them in batches, so the event loop never waits on
    the disk; until committed, an answer is served from memory. A failed write is logged and
    dropped: a cache must never cost a result."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._reader = _connect(self.path)
        self._unwritten: dict[str, CachedAnswer] = {}
        self._queue: queue.SimpleQueue[tuple[str, CachedAnswer] | threading.Event] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None

    async def get(self, key: str) -> CachedAnswer | None:
        answer = self._unwritten.get(key)
        if answer is not None:
            return answer
        try:
            row = self._reader.execute("SELECT status, body FROM answers WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:  # a miss: the request is sent, never lost
            log.warning("could not read the cache %s: %s", self.path, exc)
            return None
        return None if row is None else CachedAnswer(row[0], row[1])

    def put(self, key: str, answer: CachedAnswer) -> None:
        self._unwritten[key] = answer
        self._send(answer=(key, answer))

    def flush(self) -> None:
        done = threading.Event()
        self._send(answer=done)
        done.wait()

    def _send(self, *, answer: tuple[str, CachedAnswer] | threading.Event) -> None:
        with self._lock:
            self._queue.put(answer)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write, name="cloudburst-cache", daemon=True)
                self._writer.start()

    def _write(self) -> None:
        """The writer thread: commit what is queued in batches; stop after a quiet while."""
        connection = _connect(self.path)
        try:
            while True:
                try:
                    first = self._queue.get(timeout=CACHE_WRITER_IDLE_SECONDS)
                except queue.Empty:
                    with self._lock:
                        if self._queue.empty():
                            self._writer = None
                            return
                    continue
                if not isinstance(first, threading.Event) and self._queue.qsize() < CACHE_WRITE_BATCH:
                    time.sleep(CACHE_WRITE_INTERVAL_SECONDS)  # let a batch gather: one commit for many
                rows: list[tuple[str, int, bytes, float]] = []
                waiting: list[threading.Event] = []
                item: tuple[str, CachedAnswer] | threading.Event | None = first
                while item is not None:
                    if isinstance(item, threading.Event):
                        waiting.append(item)
                    else:
                        rows.append((item[0], item[1].status, item[1].body, time.time()))
                    if len(rows) >= CACHE_WRITE_BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        item = None
                if rows:
                    self._commit(connection, rows)
                for event in waiting:
                    event.set()
        finally:
            connection.close()

    def _commit(self, connection: sqlite3.Connection, rows: list[tuple[str, int, bytes, float]]) -> None:
        try:
            connection.execute("BEGIN IMMEDIATE")  # the write lock first: waits its turn, never a stale read
            try:
                connection.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)", rows)
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        except sqlite3.Error as exc:
            log.warning("could not write %d answers to the cache %s: %s", len(rows), self.path, exc)
        for key, *_ in rows:
            self._unwritten.pop(key, None)


def _connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode to a file with the answers table. Two processes opening a new
    file at once may find it locked while the other switches it to WAL, which SQLite reports
    at once rather than waiting: that is retried for up to the busy timeout."""
    deadline = time.monotonic() + CACHE_BUSY_TIMEOUT_SECONDS
    while True:
        try:
            connection = sqlite3.connect(
                path, timeout=CACHE_BUSY_TIMEOUT_SECONDS, check_same_thread=False, isolation_level=None
            )
            if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS answers"
                " (key TEXT PRIMARY KEY, status INTEGER NOT NULL, body BLOB NOT NULL, stored REAL NOT NULL)"
            )  # a rowid table: appends, where WITHOUT ROWID's random inserts of large rows cost 4x
            return connection
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise ConfigurationError(f"cannot open the response cache {path}: {exc}") from None
            time.sleep(0.01)
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open the response cache {path}: {exc}") from None


Outcome = tuple[int, Mapping[str, str], bytes] | ProviderError
"""How a request ended, to hand to identical ones: the answer as it came, or the failure on
the way (a timeout, a reset)."""


class Shared:
    """One job's view of answers shared between identical requests: the cache (when there is
    one) and, with `dedup`, the requests in flight. Only the request that leads sends; the
    others wait for its outcome and get their own APIResponse from it."""

    def __init__(self, cache: Cache | None, dedup: bool) -> None:
        self.cache = cache
        self.dedup = dedup
        self._leaders: dict[str, asyncio.Future[Outcome | None]] = {}

    async def wait(self, key: str) -> Outcome | None:
        """The outcome of an identical request (stored, or in flight now), or None: then the
        caller sends, and must call `finish` with what came of it."""
        if self.dedup:
            while (leader := self._leaders.get(key)) is not None:
                outcome = await asyncio.shield(leader)
                if outcome is not None:
                    return outcome  # else the leader gave up (cancelled): perhaps lead instead
            self._leaders[key] = asyncio.get_running_loop().create_future()
        if self.cache is not None:
            try:
                answer = await self.cache.get(key)
            except BaseException:
                self.finish(key, None, store=False)
                raise
            if answer is not None:
                outcome = (answer.status, {}, answer.body)
                self.finish(key, outcome, store=False)
                await asyncio.sleep(0)  # a run of hits would otherwise never let the loop (the bar, signals) in
                return outcome
        return None

    def finish(self, key: str, outcome: Outcome | None, *, store: bool) -> None:
        """Hand the leader's outcome to the requests waiting on it (None: they send themselves),
        and keep it in the cache when `store` (a successful answer)."""
        if self.dedup:
            leader = self._leaders.pop(key, None)
            if leader is not None and not leader.done():
                leader.set_result(outcome)
        if store and self.cache is not None and isinstance(outcome, tuple):
            self.cache.put(key, CachedAnswer(outcome[0], outcome[2]))
