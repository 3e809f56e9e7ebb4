"""Gemini's Files API as the simulator plays it, under `/v1beta` and `/v1` (google-genai's path
with a custom base URL).

Uploads are resumable, as google-genai sends them: `POST /upload/v1beta/files` with
`X-Goog-Upload-Command: start` (the size and type in `X-Goog-Upload-Header-*`, the file's
metadata in the JSON body) answers an `X-Goog-Upload-URL`; the bytes go there in one or more
`upload` chunks at increasing `X-Goog-Upload-Offset`s, the last with `finalize`, which answers
`{"file": {...}}` and `X-Goog-Upload-Status: final`. Every answer on the upload URL carries
`X-Goog-Upload-Status` (google-genai retries one without it); `query` reports what arrived,
`cancel` drops it. A chunk at the wrong offset, or a total unlike the declared size, is a 400
that leaves the upload `active` at what was received, so a client can query and resume.

Files belong to the key that uploaded them: another key's, or an unknown one, is 403
PERMISSION_DENIED, as is a generateContent `fileData.fileUri` naming it; one still PROCESSING
(`SimConfig.file_processing_seconds`) is 400 FAILED_PRECONDITION there. Only files the simulator
writes (batch results, `source: GENERATED`) can be downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from cloudburst._sim.provider import Call, Handler, Problem, Refused
from cloudburst._sim.store import Store, StoredFile, Upload

VERSIONS = ("v1beta", "v1")
MAX_FILE_BYTES = 2 * 1024**3
"""The Files API's limit per file: 2 GB."""
TTL_SECONDS = 48 * 3600
"""Uploaded files are deleted after 48 hours; `expirationTime` says when."""
CHUNK_GRANULARITY = 8 * 1024 * 1024
"""What the upload server announces in `X-Goog-Upload-Chunk-Granularity` (google-genai's chunk)."""
PAGE_SIZE = (10, 100)
"""files.list's page size: the default and the most it gives."""
NAME = re.compile(r"^[a-z0-9-]{1,40}$")
FILE_URI = re.compile(r"/(?:v1beta|v1)/files/([a-z0-9-]{1,40})$")
_STATUS = "x-goog-upload-status"
T = TypeVar("T")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def google_id(seed: bytes, length: int) -> str:
    """A lowercase [a-z0-9] id drawn from `seed`, as Google names files (12) and batches (36)."""
    number = int.from_bytes(hashlib.blake2b(seed, digest_size=32).digest(), "big")
    return "".join(_BASE36[number // 36**place % 36] for place in range(length))


def timestamp(epoch: float) -> str:
    """A Google API timestamp: RFC 3339 in UTC with fractional seconds, `…T18:27:01.407650Z`."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def invalid(
    message: str, status: int = 400, kind: str = "INVALID_ARGUMENT", headers: Mapping[str, str] | None = None
) -> Refused:
    """A Google error; an upload URL's carry `X-Goog-Upload-Status` in `headers`."""
    return Refused(Problem(status, kind, message, headers=headers or {}))


def denied(file_id: str) -> Refused:
    return invalid(
        f"You do not have permission to access the File {file_id} or it may not exist.", 403, "PERMISSION_DENIED"
    )


def file_json(call: Call, stored: StoredFile) -> dict[str, Any]:
    """The File resource, as files.get and an upload's finalize answer it."""
    body: dict[str, Any] = {"name": f"files/{stored.id}"}
    if stored.filename:
        body["displayName"] = stored.filename
    body.update(
        mimeType=stored.mime_type,
        sizeBytes=str(len(stored.content)),
        createTime=timestamp(stored.created_at),
        updateTime=timestamp(max(stored.created_at, min(call.now, stored.ready_at))),
        expirationTime=timestamp(stored.created_at + TTL_SECONDS),
        sha256Hash=base64.b64encode(hashlib.sha256(stored.content).hexdigest().encode()).decode(),
        uri=f"{call.base_url()}/v1beta/files/{stored.id}",
    )
    if stored.downloadable:
        body["downloadUri"] = f"{call.base_url()}/v1beta/files/{stored.id}:download?alt=media"
    body["state"] = "ACTIVE" if call.now >= stored.ready_at else "PROCESSING"
    body["source"] = "GENERATED" if stored.downloadable else "UPLOADED"
    return body


def owned(store: Store, key: str, file_id: str) -> StoredFile:
    """The key's file by id, or the 403 Gemini answers for another key's or a missing one."""
    stored = store.files.get(file_id)
    if stored is None or stored.owner != key:
        raise denied(file_id)
    return stored


def usable(store: Store, key: str, file_id: str, now: float) -> StoredFile:
    """The key's file if it may be used now: 403 as `owned`, 400 FAILED_PRECONDITION while it
    is PROCESSING."""
    stored = owned(store, key, file_id)
    if now < stored.ready_at:
        raise invalid(
            f"The File {stored.id} is not in an ACTIVE state and usage is not allowed.", kind="FAILED_PRECONDITION"
        )
    return stored


def media_parts(body: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every part of the request that may hold media: the contents' own, and the parts of their
    function responses (Gemini 3's multimodal function responses)."""
    contents = [*(body.get("contents") or ()), body.get("systemInstruction") or {}]
    for content in contents:
        for part in content.get("parts") or ():
            yield part
            yield from (part.get("functionResponse") or {}).get("parts") or ()


def _file_uris(body: Mapping[str, Any]) -> Iterator[str]:
    for part in media_parts(body):
        uri = (part.get("fileData") or {}).get("fileUri")
        if isinstance(uri, str):
            yield uri


def admit_files(body: dict[str, Any], store: Store, key: str, now: float) -> None:
    """Refuse a request whose `fileData` names a Files API file the key may not use yet."""
    for uri in _file_uris(body):
        found = FILE_URI.search(urlsplit(uri).path)
        if found is not None:
            usable(store, key, found.group(1), now)


def write_file(call: Call, file_id: str, content: bytes, mime_type: str) -> StoredFile:
    """A file the simulator made (a batch's results): the caller's, downloadable, ACTIVE."""
    stored = StoredFile(file_id, "", "", mime_type, content, call.now, True, call.key, call.now)
    call.store.files[file_id] = stored
    return stored


def _size(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise invalid(f"Invalid X-Goog-Upload-Header-Content-Length: {value!r}.")
    size = int(value)
    if size > MAX_FILE_BYTES:
        raise invalid(f"File size {size} bytes exceeds the maximum of {MAX_FILE_BYTES} bytes.")
    return size


async def _start(call: Call) -> web.StreamResponse:
    headers = call.request.headers
    if headers.get("x-goog-upload-protocol", "").lower() != "resumable":
        raise invalid("Uploads must use X-Goog-Upload-Protocol: resumable.")
    raw = await call.request.read()
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise invalid("Invalid JSON payload received.") from None
    meta = body.get("file") if isinstance(body, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    name = str(meta.get("name") or "").removeprefix("files/")
    if name and not NAME.match(name):
        raise invalid(f"Invalid file name {meta['name']!r}: use up to 40 lowercase letters, digits and dashes.")
    if name and (name in call.store.files or any(pending.name == name for pending in call.store.uploads.values())):
        raise invalid(f"A file named files/{name} already exists.", 409, "ALREADY_EXISTS")
    size = _size(headers.get("x-goog-upload-header-content-length"))
    mime_type = (
        headers.get("x-goog-upload-header-content-type")
        or meta.get("mimeType")
        or meta.get("mime_type")
        or "application/octet-stream"
    )
    display = meta.get("displayName") or meta.get("display_name")
    upload = Upload(call.store.new_id("upload", 32), call.key, name, display, str(mime_type), size)
    call.store.uploads[upload.id] = upload
    version = call.request.path.split("/")[2]
    url = f"{call.base_url()}/upload/{version}/files?upload_id={upload.id}&upload_protocol=resumable"
    return web.Response(
        headers={
            "x-goog-upload-url": url,
            "x-goog-upload-control-url": url,
            _STATUS: "active",
            "x-goog-upload-chunk-granularity": str(CHUNK_GRANULARITY),
            "content-type": "text/plain; charset=utf-8",
        }
    )


def _progress(upload: Upload) -> dict[str, str]:
    return {_STATUS: "active", "x-goog-upload-size-received": str(len(upload.received))}


async def _transfer(call: Call, upload: Upload) -> web.StreamResponse:
    commands = {word.strip() for word in call.request.headers.get("x-goog-upload-command", "").lower().split(",")}
    if "cancel" in commands:
        del call.store.uploads[upload.id]
        return web.Response(headers={_STATUS: "cancelled"})
    if "query" in commands:
        return web.Response(headers=_progress(upload))
    if not commands & {"upload", "finalize"}:
        raise invalid("X-Goog-Upload-Command must be upload, finalize, query or cancel.", headers=_progress(upload))
    chunk = await call.request.read()
    if chunk:
        if "upload" not in commands:
            raise invalid("A request with bytes needs X-Goog-Upload-Command: upload.", headers=_progress(upload))
        offset = call.request.headers.get("x-goog-upload-offset", "")
        received = len(upload.received)
        if offset != str(received):
            raise invalid(
                f"Invalid X-Goog-Upload-Offset {offset or '(none)'}: {received} bytes have been received.",
                headers=_progress(upload),
            )
        total = received + len(chunk)
        if total > (upload.size if upload.size is not None else MAX_FILE_BYTES):
            raise invalid(
                f"The upload is larger than the {upload.size} bytes declared in X-Goog-Upload-Header-Content-Length.",
                headers=_progress(upload),
            )
        upload.received += chunk
        call.uploaded(len(chunk), files=0)
    if "finalize" not in commands:
        return web.Response(headers=_progress(upload))
    if upload.size is not None and len(upload.received) != upload.size:
        raise invalid(
            f"The upload has {len(upload.received)} bytes; {upload.size} were declared "
            "in X-Goog-Upload-Header-Content-Length.",
            headers=_progress(upload),
        )
    del call.store.uploads[upload.id]
    file_id = upload.name or google_id(upload.id.encode(), 12)
    ready = call.now + call.config.file_processing_seconds
    stored = StoredFile(
        file_id,
        upload.display_name or "",
        "",
        upload.mime_type,
        bytes(upload.received),
        call.now,
        False,
        upload.owner,
        ready,
    )
    call.store.files[file_id] = stored
    call.uploaded(0)
    response = call.json({"file": file_json(call, stored)})
    response.headers[_STATUS] = "final"
    return response


async def upload(call: Call) -> web.StreamResponse:
    """The upload route: a new resumable upload, or a chunk / query / cancel on its URL."""
    upload_id = call.request.query.get("upload_id")
    if upload_id is None:
        return await _start(call)
    pending = call.store.uploads.get(upload_id)
    if pending is None:
        raise invalid(
            f"No upload session {upload_id}: it was finalized, cancelled or never began.",
            404,
            "NOT_FOUND",
            {_STATUS: "final"},
        )
    return await _transfer(call, pending)


async def get_file(call: Call) -> web.StreamResponse:
    return call.json(file_json(call, owned(call.store, call.key, call.params[0])))


def page(call: Call, items: list[T]) -> tuple[list[T], str | None]:
    """One page of `items` by the request's `pageSize` (default 10, at most 100) and
    `pageToken`, and the token of the next page if there is one."""
    query = call.request.query
    size_text = query.get("pageSize", "")
    if size_text and not size_text.isdigit():
        raise invalid(f"Invalid value for pageSize: {size_text!r}.")
    size = min(int(size_text), PAGE_SIZE[1]) if size_text and int(size_text) > 0 else PAGE_SIZE[0]
    start = 0
    token = query.get("pageToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except ValueError:
            raise invalid("Invalid page token.") from None
    following = base64.urlsafe_b64encode(str(start + size).encode()).decode() if start + size < len(items) else None
    return items[start : start + size], following


async def list_files(call: Call) -> web.StreamResponse:
    """The key's files, newest first, a page at a time."""
    files = [stored for stored in reversed(call.store.files.values()) if stored.owner == call.key]
    found, token = page(call, files)
    body: dict[str, Any] = {"files": [file_json(call, stored) for stored in found]} if found else {}
    if token is not None:
        body["nextPageToken"] = token
    return call.json(body)


async def delete_file(call: Call) -> web.StreamResponse:
    stored = owned(call.store, call.key, call.params[0])
    del call.store.files[stored.id]
    return call.json({})


async def download(call: Call) -> web.StreamResponse:
    stored = owned(call.store, call.key, call.params[0])
    if call.request.query.get("alt") != "media":
        return call.json(file_json(call, stored))
    if not stored.downloadable:
        raise invalid(f"Only generated files can be downloaded; File {stored.id} was uploaded.")
    return web.Response(body=stored.content, headers={"content-type": stored.mime_type})


def versioned(routes: Mapping[tuple[str, str], Handler]) -> dict[tuple[str, str], Handler]:
    """`routes` under each API version: a path's `VERSION` becomes `v1beta`, then `v1`."""
    return {
        (method, path.replace("VERSION", version)): handler
        for version in VERSIONS
        for (method, path), handler in routes.items()
    }


ROUTES = versioned(
    {
        ("POST", "/upload/VERSION/files"): upload,
        ("GET", "/download/VERSION/files/{}:download"): download,
        ("GET", "/VERSION/files/{}:download"): download,  # before files/{}, which it would match too
        ("GET", "/VERSION/files"): list_files,
        ("GET", "/VERSION/files/{}"): get_file,
        ("DELETE", "/VERSION/files/{}"): delete_file,
    }
)
