"""Gemini's Batch API as the simulator plays it, under `/v1beta` and `/v1`.

`models/{model}:batchGenerateContent` takes `{"batch": {displayName, inputConfig}}` with the
requests inline (`requests.requests[]`: `{request, metadata}`) or in an uploaded JSONL file
(`fileName`, lines `{key, request}`), camelCase or snake_case, and answers a long-running
Operation whose `metadata` is the GenerateContentBatch (`@type`, model, displayName, state,
batchStats with int64 counts as strings and zero counts left out, as proto3 JSON does, times).
`batches/{id}` reads it (`done` and a GenerateContentBatchOutput `response` once ended, the
output also in `metadata.output`), `batches` lists them (`operations`), `:cancel` and DELETE.

A batch runs on the store's clock: BATCH_STATE_PENDING while it validates, RUNNING, then
SUCCEEDED, EXPIRED when some requests expired (`batch_expired_fraction`), CANCELLED after a
cancel, FAILED when the input file has a line that is not a request. Each request is answered
by the generateContent endpoint, validation and file checks included: an invalid one becomes its
own error Status (google.rpc.Status: the gRPC code and a message), as does a drawn failure
(`batch_error_fraction`, INTERNAL), an expired one (DEADLINE_EXCEEDED) or one a cancel left
unprocessed (CANCELLED). Inline responses and the responses file (`files/batch-{id}`, lines
`{key, response}` or `{key, error}`) keep the input order, as the API reference says.

Limits (`SimConfig.batch_max_bytes`, `batch_max_requests`; None for the real ones): inline
requests at most 20 MB in all, an input file at most 2 GB, no documented request count.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from cloudburst._sim.answers import Draw
from cloudburst._sim.gemini_files import google_id, invalid, page, timestamp, usable, versioned, write_file
from cloudburst._sim.provider import Call, Problem, Refused
from cloudburst._sim.store import StoredBatch

INLINE_MAX_BYTES = 20 * 1024 * 1024
"""Inline requests: at most 20 MB in all (the Batch API guide)."""
FILE_MAX_BYTES = 2 * 1024**3
"""An input file: at most 2 GB."""
BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"
CODES = {
    "CANCELLED": 1,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
}
"""google.rpc.Code by name: a Status inside an Operation carries the gRPC code, not HTTP's."""
_GENERATE = "/v1beta/models/{}:generateContent"
_TERMINAL = ("BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED", "BATCH_STATE_CANCELLED", "BATCH_STATE_EXPIRED")


def status(kind: str, message: str) -> dict[str, Any]:
    return {"code": CODES[kind], "message": message}


