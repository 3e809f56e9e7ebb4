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

from cloudburst._constants import COST_DECIMALS
from cloudburst._errors import ConfigurationError
from cloudburst._journal import Journal, Record
from cloudburst._ordered import Reorder
from cloudburst._response import Usage


def result_line(record: Record) -> bytes:
    """One result as a JSONL line: what was asked for, what came back, what it cost (every
    field is in the README's table)."""
    error = record["error"]
    usage = Usage(*record["usage"])
    line = {
        "id": record["id"],
        "index": record["index"],
        "model": record["model"],
        "completion": record["completion"],
        "tool_calls": record.get("tool_calls"),
        "parsed": record.get("parsed"),
        "refusal": record["refusal"],
        "finish_reason": record["finish_reason"],
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
        },
        "cost": round(record["cost"] + record["failed_cost"], COST_DECIMALS),
        "attempts": record["attempts"],
        "cached": record.get("cached", False),
        "request_id": record["request_id"],
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
    `on_commit`. `ordered`: lines in input order (`_ordered`); the job `skip`s the results it
    restored from the journal, which the file holds already."""

    def __init__(self, path: Path, *, ordered: bool = False) -> None:
        self.path = path
        self.file: IO[bytes] | None = None
        self.reorder = Reorder(self._append) if ordered else None
        self.resumed = False

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
        self.resumed = len(journal) > 0
        if self.resumed:
            self.rebuild(journal)
        self.file = self.path.open("ab")

    def finish(self, journal: Journal) -> None:
        """The end of the job. A resumed ordered job appended its new results after the old
        ones: the file is rewritten from the journal in input order."""
        if self.reorder is not None and self.resumed:
            journal.flush()
            self.close()
            self.file = None
            self.rebuild(journal)

    def rebuild(self, journal: Journal) -> None:
        """The file anew from the journal (in input order when ordered), replacing it whole."""
        temporary = self.path.with_name(f".{self.path.name}.rebuilt")
        with temporary.open("wb") as rebuilt:
            for record in journal.records(by_index=self.reorder is not None):
                rebuilt.write(result_line(record))
            rebuilt.flush()
            os.fsync(rebuilt.fileno())
        os.replace(temporary, self.path)

    def write(self, records: list[Record]) -> None:
        if self.reorder is None:
            self._append([result_line(record) for record in records])
        else:
            for record in records:
                self.reorder.put(record["index"], result_line(record))

    def skip(self, index: int) -> None:
        """The result of prompt `index` is in the file already (restored from the journal)."""
        if self.reorder is not None:
            self.reorder.skip(index)

    def _append(self, lines: list[bytes]) -> None:
        assert self.file is not None, "Output.resume opens the file"
        self.file.write(b"".join(lines))
        self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            if self.reorder is not None:
                self.reorder.flush()
            self.file.close()
