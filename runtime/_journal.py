"""The journal: each final result of a job in a SQLite file the moment it is known, so a killed
job resumes without losing, or paying again for, finished work.

One row per prompt, keyed by the prompt's id (`#<index>` when it has none), holding a hash of
the request it renders to (so a prompt or setting changed since is caught, never mixed in) and
the result: its fields, plus the provider's body where they do not hold the whole answer
(parsed again on resume), so a resumed job hands back the same APIResponse.

The job only queues rows; one writer thread inserts them and commits every
`JOURNAL_COMMIT_SECONDS` (WAL mode, `synchronous=NORMAL`: a commit survives the process being
killed, though a power cut may take the last few). So `kill -9` loses at most the results that
arrived in the last commit interval, plus one commit's time; a resumed job sends those again,
with the requests that were in flight. On the event loop the journal only reads, and only when
a job resumes.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel

from cloudburst._constants import JOURNAL_COMMIT_SECONDS
from cloudburst._errors import ERROR_KINDS, CloudburstError, ConfigurationError, JournalMismatchError, ProviderError
from cloudburst._prompt import Completed
from cloudburst._render import parse
from cloudburst._response import APIResponse, Usage
from cloudburst._tools import ToolCall

if TYPE_CHECKING:
    from cloudburst._client import LLMClient
    from cloudburst._job import Job, Pending
    from cloudburst._prompt import PromptLike

Record = dict[str, Any]
"""A result as the journal keeps it: see `encode`."""

SCHEMA_VERSION = 1
ROWS_PER_INSERT = 300
"""Rows a statement inserts: 900 parameters, under every SQLite's limit (999 before 3.32)."""
_Row = tuple[str, bytes, bytes, Record]