def _field(data: dict[str, Any], name: str) -> Any:
    """`data[name]` under its camelCase name or its proto (snake_case) one."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
    return data.get(name, data.get(snake))


def _inline(items: Any) -> list[tuple[str, Any]]:
    if not isinstance(items, list) or not items:
        raise invalid("* GenerateContentBatch.input_config.requests.requests: requests is not specified")
    out = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("request"), dict):
            raise invalid(f"Invalid value at 'batch.input_config.requests.requests[{index}].request': not an object")
        out.append((str(index), {"request": item["request"], "metadata": item.get("metadata")}))
    return out


def _lines(content: bytes, name: str) -> tuple[list[tuple[str, Any]], str | None]:
    """The requests of an input file, and the error that fails the batch if a line is bad."""
    items: list[tuple[str, Any]] = []
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            return items, f"Line {number} of {name} is not valid JSON."
        if not isinstance(item, dict) or not isinstance(item.get("request"), dict):
            return items, f"Line {number} of {name} has no 'request' object."
        items.append((str(number), {"request": item["request"], "key": item.get("key")}))
    return items, None if items else f"The input file {name} has no requests."


async def create_batch(call: Call) -> web.StreamResponse:
    raw = await call.request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid("Invalid JSON payload received.") from None
    batch_body = body.get("batch") if isinstance(body, dict) else None
    if not isinstance(batch_body, dict):
        raise invalid("* BatchGenerateContentRequest.batch: batch is not specified")
    source = _field(batch_body, "inputConfig")
    if not isinstance(source, dict):
        raise invalid("* GenerateContentBatch.input_config: input_config is not specified")
    max_bytes = call.config.batch_max_bytes
    requests = _field(source, "requests")
    file_name = _field(source, "fileName")
    info: dict[str, Any] = {"display_name": _field(batch_body, "displayName"), "owner": call.key}
    if requests is not None:
        if len(raw) > (max_bytes or INLINE_MAX_BYTES):
            raise invalid(f"Request payload size exceeds the limit: {max_bytes or INLINE_MAX_BYTES} bytes.")
        items = _inline(_field(requests, "requests") if isinstance(requests, dict) else None)
    elif isinstance(file_name, str):
        stored = usable(call.store, call.key, file_name.removeprefix("files/"), call.now)
        if len(stored.content) > (max_bytes or FILE_MAX_BYTES):
            raise invalid(
                f"The input file {file_name} is {len(stored.content)} bytes; "
                f"a batch input file may have at most {max_bytes or FILE_MAX_BYTES}."
            )
        items, info["failure"] = _lines(stored.content, file_name)
        info["file"] = f"files/{stored.id}"
    else:
        raise invalid("* GenerateContentBatch.input_config: requests or file_name must be set")
    limit = call.config.batch_max_requests
    if limit is not None and len(items) > limit:
        raise invalid(f"The batch has {len(items)} requests; at most {limit} are allowed.")
    batch = StoredBatch(
        google_id(call.store.new_id("batch").encode(), 36),
        items,
        call.now,
        call.config.batch_seconds,
        call.config.batch_error_fraction,
        call.config.batch_expired_fraction,
        info={**info, "model": call.params[0].removeprefix("models/")},
    )
    call.store.batches[batch.id] = batch
    return call.json(_operation(call, batch))


def _batch(call: Call) -> StoredBatch:
    batch = call.store.batches.get(call.params[0])
    if batch is None or batch.info["owner"] != call.key:
        raise Refused(Problem(404, "NOT_FOUND", "Requested entity was not found."))
    return batch


async def get_batch(call: Call) -> web.StreamResponse:
    return call.json(_operation(call, _batch(call)))


async def list_batches(call: Call) -> web.StreamResponse:
    """The key's batches, newest first, a page at a time as files.list pages."""
    batches = [batch for batch in reversed(call.store.batches.values()) if batch.info["owner"] == call.key]
    found, token = page(call, batches)
    body: dict[str, Any] = {"operations": [_operation(call, batch) for batch in found]} if found else {}
    if token is not None:
        body["nextPageToken"] = token
    return call.json(body)


async def cancel_batch(call: Call) -> web.StreamResponse:
    batch = _batch(call)
    state = _state(call, batch)
    if state in _TERMINAL or batch.cancelled_at is not None:
        raise invalid(
            f"Batch batches/{batch.id} is in state {state} and cannot be cancelled.", kind="FAILED_PRECONDITION"
        )
    batch.cancelled_at = call.now
    return call.json({})


async def delete_batch(call: Call) -> web.StreamResponse:
    del call.store.batches[_batch(call).id]
    return call.json({})


def _state(call: Call, batch: StoredBatch) -> str:
    phase = batch.phase(call.now)
    if phase == "validating":
        return "BATCH_STATE_PENDING"
    if batch.info.get("failure"):
        return "BATCH_STATE_FAILED"
    if phase not in ("ended", "cancelled"):
        return "BATCH_STATE_RUNNING"
    _finish(call, batch)
    if phase == "cancelled":
        return "BATCH_STATE_CANCELLED"
    expired = any(fate == "expired" for _, fate, _ in batch.results or ())
    return "BATCH_STATE_EXPIRED" if expired else "BATCH_STATE_SUCCEEDED"


def _run(call: Call, batch: StoredBatch, request: Any) -> dict[str, Any]:
    """One request answered by the generateContent endpoint: `{response}` or `{error}`."""
    endpoint = call.provider.model_routes[_GENERATE]
    body = endpoint.normalize(dict(request)) if endpoint.normalize is not None else dict(request)
    body["model"] = batch.info["model"]
    try:
        endpoint.validate(body)
        if endpoint.admit is not None:
            endpoint.admit(body, call.store, call.key, call.now)
    except Refused as refused:
        return {"error": status(refused.problem.type, refused.problem.message)}
    draw = Draw.of(body)
    screened = endpoint.screen(body, draw, call.config) if endpoint.screen is not None else None
    return {"response": (screened or endpoint.answer(body, draw)).body}


