"""Reading a fetched part back: each request's result line found by its custom_id (the
provider's files are in no set order), parsed by the model's generated adapter with the batch
discount, in input order; what has no line is typed by why (expired, cancelled, refused)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import IO, Any

import orjson

from cloudburst._batch.manifest import Manifest, Part, index_of
from cloudburst._batch.protocol import BatchProtocol, Item
from cloudburst._errors import (
    BatchCancelledError,
    BatchExpiredError,
    ContextOverflowError,
    InputError,
    InvalidRequestError,
    InvalidResponseError,
    ProviderError,
)
from cloudburst._prompt import Completed
from cloudburst._render import parse
from cloudburst._response import APIResponse
from cloudburst._route import Route
from cloudburst._status import StatusTracker

log = logging.getLogger("cloudburst")


class PartReader:
    def __init__(self, manifest: Manifest, protocol: BatchProtocol, route: Route) -> None:
        self.manifest = manifest
        self.protocol = protocol
        self.route = route

    def results(self, part: Part, tracker: StatusTracker) -> Iterator[Completed]:
        """Each of the part's prompts' results, in input order."""
        files = sorted(self.manifest.directory.glob(f"{part.name}.results*.jsonl"))
        handles = [path.open("rb") for path in files]
        try:
            where = self._index(part, handles)
            with self.manifest.file(part, "local").open("rb") as local:
                for index, line in zip(range(part.start, part.end), local, strict=True):
                    note = orjson.loads(line)
                    prompt_id = note.get("id") if isinstance(note, dict) else None
                    if isinstance(note, dict) and "error" in note:
                        response = APIResponse("", error=_local_error(note))
                    else:
                        response = self._response(part, where.get(index), handles)
                    if response.status is not None:  # answered: one attempt, billed as it says
                        tracker.attempt_started()
                        tracker.attempt_finished(response)
                    tracker.prompt_finished(response)
                    yield Completed(index, prompt_id, response)
        finally:
            for handle in handles:
                handle.close()

    def _index(self, part: Part, handles: Sequence[IO[bytes]]) -> dict[int, tuple[int, int]]:
        """Where each request's result line is: input index → (file, offset)."""
        where: dict[int, tuple[int, int]] = {}
        strangers = 0
        for number, handle in enumerate(handles):
            offset = 0
            for line in handle:
                if line.strip():
                    try:
                        record = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        record = None
                    for custom, _ in self.protocol.items(record):
                        index = index_of(custom)
                        if index is None or not part.start <= index < part.end:
                            strangers += 1
                        else:
                            where.setdefault(index, (number, offset))
                offset += len(line)
        if strangers:
            log.warning(
                "batch %s %s: %d result lines are for no request of this part", self.manifest.id, part.name, strangers
            )
        return where

    def _response(self, part: Part, where: tuple[int, int] | None, handles: Sequence[IO[bytes]]) -> APIResponse:
        model = self.route.model
        provider = self.route.provider.name
        if where is None:
            return APIResponse(provider, model.id, error=_missing(part))
        handle = handles[where[0]]
        handle.seek(where[1])
        line = handle.readline()
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            error = InvalidResponseError(f"batch {part.provider_id}: a result line that is not JSON", body=line[:500])
            return APIResponse(provider, model.id, error=error)
        item: Item = next(iter(self.protocol.items(record)))[1]
        if isinstance(item, ProviderError):
            return APIResponse(provider, model.id, error=item)
        status, body = item
        body = body if body is not None else b""
        response = parse(model, status, {}, body, output_schema=self.route.output_schema, batch=True)
        response.reasoning = self.route.reasoning
        return response


def _local_error(note: dict[str, Any]) -> ProviderError:
    if note.get("kind") == "context_overflow":
        return ContextOverflowError(str(note["error"]))
    if note.get("kind") == "invalid_request":
        return InvalidRequestError(str(note["error"]))
    return InputError(str(note["error"]))


def _missing(part: Part) -> ProviderError:
    """The result of a request the provider's results leave out."""
    if part.error is not None:
        return InvalidRequestError(f"batch part {part.number} failed as a whole: {part.error}")
    if part.outcome == "cancelled":
        return BatchCancelledError(f"batch {part.provider_id} was cancelled before this request ran")
    if part.outcome == "expired":
        return BatchExpiredError(f"batch {part.provider_id} expired before this request ran")
    return InvalidResponseError(f"batch {part.provider_id} ended {part.outcome} without a result for this request")