class Journal:
    """A job's results in a SQLite file. `on_commit` runs in the writer thread with each batch of
    records right after it is committed (`cloudburst run` writes its output lines there, so the
    output never holds a result that the journal could still lose)."""

    def __init__(
        self, path: str | os.PathLike[str], *, on_commit: Callable[[list[Record]], None] | None = None
    ) -> None:
        self.path = Path(path)
        self.on_commit = on_commit
        self._db = _connect(self.path)
        """For reading, from the job's thread; the writer has its own connection."""
        self._db.create_function("prompt_index", 1, lambda record: orjson.loads(record)["index"], deterministic=True)
        self._queue: queue.SimpleQueue[_Row | threading.Event | None] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._write, name="cloudburst-journal", daemon=True)
        self._thread.start()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM results").fetchone()[0])

    def request_of(self, key: str) -> bytes | None:
        """The request hash journaled under `key`, if a result is."""
        row = self._db.execute("SELECT request FROM results WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def lookup(self, key: str) -> tuple[bytes, Record] | None:
        """The request hash and the result journaled under `key`, if any."""
        row = self._db.execute("SELECT request, record FROM results WHERE key = ?", (key,)).fetchone()
        return None if row is None else (bytes(row[0]), orjson.loads(row[1]))

    def keys(self) -> set[str]:
        return {key for (key,) in self._db.execute("SELECT key FROM results")}

    def records(self, *, by_index: bool = False) -> Iterator[Record]:
        """Every result, in the order they were first journaled (`by_index`: in input order,
        sorted by SQLite, not in memory); not those of input that could not be sent
        (`UNSENDABLE`), which each run reads again."""
        order = "prompt_index(record)" if by_index else "rowid"
        for (record,) in self._db.execute(
            f"SELECT record FROM results WHERE request != ? ORDER BY {order}", (UNSENDABLE,)
        ):
            yield orjson.loads(record)

    def put(self, key: str, request: bytes, record: Record) -> None:
        """Queue a result; it is on disk within one commit interval."""
        self._check()
        try:
            data = orjson.dumps(record)
        except TypeError:  # a raw body orjson cannot write (an integer past 64 bits): keep the rest
            record["raw"] = None
            data = orjson.dumps(record)
        self._queue.put((key, request, data, record))

    def flush(self) -> None:
        """Return once everything queued so far is committed (and handed to `on_commit`)."""
        if self._thread.is_alive():
            done = threading.Event()
            self._queue.put(done)
            self._wake.set()
            done.wait()
        self._check()

    def close(self) -> None:
        """Commit what is queued, stop the writer and close the file."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._wake.set()
            self._thread.join()
        self._db.close()
        self._check()

    def _check(self) -> None:
        if self._failure is not None:
            raise CloudburstError(f"the journal {self.path} could not be written: {self._failure}") from self._failure

    def _write(self) -> None:
        try:
            db = _connect(self.path)
        except Exception as exc:  # seen at the next put or flush, never a silent loss
            self._failure = exc
            return
        try:
            running = True
            while running:
                self._wake.wait(JOURNAL_COMMIT_SECONDS)
                self._wake.clear()
                rows: list[_Row] = []
                waiting: list[threading.Event] = []
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        running = False
                    elif isinstance(item, threading.Event):
                        waiting.append(item)
                    else:
                        rows.append(item)
                if rows and self._failure is None:
                    try:
                        with db:
                            _insert(db, rows)
                        if self.on_commit is not None:
                            self.on_commit([row[3] for row in rows])
                    except Exception as exc:  # the job sees it at its next put or flush
                        self._failure = exc
                for event in waiting:
                    event.set()
        finally:
            db.close()


def _insert(db: sqlite3.Connection, rows: list[_Row]) -> None:
    """Many rows a statement: sqlite3 lets go of the GIL for each statement it runs, and taking it
    back waits for the event loop's thread to yield (up to its switch interval, 5 ms), so a
    statement per row would leave the writer far behind a busy job."""
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        values = ", ".join(["(?, ?, ?)"] * len(chunk))
        db.execute(
            f"INSERT OR REPLACE INTO results (key, request, record) VALUES {values}",
            [value for row in chunk for value in row[:3]],
        )


JournalLike = str | os.PathLike[str] | Journal
"""What `journal=` takes: a path (the job opens and closes it) or an open Journal."""


def _connect(path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            with db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, request BLOB NOT NULL, record BLOB NOT NULL)"
                )
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif version != SCHEMA_VERSION:
            raise ConfigurationError(f"{path} is a journal of another cloudburst version ({version})")
    except sqlite3.DatabaseError as exc:
        raise ConfigurationError(f"cannot use {path} as a journal: {exc}") from None
    return db


# results as records -------------------------------------------------------------------------------


def _usage(u: Usage) -> list[int]:
    """In Usage's field order: `Usage(*record["usage"])` reads it back."""
    return [
        u.input_tokens,
        u.output_tokens,
        u.reasoning_tokens,
        u.cache_read_tokens,
        u.cache_write_tokens,
        u.cache_write_1h_tokens,
    ]


def encode(index: int, prompt_id: str | None, response: APIResponse) -> Record:
    """A result as plain JSON data. The provider's body (`raw`) is kept only where the fields
    do not hold the whole answer (thoughts, tool calls, logprobs, structured output: `decode`
    parses them from it again) and for errors; a plain answer's body would double the record,
    and writing it is most of what journaling costs."""
    error = response.error
    whole = error is not None or response.thoughts or response.tool_calls or response.logprobs or response.parsed
    return {
        "index": index,
        "id": prompt_id,
        "provider": response.provider,
        "model": response.model,
        "provider_model": response.provider_model,
        "response_id": response.id,
        "completion": response.completion,
        "refusal": response.refusal,
        "finish_reason": response.finish_reason,
        "raw_finish_reason": response.raw_finish_reason,
        "usage": _usage(response.usage),
        "cost": response.cost,
        "attempts": response.attempts,
        "cached": response.cached,
        "failed_usage": _usage(response.failed_usage) if response.attempts > 1 else None,
        "failed_cost": response.failed_cost,
        "status": response.status,
        "request_id": response.request_id,
        "tool_calls": [_call(call) for call in response.tool_calls] or None,
        "parsed": _json_data(response.parsed),
        "error": None
        if error is None
        else {
            "kind": error.kind,
            "message": error.message,
            "status": error.status,
            "type": error.provider_type,
            "code": error.provider_code,
        },
        "raw": response.raw if whole else None,
    }


def _call(call: ToolCall) -> Record:
    return {"id": call.id, "name": call.name, "arguments": call.parsed_arguments, "raw_arguments": call.raw_arguments}


def _json_data(parsed: Any) -> Any:
    """Structured output as JSON data (a model instance dumped; JSON data kept as it is)."""
    return parsed.model_dump(mode="json") if isinstance(parsed, BaseModel) else parsed


def decode(record: Record, output_schema: Any = None) -> APIResponse:
    """The APIResponse `encode` was given, but for a plain answer's `raw` (None)."""
    raw, status, error = record["raw"], record["status"], record["error"]
    if error is None and status is not None and isinstance(raw, dict):
        response = parse(record["model"], status, {}, raw, output_schema=output_schema)
    else:
        response = APIResponse(
            record["provider"],
            record["model"],
            provider_model=record["provider_model"],
            id=record["response_id"],
            completion=record["completion"],
            refusal=record["refusal"],
            finish_reason=record["finish_reason"],
            raw_finish_reason=record["raw_finish_reason"],
            status=status,
            raw=raw,
            error=None if error is None else _error(error, raw),
        )
    response.request_id = record["request_id"]
    response.usage = Usage(*record["usage"])
    response.cost = record["cost"]
    response.attempts = record["attempts"]
    response.cached = record.get("cached", False)
    if record["failed_usage"] is not None:
        response.failed_usage = Usage(*record["failed_usage"])
    response.failed_cost = record["failed_cost"]
    return response


def _error(fields: Record, body: Any) -> ProviderError:
    kind = fields["kind"]
    cls = ERROR_KINDS.get(kind) or next((c for c in _subclasses(ProviderError) if c.kind == kind), ProviderError)
    return cls(
        fields["message"],
        status=fields["status"],
        provider_type=fields["type"],
        provider_code=fields["code"],
        body=body,
    )


def _subclasses(cls: type[ProviderError]) -> Iterator[type[ProviderError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


# a job's use of its journal ---------------------------------------------------------------------


UNSENDABLE = b""
"""The request hash of a result for input that could not become a request (an InputError): it is
journaled so that the output gets its line, and not restored, so a line fixed since is sent."""


def _key(pending: Pending | Completed) -> str:
    return pending.id if pending.id is not None else f"#{pending.index}"


class JobJournal:
    """What a job asks of its journal: a prompt's earlier result, when it is still the same
    request, and a record of each new one."""

    def __init__(self, journal: Journal, client: LLMClient, *, owned: bool) -> None:
        self.journal = journal
        self.client = client
        self.owned = owned
        """Opened from a path by the job, so closed by it."""
        self.resuming = len(journal) > 0

    @classmethod
    def open(cls, journal: JournalLike, client: LLMClient) -> JobJournal:
        if isinstance(journal, Journal):
            return cls(journal, client, owned=False)
        return cls(Journal(journal), client, owned=True)

    def fingerprint(self, pending: Pending) -> bytes:
        """A hash of the request `pending` renders to for the client's first model (whose first
        attempt then reuses the body)."""
        model = self.client.models[0]
        pending.body = self.client.route(model, pending.sampling, pending.options).body(pending.conversation)
        pending.body_model = model.id
        return hashlib.blake2b(pending.body, digest_size=16).digest()

    def restore(self, pending: Pending) -> APIResponse | None:
        """The prompt's journaled result; None when it has none (and must be sent)."""
        pending.request_hash = self.fingerprint(pending)
        if not self.resuming:
            return None
        found = self.journal.lookup(_key(pending))
        if found is None:
            return None
        request, record = found
        if request == UNSENDABLE:
            return None
        if request != pending.request_hash:
            raise self._mismatch(pending, 1)
        return decode(record, pending.sampling.output_schema)

    def record(self, pending: Pending, response: APIResponse) -> None:
        self.journal.put(_key(pending), pending.request_hash, encode(pending.index, pending.id, response))

    def record_unsendable(self, done: Completed) -> None:
        self.journal.put(_key(done), UNSENDABLE, encode(done.index, done.id, done.response))

    def check(self, job: Job, prompts: Iterable[PromptLike]) -> None:
        """Every prompt against the journal, before anything is sent: raises JournalMismatchError
        naming the first prompt that changed since its result was journaled."""
        first: Pending | None = None
        changed = 0
        for index, item in enumerate(prompts):
            pending = job.pending(index, item)
            if isinstance(pending, Completed):  # input that cannot be sent is never journaled
                continue
            request = self.journal.request_of(_key(pending))
            if request not in (None, UNSENDABLE) and request != self.fingerprint(pending):
                changed += 1
                first = first or pending
        if first is not None:
            raise self._mismatch(first, changed)

    def _mismatch(self, pending: Pending, changed: int) -> JournalMismatchError:
        where = f"prompt {pending.index}" + (f" (id {pending.id})" if pending.id is not None else "")
        more = f" and {changed - 1:,} more" if changed > 1 else ""
        return JournalMismatchError(
            f"{where}{more} changed since the journal {self.journal.path} recorded a result for it "
            "(the prompt, or its model, sampling or options); resume with the input the journal was "
            "made from, or start a new journal"
        )

    def finish(self) -> None:
        """Everything on disk; the journal closed if the job opened it."""
        if self.owned:
            self.journal.close()
        else:
            self.journal.flush()
