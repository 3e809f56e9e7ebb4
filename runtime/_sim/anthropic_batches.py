"""Anthropic's Message Batches and Files APIs as the simulator plays them.

`/v1/messages/batches`: create, retrieve, list, cancel, `/results` as JSONL once ended, in a
seeded order rather than the input's (the docs say results may come in any order). A batch
is `in_progress` until the store's clock ends it (`canceling` after a cancel), then `ended`,
with one result per request: `succeeded`, `errored` (invalid params or a drawn failure),
`expired`, or `canceled` (not reached before a cancel). One over the limits
(`SimConfig.batch_max_requests`, `batch_max_bytes`; 100,000 requests, 256 MB) is refused: 400,
or 413 `request_too_large`.

`/v1/files`: upload, list, retrieve, delete; content only for downloadable files, and uploads
are not downloadable (as on the real API), so `/content` answers 400 `file_not_downloadable`.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from cloudburst._sim.answers import Draw
from cloudburst._sim.limits import rfc3339
from cloudburst._sim.provider import Call, Handler, Problem, Refused
from cloudburst._sim.store import StoredBatch, StoredFile, shuffle

WINDOW_SECONDS = 24 * 3600
MAX_REQUESTS = 100_000
"""Requests one message batch may hold."""
MAX_BYTES = 256 * 1024 * 1024
"""The largest message batch request: 256 MB."""
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _invalid(message: str, status: int = 400, kind: str = "invalid_request_error", code: str | None = None) -> Refused:
    return Refused(Problem(status, kind, message, code=code))


def _not_found(what: str) -> Refused:
    return _invalid(f"{what} not found", 404, "not_found_error")


async def create_batch(call: Call) -> web.StreamResponse:
    raw = await call.request.read()
    if len(raw) > (call.config.batch_max_bytes or MAX_BYTES):
        raise _invalid("Request exceeds the maximum allowed number of bytes.", 413, "request_too_large")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _invalid("There was an error parsing the body of your request as JSON.") from None
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise _invalid("requests: Field required" if requests is None else "requests: must hold at least one request")
    most = call.config.batch_max_requests or MAX_REQUESTS
    if len(requests) > most:
        raise _invalid(f"requests: a message batch may hold at most {most} requests, got {len(requests)}")
    items: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for index, request in enumerate(requests):
        custom_id = request.get("custom_id") if isinstance(request, dict) else None
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            raise _invalid(f"requests.{index}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
        if custom_id in seen:
            raise _invalid(f"requests.{index}.custom_id: duplicate custom_id {custom_id!r}")
        if not isinstance(request.get("params"), dict):
            raise _invalid(f"requests.{index}.params: Field required")
        seen.add(custom_id)
        items.append((custom_id, request["params"]))
    batch = StoredBatch(
        call.store.new_id("msgbatch_01", 22),
        items,
        call.now,
        call.config.batch_seconds,
        call.config.batch_error_fraction,
        call.config.batch_expired_fraction,
    )
    call.store.batches[batch.id] = batch
    return call.json(_batch_json(call, batch))


def _batch(call: Call) -> StoredBatch:
    batch = call.store.batches.get(call.params[0])
    if batch is None:
        raise _not_found(f"message batch {call.params[0]}")
    return batch


async def retrieve_batch(call: Call) -> web.StreamResponse:
    return call.json(_batch_json(call, _batch(call)))


async def list_batches(call: Call) -> web.StreamResponse:
    data = [_batch_json(call, batch) for batch in reversed(call.store.batches.values())]
    return call.json(
        {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
    )


async def cancel_batch(call: Call) -> web.StreamResponse:
    batch = _batch(call)
    if batch.phase(call.now) in ("ended", "cancelled", "cancelling"):
        raise _invalid(f"Batch {batch.id} cannot be canceled: it has already ended or is being canceled.")
    batch.cancelled_at = call.now
    return call.json(_batch_json(call, batch))


async def batch_results(call: Call) -> web.StreamResponse:
    batch = _batch(call)
    if batch.phase(call.now) not in ("ended", "cancelled"):
        raise _invalid(f"Batch {batch.id} has not ended yet; its results are not available.", 404, "not_found_error")
    _finish(call, batch)
    lines = [orjson.dumps({"custom_id": custom_id, "result": result}) for custom_id, _, result in batch.results or ()]
    shuffle(lines, call.config.seed, batch.id)
    return web.Response(body=b"\n".join(lines) + b"\n", headers={"content-type": "application/x-jsonl"})


def _run(call: Call, request: Any) -> dict[str, Any]:
    endpoint = call.provider.model_routes["/v1/messages"]
    try:
        endpoint.validate(request)
    except Refused as refused:
        return {"type": "errored", "error": call.provider.error_body(refused.problem)}
    return {"type": "succeeded", "message": endpoint.answer(request, Draw.of(request)).body}


def _finish(call: Call, batch: StoredBatch) -> None:
    """Every request's result, made once when the batch ends."""
    if batch.results is not None:
        return
    done = batch.processed(call.now)
    results: list[tuple[str, str, Any]] = []
    for index, (custom_id, request) in enumerate(batch.items):
        fate = batch.fate(custom_id)
        if fate == "expired":
            results.append((custom_id, fate, {"type": "expired"}))
        elif index >= done:
            results.append((custom_id, "canceled", {"type": "canceled"}))
        elif fate == "errored":
            error = call.provider.error_body(call.provider.server_error(overloaded=False))
            results.append((custom_id, fate, {"type": "errored", "error": error}))
        else:
            result = _run(call, request)
            results.append((custom_id, result["type"], result))
    batch.results = results