def _finish(call: Call, batch: StoredBatch) -> None:
    """Every request's outcome, in input order, made once when the batch ends; a file
    input's go to the responses file."""
    if batch.results is not None:
        return
    done = batch.processed(call.now)
    results: list[tuple[str, str, Any]] = []
    for index, (custom_id, item) in enumerate(batch.items):
        fate: str = batch.fate(custom_id)
        if fate == "expired" and batch.cancelled_at is None:
            outcome = {"error": status("DEADLINE_EXCEEDED", "The batch expired before this request was processed.")}
        elif index >= done or fate == "expired":
            fate = "cancelled"
            outcome = {"error": status("CANCELLED", "The batch was cancelled before this request was processed.")}
        elif fate == "errored":
            outcome = {"error": status("INTERNAL", call.provider.server_error(overloaded=False).message)}
        else:
            outcome = _run(call, batch, item["request"])
            fate = "succeeded" if "response" in outcome else "errored"
        if "key" in item:
            entry = {"key": item["key"], **outcome} if item["key"] is not None else outcome
        else:
            entry = {**outcome, "metadata": item["metadata"]} if item["metadata"] is not None else outcome
        results.append((custom_id, fate, entry))
    batch.results = results
    if "file" in batch.info:
        lines = b"".join(orjson.dumps(entry) + b"\n" for _, _, entry in results)
        batch.info["responses_file"] = write_file(call, f"batch-{batch.id}", lines, "application/jsonl").id


def _stats(call: Call, batch: StoredBatch, state: str) -> dict[str, str]:
    total = len(batch.items)
    if batch.results is not None:
        succeeded = sum(1 for _, fate, _ in batch.results if fate == "succeeded")
        counts = (succeeded, total - succeeded, 0)
    elif state == "BATCH_STATE_FAILED":
        counts = (0, 0, 0)
    else:
        done = batch.processed(call.now)
        failed = sum(1 for custom_id, _ in batch.items[:done] if batch.fate(custom_id) == "errored")
        counts = (done - failed, failed, total - done)
    stats = {"requestCount": str(total)}
    for name, count in zip(
        ("successfulRequestCount", "failedRequestCount", "pendingRequestCount"), counts, strict=True
    ):
        if count:
            stats[name] = str(count)
    return stats


def _operation(call: Call, batch: StoredBatch) -> dict[str, Any]:
    """The batch as the long-running Operation every batch route answers."""
    state = _state(call, batch)
    info = batch.info
    name = f"batches/{batch.id}"
    meta: dict[str, Any] = {"@type": BATCH_TYPE, "model": f"models/{info['model']}"}
    if info["display_name"]:
        meta["displayName"] = info["display_name"]
    if "file" in info:
        meta["inputConfig"] = {"fileName": info["file"]}
    output: dict[str, Any] | None = None
    if batch.results is not None:
        if "file" in info:
            output = {"responsesFile": f"files/{info['responses_file']}"}
        else:
            output = {"inlinedResponses": {"inlinedResponses": [entry for _, _, entry in batch.results]}}
        meta["output"] = output
    started = batch.created_at + 0.1 * batch.duration
    updated = batch.created_at if state == "BATCH_STATE_PENDING" else started
    meta["createTime"] = timestamp(batch.created_at)
    if state in _TERMINAL:
        updated = started if state == "BATCH_STATE_FAILED" else batch.ends_at()
        meta["endTime"] = timestamp(updated)
    meta.update(updateTime=timestamp(updated), batchStats=_stats(call, batch, state), state=state, name=name)
    operation: dict[str, Any] = {"name": name, "metadata": meta}
    if state == "BATCH_STATE_FAILED":
        operation.update(done=True, error=status("INVALID_ARGUMENT", info["failure"]))
    elif output is not None:
        operation.update(done=True, response={"@type": OUTPUT_TYPE, **output})
    return operation


ROUTES = versioned(
    {
        ("POST", "/VERSION/models/{}:batchGenerateContent"): create_batch,
        ("GET", "/VERSION/batches"): list_batches,
        ("GET", "/VERSION/batches/{}"): get_batch,
        ("POST", "/VERSION/batches/{}:cancel"): cancel_batch,
        ("DELETE", "/VERSION/batches/{}"): delete_batch,
    }
)
