"""The results file of `cloudburst run`: one JSONL line per prompt, never truncated, never
holding a result its journal could lose.

Lines are appended by the journal's writer thread right after each commit (whole lines, flushed
at once), so every line's result is in the journal. A `kill -9` can still cut the last line
short; resuming therefore rebuilds the file from the journal (into a temporary file, then renamed
over it), which also drops nothing, since the journal holds every line's result, and then
appends the new results. An existing file is resumed into only when its journal holds all its
results; otherwise it is refused, unless the caller chose to overwrite it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

import orjson

from cloudburst._errors import ConfigurationError
from cloudburst._journal import Journal, Record
from cloudburst._response import Usage


def result_line(record: Record) -> bytes:
    """One result as a JSONL line: what was asked for, what came back, what it cost."""
    error = record["error"]
    usage = Usage(*record["usage"])
    line = {
        "id": record["id"],
        "model": record["model"],
        "completion": record["completion"],
        "finish_reason": record["finish_reason"],
        "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
        "cost": record["cost"] + record["failed_cost"],
        "attempts": record["attempts"],
        "cached": record.get("cached", False),
        "error": None if error is None else {"kind": error["kind"], "message": error["message"]},
    }
    return orjson.dumps(line) + b"\n"


def check_paths(prompts: Path, output: Path, journal: Path) -> None:
    """Input, output and journal must be three files (by path or by inode): refused before
    anything is read, so `-o` can never empty the input."""
    named = [("the input", prompts), ("the output", output), ("the journal", journal)]
    for i, (first, a) in enumerate(named):
        for second, b in named[i + 1 :]:
            if _same(a, b):
                raise ConfigurationError(f"{a} would be both {first} and {second}; give each its own file")


def _same(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def has_results(output: Path) -> bool:
    return output.exists() and output.stat().st_size > 0


def written_ids(output: Path) -> list[str]:
    """The ids of the results in an existing output; a last line cut short is skipped (its
    result is in the journal)."""
    ids = []
    with output.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            try:
                ids.append(str(orjson.loads(line)["id"]))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                if not line.endswith(b"\n"):
                    break
                raise ConfigurationError(
                    f"{output}:{number} is not a cloudburst result line; pass --overwrite to replace {output}"
                ) from None
    return ids


class Output:
    """The results file, resumed into (see the module's docstring); `write` is the journal's
    `on_commit`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: IO[bytes] | None = None

    def resume(self, journal: Journal, had_results: bool) -> None:
        """Check the existing file against the journal, rebuild it from the journal, and open it
        for appending."""
        if had_results:
            known = journal.keys()
            foreign = [i for i in written_ids(self.path) if i not in known]
            if foreign:
                raise ConfigurationError(
                    f"{self.path} holds {len(foreign):,} results (id {foreign[0]} first) that the journal "
                    f"{journal.path} does not: it is not this output's journal. Pass --overwrite to replace "
                    f"{self.path}, or choose another -o"
                )
        if len(journal):
            temporary = self.path.with_name(f".{self.path.name}.rebuilt")
            with temporary.open("wb") as rebuilt:
                for record in journal.records():
                    rebuilt.write(result_line(record))
                rebuilt.flush()
                os.fsync(rebuilt.fileno())
            os.replace(temporary, self.path)
        self.file = self.path.open("ab")

    def write(self, records: list[Record]) -> None:
        assert self.file is not None, "Output.resume opens the file"
        self.file.write(b"".join([result_line(record) for record in records]))
        self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