def _batch_json(call: Call, batch: StoredBatch) -> dict[str, Any]:
    phase = batch.phase(call.now)
    counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    ended = phase in ("ended", "cancelled")
    if ended:
        _finish(call, batch)
        for _, fate, _ in batch.results or ():
            counts[fate] += 1
    else:
        done = batch.processed(call.now)
        for index, (custom_id, _) in enumerate(batch.items):
            fate = batch.fate(custom_id)
            counts["processing" if index >= done or fate == "expired" else fate] += 1
    return {
        "id": batch.id,
        "type": "message_batch",
        "processing_status": "ended" if ended else "canceling" if phase == "cancelling" else "in_progress",
        "request_counts": counts,
        "ended_at": rfc3339(batch.ends_at()) if ended else None,
        "created_at": rfc3339(batch.created_at),
        "expires_at": rfc3339(batch.created_at + WINDOW_SECONDS),
        "archived_at": None,
        "cancel_initiated_at": rfc3339(batch.cancelled_at) if batch.cancelled_at is not None else None,
        "results_url": f"{call.base_url()}/v1/messages/batches/{batch.id}/results" if ended else None,
    }


def _file_json(stored: StoredFile) -> dict[str, Any]:
    return {
        "id": stored.id,
        "type": "file",
        "filename": stored.filename,
        "mime_type": stored.mime_type,
        "size_bytes": len(stored.content),
        "created_at": rfc3339(stored.created_at),
        "downloadable": stored.downloadable,
    }


def _file(call: Call) -> StoredFile:
    stored = call.store.files.get(call.params[0])
    if stored is None:
        raise _not_found(f"File {call.params[0]}")
    return stored


async def upload(call: Call) -> web.StreamResponse:
    if not call.request.content_type.startswith("multipart/"):
        raise _invalid("file: the upload must be multipart/form-data with a 'file' part")
    form = await call.request.post()
    part = form.get("file")
    if not isinstance(part, web.FileField):
        raise _invalid("file: Field required")
    with part.file:  # aiohttp spools it to a temporary file, which is ours to close
        content = part.file.read()
    stored = StoredFile(
        call.store.new_id("file_011", 22), part.filename, "upload", part.content_type, content, call.now, False
    )
    call.store.files[stored.id] = stored
    call.uploaded(len(content))
    return call.json(_file_json(stored))


async def list_files(call: Call) -> web.StreamResponse:
    data = [_file_json(stored) for stored in reversed(call.store.files.values())]
    return call.json(
        {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
    )


async def retrieve_file(call: Call) -> web.StreamResponse:
    return call.json(_file_json(_file(call)))


async def file_content(call: Call) -> web.StreamResponse:
    stored = _file(call)
    if not stored.downloadable:
        raise _invalid(
            f"File {stored.id} is not downloadable: only files created by tools can be downloaded.",
            code="file_not_downloadable",
        )
    return web.Response(body=stored.content, headers={"content-type": stored.mime_type})


async def delete_file(call: Call) -> web.StreamResponse:
    stored = _file(call)
    del call.store.files[stored.id]
    return call.json({"id": stored.id, "type": "file_deleted"})


ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/v1/messages/batches"): create_batch,
    ("GET", "/v1/messages/batches"): list_batches,
    ("GET", "/v1/messages/batches/{}"): retrieve_batch,
    ("POST", "/v1/messages/batches/{}/cancel"): cancel_batch,
    ("GET", "/v1/messages/batches/{}/results"): batch_results,
    ("POST", "/v1/files"): upload,
    ("GET", "/v1/files"): list_files,
    ("GET", "/v1/files/{}"): retrieve_file,
    ("GET", "/v1/files/{}/content"): file_content,
    ("DELETE", "/v1/files/{}"): delete_file,
}
