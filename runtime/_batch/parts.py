"""Writing a job's prompts into parts: a new part whenever the next request would pass one
of the provider's limits (or the caller's smaller one)."""

from __future__ import annotations

from typing import IO

import orjson

from cloudburst._batch.manifest import Manifest, Part
from cloudburst._errors import InvalidRequestError
from cloudburst._job import refused
from cloudburst._prompt import Completed
from cloudburst._providers import ProviderInfo

SIZE_MARGIN = 4096
"""Bytes kept free in every part for what wraps its lines (a JSON array, a form's headers)."""


class PartWriter:
    """The parts being written: a new one whenever the next line would pass a limit."""

    def __init__(self, manifest: Manifest, provider: ProviderInfo, part_requests: int | None) -> None:
        assert provider.batch is not None
        self.manifest = manifest
        limits = [n for n in (provider.batch.max_requests, part_requests) if n is not None]
        self.max_requests = min(limits) if limits else None
        self.max_bytes = provider.batch.max_bytes - SIZE_MARGIN
        self.provider = provider
        self.total = 0
        self.part: Part | None = None
        self._input: IO[bytes] | None = None
        self._local: IO[bytes] | None = None

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def add(self, index: int, request: tuple[bytes, str | None] | Completed) -> None:
        """One prompt: its line and id, or its result when it is not sent."""
        self.total += 1
        if not isinstance(request, Completed) and len(request[0]) + 1 > self.max_bytes:
            error = InvalidRequestError(
                f"prompt {index}: its request is {len(request[0]):,} bytes, more than one "
                f"{self.provider.title} batch takes ({self.max_bytes:,}); not sent"
            )
            request = refused(index, request[1], error)
        part = self.part
        if part is None or (
            not isinstance(request, Completed)
            and (
                (self.max_requests is not None and part.requests >= self.max_requests)
                or part.size + len(request[0]) + 1 > self.max_bytes
            )
        ):
            part = self._open(index)
        assert self._input is not None and self._local is not None
        part.end = index + 1
        if isinstance(request, Completed):
            reason = request.response.error
            assert reason is not None
            note = {"id": request.id, "error": str(reason), "kind": reason.kind}
            self._local.write(orjson.dumps(note) + b"\n")
            return
        line, prompt_id = request
        self._local.write(b"null\n" if prompt_id is None else orjson.dumps({"id": prompt_id}) + b"\n")
        self._input.write(line + b"\n")
        part.requests += 1
        part.size += len(line) + 1

    def _open(self, index: int) -> Part:
        self._close()
        part = Part(len(self.manifest.parts), index, index, 0, 0)
        self.manifest.parts.append(part)
        self._input = self.manifest.file(part, "input").open("wb")
        self._local = self.manifest.file(part, "local").open("wb")
        self.part = part
        return part

    def _close(self) -> None:
        for handle in (self._input, self._local):
            if handle is not None:
                handle.close()
        if self.part is not None and self.part.requests == 0:  # nothing to send: ended already
            self.part.step, self.part.outcome = "fetched", "completed"
        self._input = self._local = None
