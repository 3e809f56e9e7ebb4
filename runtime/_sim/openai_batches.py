"""OpenAI's Files and Batch APIs as the simulator plays them.

`/v1/files`: multipart upload, list, retrieve, `/content`, delete. `/v1/batches`: create from an
uploaded JSONL file, retrieve, list, cancel. A batch runs on the store's clock (validating →
in_progress → finalizing → completed, or cancelling → cancelled) and, once it ends, writes an
output file (answers, status 200) and an error file (failed requests with their error answer,
expired ones with `batch_expired`), their lines in a seeded order, not the input's (OpenAI
says results may come in any order). A batch with expired requests ends `expired`; one over
the limits (`SimConfig.batch_max_requests`, `batch_max_bytes`; 50,000 requests, 200 MB) fails
validation.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from cloudburst._sim.answers import Draw, make_id
from cloudburst._sim.provider import Call, Handler, Problem, Refused
from cloudburst._sim.store import StoredBatch, StoredFile, shuffle

PURPOSES = frozenset(
    {
        "assistants",
        "assistants_output",
        "batch",
        "batch_output",
        "fine-tune",
        "fine-tune-results",
        "vision",
        "user_data",
    }
)
ENDPOINTS = frozenset({"/v1/chat/completions", "/v1/responses", "/v1/embeddings"})
MAX_REQUESTS = 50_000
"""Requests one batch input file may hold."""
MAX_BYTES = 200 * 1024 * 1024
"""The largest batch input file: 200 MB."""
WINDOW_SECONDS = 24 * 3600
STATUS = {
    "validating": "validating",
    "in_progress": "in_progress",
    "finalizing": "finalizing",
    "cancelling": "cancelling",
    "cancelled": "cancelled",
}


def _invalid(message: str, param: str | None = None, status: int = 400) -> Refused:
    return Refused(Problem(status, "invalid_request_error", message, param))


def _file_json(stored: StoredFile) -> dict[str, Any]:
    return {
        "id": stored.id,
        "object": "file",
        "bytes": len(stored.content),
        "created_at": int(stored.created_at),
        "filename": stored.filename,
        "purpose": stored.purpose,
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }


def _file(call: Call) -> StoredFile:
    stored = call.store.files.get(call.params[0])
    if stored is None:
        raise _invalid(f"No such File object: {call.params[0]}", "id", 404)
    return stored


async def upload(call: Call) -> web.StreamResponse:
    if not call.request.content_type.startswith("multipart/"):
        raise _invalid("The file upload must be multipart/form-data with 'file' and 'purpose'.", "file")
    form = await call.request.post()
    upload_field = form.get("file")
    purpose = form.get("purpose")
    if not isinstance(upload_field, web.FileField):
        raise _invalid("Missing required parameter: 'file'.", "file")
    if not isinstance(purpose, str) or purpose not in PURPOSES:
        raise _invalid(f"Invalid value for 'purpose': {purpose!r}; expected one of {sorted(PURPOSES)}.", "purpose")
    with upload_field.file:  # aiohttp spools it to a temporary file, which is ours to close
        content = upload_field.file.read()
    stored = StoredFile(
        call.store.new_id("file-"), upload_field.filename, purpose, upload_field.content_type, content, call.now
    )
    call.store.files[stored.id] = stored
    call.uploaded(len(content))
    return call.json(_file_json(stored))


async def list_files(call: Call) -> web.StreamResponse:
    data = [_file_json(stored) for stored in call.store.files.values()]
    return call.json({"object": "list", "data": data, "has_more": False})


async def retrieve_file(call: Call) -> web.StreamResponse:
    return call.json(_file_json(_file(call)))


async def file_content(call: Call) -> web.StreamResponse:
    stored = _file(call)
    return web.Response(body=stored.content, headers={"content-type": "application/octet-stream"})


async def delete_file(call: Call) -> web.StreamResponse:
    stored = _file(call)
    del call.store.files[stored.id]
    return call.json({"id": stored.id, "object": "file", "deleted": True})


def _read_lines(content: bytes, endpoint: str) -> tuple[list[tuple[str, Any]], list[dict[str, Any]]]:
    """The requests of a batch input file, and the errors that fail the batch at validation."""
    items: list[tuple[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            errors.append(
                {
                    "code": "invalid_json_line",
                    "message": "This line is not parseable as valid JSON.",
                    "line": number,
                    "param": None,
                }
            )
            continue
        problem = None
        if not isinstance(item, dict) or not isinstance(item.get("custom_id"), str):
            problem = ("missing_required_parameter", "custom_id", "Each line needs a string 'custom_id'.")
        elif item["custom_id"] in seen:
            problem = ("duplicate_custom_id", "custom_id", f"The custom_id {item['custom_id']!r} is not unique.")
        elif item.get("url") != endpoint:
            problem = ("mismatched_endpoint", "url", f"The url must be the batch's endpoint {endpoint}.")
        elif not isinstance(item.get("body"), dict):
            problem = ("missing_required_parameter", "body", "Each line needs a JSON object 'body'.")
        if problem is not None:
            errors.append({"code": problem[0], "param": problem[1], "message": problem[2], "line": number})
            continue
        seen.add(item["custom_id"])
        items.append((item["custom_id"], item["body"]))
    if not items and not errors:
        errors.append({"code": "empty_file", "message": "The batch input file is empty.", "line": None, "param": None})
    return items, errors


async def create_batch(call: Call) -> web.StreamResponse:
    try:
        body = orjson.loads(await call.request.read())
    except orjson.JSONDecodeError:
        raise _invalid("We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise _invalid("The request body is not a JSON object.")
    for name in ("input_file_id", "endpoint", "completion_window"):
        if not isinstance(body.get(name), str):
            raise _invalid(f"Missing required parameter: '{name}'.", name)
    if body["endpoint"] not in ENDPOINTS:
        raise _invalid(
            f"Invalid value for 'endpoint': {body['endpoint']!r}; expected one of {sorted(ENDPOINTS)}.", "endpoint"
        )
    if body["completion_window"] != "24h":
        raise _invalid("Invalid value for 'completion_window': only '24h' is supported.", "completion_window")
    source = call.store.files.get(body["input_file_id"])
    if source is None:
        raise _invalid(f"No such File object: {body['input_file_id']}", "input_file_id", 404)
    if source.purpose != "batch":
        raise _invalid(
            f"File {source.id} has purpose {source.purpose!r}; a batch input needs purpose 'batch'.", "input_file_id"
        )
    items, errors = _read_lines(source.content, body["endpoint"])
    errors += _over_limits(call, len(items), len(source.content))
    batch = StoredBatch(
        call.store.new_id("batch_"),
        items,
        call.now,
        call.config.batch_seconds,
        call.config.batch_error_fraction,
        call.config.batch_expired_fraction,
        info={
            "endpoint": body["endpoint"],
            "input_file_id": source.id,
            "metadata": body.get("metadata"),
            "errors": errors,
        },
    )
    call.store.batches[batch.id] = batch
    return call.json(_batch_json(call, batch))


def _over_limits(call: Call, requests: int, size: int) -> list[dict[str, Any]]:
    """The validation errors of an input file over the batch limits (`SimConfig.batch_max_*`)."""
    most = call.config.batch_max_requests or MAX_REQUESTS
    largest = call.config.batch_max_bytes or MAX_BYTES
    errors = []
    if requests > most:
        message = f"The batch input file has {requests} requests; a batch may hold at most {most}."
        errors.append({"code": "too_many_requests", "message": message, "line": None, "param": None})
    if size > largest:
        message = f"The batch input file is {size} bytes; a batch input file may have at most {largest}."
        errors.append({"code": "file_too_large", "message": message, "line": None, "param": None})
    return errors


def _batch(call: Call) -> StoredBatch:
    batch = call.store.batches.get(call.params[0])
    if batch is None:
        raise _invalid(f"No batch found with id '{call.params[0]}'.", "batch_id", 404)
    return batch


async def retrieve_batch(call: Call) -> web.StreamResponse:
    return call.json(_batch_json(call, _batch(call)))


async def list_batches(call: Call) -> web.StreamResponse:
    data = [_batch_json(call, batch) for batch in reversed(call.store.batches.values())]
    return call.json(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": False,
        }
    )


async def cancel_batch(call: Call) -> web.StreamResponse:
    batch = _batch(call)
    phase = batch.phase(call.now)
    if batch.info["errors"] or phase in ("ended", "cancelled", "cancelling"):
        status = _batch_json(call, batch)["status"]
        raise _invalid(f"Cannot cancel a batch with status '{status}'.", None, 409)
    batch.cancelled_at = call.now
    return call.json(_batch_json(call, batch))


def _run(call: Call, batch: StoredBatch, custom_id: str, request: Any) -> tuple[int, Any, int, int, int]:
    """One batch request answered as the endpoint would: status, body and its tokens."""
    endpoint = call.provider.model_routes[batch.info["endpoint"]]
    if batch.fate(custom_id) == "errored":
        problem = call.provider.server_error(overloaded=False)
        return problem.status, call.provider.error_body(problem), 0, 0, 0
    try:
        endpoint.validate(request)
    except Refused as refused:
        return refused.problem.status, call.provider.error_body(refused.problem), 0, 0, 0
    answer = endpoint.answer(request, Draw.of(request))
    details = answer.body.get("usage", {}).get("completion_tokens_details") or answer.body.get("usage", {}).get(
        "output_tokens_details"
    )
    reasoning = (details or {}).get("reasoning_tokens", 0)
    return 200, answer.body, answer.input_tokens, answer.output_tokens, reasoning


def _finish(call: Call, batch: StoredBatch) -> None:
    """Answer the processed requests once, when the batch ends, and write its files."""
    if batch.results is not None:
        return
    done = batch.processed(call.now)
    results: list[tuple[str, str, Any]] = []
    usage = [0, 0, 0]
    outputs: list[bytes] = []
    failures: list[bytes] = []
    for index, (custom_id, request) in enumerate(batch.items):
        line_id = make_id(f"{batch.id}/{custom_id}".encode(), "batch_req_", 32)
        if batch.fate(custom_id) == "expired":
            if batch.cancelled_at is None:
                error = {
                    "code": "batch_expired",
                    "message": "This request could not be executed before the completion window expired.",
                }
                failures.append(orjson.dumps({"id": line_id, "custom_id": custom_id, "response": None, "error": error}))
                results.append((custom_id, "expired", None))
            continue
        if index >= done:
            continue
        status, body, input_tokens, output_tokens, reasoning = _run(call, batch, custom_id, request)
        response = {"status_code": status, "request_id": make_id(line_id.encode(), "req_", 32), "body": body}
        line = orjson.dumps({"id": line_id, "custom_id": custom_id, "response": response, "error": None})
        (outputs if status == 200 else failures).append(line)
        results.append((custom_id, "succeeded" if status == 200 else "errored", None))
        usage = [usage[0] + input_tokens, usage[1] + output_tokens, usage[2] + reasoning]
    batch.results = results
    for lines in (outputs, failures):
        shuffle(lines, call.config.seed, batch.id)
    for name, lines in (("output_file_id", outputs), ("error_file_id", failures)):
        if lines:
            stored = StoredFile(
                call.store.new_id("file-"),
                f"{batch.id}_{name.split('_')[0]}.jsonl",
                "batch_output",
                "application/jsonl",
                b"\n".join(lines) + b"\n",
                batch.ends_at(),
            )
            call.store.files[stored.id] = stored
            batch.info[name] = stored.id
    batch.info["usage"] = usage


def _batch_json(call: Call, batch: StoredBatch) -> dict[str, Any]:
    now = call.now
    phase = batch.phase(now)
    created = batch.created_at
    info = batch.info
    total = len(batch.items)
    out: dict[str, Any] = {
        "id": batch.id,
        "object": "batch",
        "endpoint": info["endpoint"],
        "model": batch.items[0][1].get("model") if batch.items else None,
        "errors": None,
        "input_file_id": info["input_file_id"],
        "completion_window": "24h",
        "status": STATUS.get(phase, "completed"),
        "output_file_id": None,
        "error_file_id": None,
        "created_at": int(created),
        "in_progress_at": None,
        "expires_at": int(created) + WINDOW_SECONDS,
        "finalizing_at": None,
        "completed_at": None,
        "failed_at": None,
        "expired_at": None,
        "cancelling_at": None,
        "cancelled_at": None,
        "request_counts": {"total": total, "completed": 0, "failed": 0},
        "usage": None,
        "metadata": info["metadata"],
    }
    if info["errors"]:
        out.update(status="failed", failed_at=int(created), errors={"object": "list", "data": info["errors"]})
        out["request_counts"]["total"] = 0
        return out
    if phase not in ("validating",) and (
        batch.cancelled_at is None or batch.cancelled_at >= created + 0.1 * batch.duration
    ):
        out["in_progress_at"] = int(created + 0.1 * batch.duration)
    if batch.cancelled_at is not None:
        out["cancelling_at"] = int(batch.cancelled_at)
    if phase in ("finalizing", "ended"):
        out["finalizing_at"] = int(created + 0.8 * batch.duration)
    if phase in ("ended", "cancelled"):
        _finish(call, batch)
        results = batch.results or []
        expired = sum(1 for _, fate, _ in results if fate == "expired")
        if phase == "cancelled":
            out["cancelled_at"] = int(batch.ends_at())
        elif expired:
            out.update(status="expired", expired_at=int(batch.ends_at()))
        else:
            out["completed_at"] = int(batch.ends_at())
        out["output_file_id"] = info.get("output_file_id")
        out["error_file_id"] = info.get("error_file_id")
        succeeded = sum(1 for _, fate, _ in results if fate == "succeeded")
        out["request_counts"] = {"total": total, "completed": succeeded, "failed": len(results) - succeeded}
        input_tokens, output_tokens, reasoning = info["usage"]
        out["usage"] = {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": input_tokens + output_tokens,
        }
    else:
        fates = [batch.fate(custom_id) for custom_id, _ in batch.items[: batch.processed(now)]]
        out["request_counts"] = {
            "total": total,
            "completed": fates.count("succeeded"),
            "failed": fates.count("errored"),
        }
    return out


ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/v1/files"): upload,
    ("GET", "/v1/files"): list_files,
    ("GET", "/v1/files/{}"): retrieve_file,
    ("GET", "/v1/files/{}/content"): file_content,
    ("DELETE", "/v1/files/{}"): delete_file,
    ("POST", "/v1/batches"): create_batch,
    ("GET", "/v1/batches"): list_batches,
    ("GET", "/v1/batches/{}"): retrieve_batch,
    ("POST", "/v1/batches/{}/cancel"): cancel_batch,
}
