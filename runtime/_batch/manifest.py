"""A batch job on disk: what survives a crash, so `BatchJob.load` resumes without sending a
request twice or losing one.

One directory a job:

    manifest.json           the job and its parts (rewritten atomically at every step)
    part-0000.input.jsonl   the part's requests, in the provider's batch format
    part-0000.local.jsonl   one line per input index of the part: its prompt id, or why it was
                            not sent (an input error); `null` for a plain prompt
    part-0000.results.jsonl the provider's results, downloaded once (written aside, then renamed)

A part's `step` only moves forward: rendered → submitting (written before its upload and create
calls, with the time; an uploaded input file's id is saved as soon as it is known) → submitted
(the provider's id) → ended (the provider's final state) → fetched. A crash between "submitting" and "submitted"
leaves a batch the provider may hold: on resume it is looked up (by the job and part recorded in
its metadata or name, or by size and time where the provider keeps neither) before a new one is
created.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from cloudburst._constants import BATCH_HOME_ENV
from cloudburst._errors import ConfigurationError

Step = Literal["rendered", "submitting", "submitted", "ended", "fetched"]
MANIFEST = "manifest.json"
FORMAT = 1


@dataclass(slots=True)
class Part:
    number: int
    start: int
    """The first input index in this part; its indexes run to `end` (exclusive)."""
    end: int
    requests: int
    """Requests in the input file (the part's indexes less those not sent)."""
    size: int
    """Bytes of the input file."""
    step: Step = "rendered"
    input_file: str | None = None
    """The provider's id of the uploaded input file."""
    provider_id: str | None = None
    submit_started: float | None = None
    state: str | None = None
    """The provider's own state, as last polled."""
    counts: dict[str, int] = field(default_factory=dict)
    outcome: str | None = None
    """Once ended: completed, expired, cancelled or failed."""
    error: str | None = None
    """Why the part failed as a whole (refused at submission, or at the provider's validation):
    every request in it ends with this error."""
    results: list[str] = field(default_factory=list)
    """Where the provider keeps the results: file ids or URLs, as the protocol needs."""

    @property
    def name(self) -> str:
        return f"part-{self.number:04d}"

    @property
    def ended(self) -> bool:
        return self.step in ("ended", "fetched")


@dataclass(slots=True)
class Manifest:
    id: str
    model: str
    base_url: str
    created_at: float
    directory: Path
    total: int = 0
    rendered: bool = False
    """Every prompt is in a part's files: the input is no longer needed."""
    cancelled: bool = False
    parts: list[Part] = field(default_factory=list)

    @classmethod
    def create(cls, model: str, base_url: str, directory: Path | None) -> Manifest:
        job_id = f"cbb_{secrets.token_hex(8)}"
        where = Path(directory) if directory is not None else home() / job_id
        if (where / MANIFEST).exists():
            raise ConfigurationError(f"{where} already holds a batch job; load it with BatchJob.load({str(where)!r})")
        where.mkdir(parents=True, exist_ok=True)
        if directory is not None:  # found by its id too: the home keeps where it is
            home().mkdir(parents=True, exist_ok=True)
            (home() / f"{job_id}.path").write_text(str(where.resolve()))
        return cls(job_id, model, base_url, time.time(), where)

    @classmethod
    def load(cls, job: str | os.PathLike[str]) -> Manifest:
        """A job by its directory, its manifest file, or its id (in the batch home)."""
        where = Path(job)
        if where.name == MANIFEST:
            where = where.parent
        elif not where.exists() and str(job).startswith("cbb_"):
            pointer = home() / f"{job}.path"
            where = Path(pointer.read_text()) if pointer.exists() else home() / str(job)
        path = where / MANIFEST
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise ConfigurationError(f"no batch job at {path} (give a job id, its directory or its manifest)") from None
        except orjson.JSONDecodeError as exc:
            raise ConfigurationError(f"{path} is not a batch manifest: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigurationError(f"{path} is not a cloudburst batch manifest of format {FORMAT}")
        parts = [Part(**part) for part in data.pop("parts")]
        data.pop("format")
        return cls(**data, directory=where, parts=parts)

    def save(self) -> None:
        """Written aside, synced, then renamed over the old one: a crash leaves one or the other."""
        data = asdict(self)
        data.pop("directory")
        data["format"] = FORMAT
        path = self.directory / MANIFEST
        aside = path.with_suffix(".tmp")
        with aside.open("wb") as out:
            out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
            out.flush()
            os.fsync(out.fileno())
        os.replace(aside, path)

    def file(self, part: Part, kind: str) -> Path:
        return self.directory / f"{part.name}.{kind}.jsonl"


def home() -> Path:
    """Where jobs live unless a directory is given (`$CLOUDBURST_HOME/batches`, else
    `~/.cloudburst/batches`), and where a job given a directory leaves `<id>.path` naming it."""
    root = os.environ.get(BATCH_HOME_ENV)
    return (Path(root) if root else Path.home() / ".cloudburst") / "batches"


def custom_id(index: int) -> str:
    """A request's id inside its batch: its input index, so a resubmitted part has the same ids."""
    return f"cb-{index}"


def index_of(custom: Any) -> int | None:
    if isinstance(custom, str) and custom.startswith("cb-") and custom[3:].isdigit():
        return int(custom[3:])
    return None
