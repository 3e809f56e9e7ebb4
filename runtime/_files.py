"""Files in prompts: for each Image and Document given by its bytes, per provider, whether it
goes inline or through the provider's Files API, and the uploads themselves.

The choice (`plan`) reads only the provider's spec (`ProviderInfo.files`) and its API's part
kinds: what it takes inline, how big a request may be, what its Files API takes. Uploads
(`JobFiles`) happen before the requests that need them, once per file per provider and account:
a file is read and hashed once (off the event loop) however many prompts carry it, every prompt
that needs it waits on the one upload without holding a concurrency slot, and the upload goes
through the client's limiter (its own bucket per provider) and retry policy. What was uploaded
is remembered by content hash for the client's lifetime, and across runs in `UploadStore`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import random
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson

from cloudburst._config import FileUploadStrategy, RateLimits, RetryPolicy, Timeouts
from cloudburst._constants import (
    FILE_DIGEST_CACHE,
    FILE_ENCODED_CACHE,
    INLINE_OFF_LOOP_BYTES,
    UPLOAD_CONCURRENCY,
    UPLOAD_POLL_SECONDS,
    UPLOAD_READY_TIMEOUT_SECONDS,
    UPLOAD_REUSE_MARGIN_SECONDS,
)
from cloudburst._conversation import Conversation, Document, Image, Message, Part, ToolResult
from cloudburst._errors import InvalidResponseError, ProviderError, UnsupportedContentError
from cloudburst._limiter import Limiter, Need
from cloudburst._render import redact, secrets_of
from cloudburst._retry import decide
from cloudburst._upload_store import Uploaded, UploadStore
from cloudburst._wire import dig, header_value

if TYPE_CHECKING:
    from cloudburst._providers import FileUpload, ProviderInfo
    from cloudburst._route import Route
    from cloudburst._transport import Transport

log = logging.getLogger("cloudburst")

FilePart = Image | Document
Way = Literal["inline", "upload"]
_NOTHING = Need(0, 0)
_Request = tuple[str, str, dict[str, str], bytes]
"""Method, URL, headers, body."""


def file_parts(conversation: Conversation) -> list[FilePart]:
    """The parts given by their bytes (not a URL, not an id): the ones a strategy places,
    tool results' images and documents among them."""
    return [
        part
        for message in conversation.messages
        for outer in message.parts
        for part in (
            outer.content if isinstance(outer, ToolResult) and not isinstance(outer.content, str) else (outer,)
        )
        if isinstance(part, (Image, Document)) and part.data is not None and part.file_id is None
    ]


def _with(part: Part, replaced: dict[int, FilePart]) -> Part:
    """`part` with the file parts `replaced` (by `id`), inside a tool result too."""
    if isinstance(part, ToolResult) and not isinstance(part.content, str):
        content = tuple(replaced.get(id(inner), inner) for inner in part.content)
        return ToolResult(part.call_id, content, part.name, part.is_error)
    return replaced.get(id(part), part)


def _kind(part: FilePart) -> Literal["image", "document"]:
    return "image" if isinstance(part, Image) else "document"


def _b64_size(size: int) -> int:
    return (size + 2) // 3 * 4


def _uploadable(provider: ProviderInfo, part_kinds: frozenset[str], part: FilePart) -> FileUpload | None:
    upload = provider.files.upload
    reference = "image_file_id" if isinstance(part, Image) else "file_id"
    if (
        upload is None
        or reference not in part_kinds
        or part.media_type not in upload.media_types.get(_kind(part), ())
        or len(part.data or b"") > upload.max_bytes
    ):
        return None
    return upload


def _inline_limit(provider: ProviderInfo, part_kinds: frozenset[str], part: FilePart) -> int:
    """The most bytes of this part the provider takes inline; 0 when its API takes none."""
    if ("image_base64" if isinstance(part, Image) else "document_base64") not in part_kinds:
        return 0
    files = provider.files
    limit = files.inline_max_bytes.get(_kind(part))
    if files.max_request_bytes is not None:
        request = files.max_request_bytes // 4 * 3  # the base64 of the file alone must fit
        limit = request if limit is None else min(limit, request)
    return limit if limit is not None else 1 << 62


def plan(
    provider: ProviderInfo, part_kinds: frozenset[str], conversation: Conversation, strategy: FileUploadStrategy
) -> dict[int, Way]:
    """How each file part (by `id`) reaches this provider. Raises UnsupportedContentError,
    before anything is sent, for a file no way takes, or a request whose inline files together
    exceed the provider's request size and cannot be uploaded instead."""
    parts = file_parts(conversation)
    ways: dict[int, Way] = {}
    preference = strategy.preference(provider.name)
    for part in parts:
        size = len(part.data or b"")
        can_upload = _uploadable(provider, part_kinds, part) is not None
        can_inline = size <= _inline_limit(provider, part_kinds, part)
        if not (can_upload or can_inline):
            raise UnsupportedContentError(_too_big(provider, part_kinds, part))
        wants_upload = preference == "upload" or (preference == "auto" and size >= strategy.upload_above)
        ways[id(part)] = "upload" if can_upload and (wants_upload or not can_inline) else "inline"
    limit = provider.files.max_request_bytes
    if limit is not None:
        inline = sorted((p for p in parts if ways[id(p)] == "inline"), key=lambda p: -len(p.data or b""))
        total = sum(_b64_size(len(p.data or b"")) for p in inline)
        for part in inline:  # the biggest go by upload until the rest fits
            if total <= limit:
                break
            if _uploadable(provider, part_kinds, part) is not None:
                ways[id(part)] = "upload"
                total -= _b64_size(len(part.data or b""))
        if total > limit:
            raise UnsupportedContentError(
                f"the prompt's inline files come to {total:,} bytes of base64, over {provider.title}'s "
                f"request limit of {limit:,}, and {provider.title} cannot take them by upload"
            )
    return ways


def _too_big(provider: ProviderInfo, part_kinds: frozenset[str], part: FilePart) -> str:
    size = len(part.data or b"")
    what = f"{part.media_type} {_kind(part)} of {size:,} bytes"
    inline = _inline_limit(provider, part_kinds, part)
    inline_text = f"inline up to {inline:,} bytes" if inline else "no inline files of this kind"
    upload = provider.files.upload
    if upload is None:
        upload_text = "no Files API cloudburst uses"
    elif part.media_type not in upload.media_types.get(_kind(part), ()):
        upload_text = f"uploads of {', '.join(upload.media_types.get(_kind(part), ())) or 'no such files'} only"
    else:
        upload_text = f"uploads up to {upload.max_bytes:,} bytes"
    return f"{provider.title} cannot take a {what}: it takes {inline_text}, and {upload_text}"


class _Lru(OrderedDict[int, tuple[bytes, "asyncio.Future[str]"]]):
    """Results for a file's bytes by object identity; the bytes are held, so an id is never
    reused while its entry lives."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_or_start(self, data: bytes, work: Callable[[bytes], str]) -> asyncio.Future[str]:
        entry = self.get(id(data))
        if entry is not None:
            self.move_to_end(id(data))
            return entry[1]
        future = asyncio.ensure_future(asyncio.to_thread(work, data))
        self[id(data)] = (data, future)
        if len(self) > self.size:
            self.popitem(last=False)
        return future


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class FileUploads:
    """A client's uploads: its strategy, and every file uploaded so far (by account, provider
    and content hash), shared by its jobs."""

    def __init__(
        self, strategy: FileUploadStrategy, limiter: Limiter, retry: RetryPolicy, timeouts: Timeouts, rng: random.Random
    ) -> None:
        self.strategy = strategy
        self.limiter = limiter
        self.retry = retry
        self.timeouts = timeouts
        self.rng = rng
        self.store = UploadStore(strategy.store) if strategy.store is not None else None
        self.known: dict[tuple[str, str, str], Uploaded] = {}
        self._configured: set[str] = set()

    def bucket(self, provider: str) -> str:
        """The limiter bucket of a provider's uploads (configured on first use)."""
        key = f"{provider}/files"
        if key not in self._configured:
            self.limiter.configure(key, RateLimits(max_concurrency=UPLOAD_CONCURRENCY))
            self._configured.add(key)
        return key

    def job(self, transport: Transport) -> JobFiles:
        return JobFiles(self, transport)


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a file goes: one provider, one account."""

    provider: ProviderInfo
    upload: FileUpload
    base_url: str
    headers: Mapping[str, str]
    scope: str


class JobFiles:
    """One job's side of the uploads: the uploads in flight, and what the job uploaded."""

    def __init__(self, uploads: FileUploads, transport: Transport) -> None:
        self.uploads = uploads
        self.transport = transport
        self._digests = _Lru(FILE_DIGEST_CACHE)
        self._encoded = _Lru(FILE_ENCODED_CACHE)
        self._in_flight: dict[tuple[str, str, str], asyncio.Task[Uploaded]] = {}
        self._uploaded: list[tuple[_Target, tuple[str, str, str], Uploaded]] = []

    async def prepare(self, route: Route, conversation: Conversation) -> tuple[Conversation, int]:
        """The conversation as sent on `route`: uploaded files named by id, inline ones with
        their base64 computed; and how many inline bytes it carries. Raises the upload's
        ProviderError when a file that must be uploaded could not be."""
        provider = route.provider
        ways = plan(provider, route.adapter.PART_KINDS, conversation, self.uploads.strategy)
        replaced: dict[int, FilePart] = {}
        inline_bytes = 0
        for part in file_parts(conversation):
            data = part.data or b""
            if ways[id(part)] == "upload":
                try:
                    uploaded = await self._uploaded_file(route, part)
                except ProviderError:
                    if not (
                        self.uploads.strategy.fallback_inline
                        and len(data) <= _inline_limit(provider, route.adapter.PART_KINDS, part)
                    ):
                        raise
                    log.warning("upload to %s failed; sending %s inline", provider.title, _describe(part))
                else:
                    replaced[id(part)] = _referenced(part, uploaded.reference)
                    continue
            inline_bytes += len(data)
            if len(data) >= INLINE_OFF_LOOP_BYTES:
                replaced[id(part)] = replace(part, encoded=await self._encoded.get_or_start(data, _b64))
        if not replaced:
            return conversation, inline_bytes
        messages = tuple(Message(m.role, tuple(_with(p, replaced) for p in m.parts)) for m in conversation.messages)
        return Conversation(messages), inline_bytes

    async def _uploaded_file(self, route: Route, part: FilePart) -> Uploaded:
        data = part.data or b""
        digest = await self._digests.get_or_start(data, _sha256)
        target = _target(route)
        key = (target.scope, target.provider.name, digest)
        uploads = self.uploads
        known = uploads.known.get(key)
        if known is not None and _alive(known):
            return known
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._find_or_upload(target, key, part))
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(task)

    def _settled(self, key: tuple[str, str, str], task: asyncio.Task[Uploaded]) -> None:
        """A finished upload leaves the in-flight map: its result is known from now on; after
        a failure the next prompt that needs the file tries again."""
        self._in_flight.pop(key, None)
        if not task.cancelled() and task.exception() is None:
            self.uploads.known[key] = task.result()

    async def _find_or_upload(self, target: _Target, key: tuple[str, str, str], part: FilePart) -> Uploaded:
        store = self.uploads.store
        if store is not None:
            stored = await asyncio.to_thread(store.get, *key)
            if stored is not None and _alive(stored):
                log.debug("reusing %s's upload %s of %s", target.provider.title, stored.reference, _describe(part))
                return stored
        uploaded = await self._upload(target, part)
        self._uploaded.append((target, key, uploaded))
        if store is not None:
            await asyncio.to_thread(store.put, *key, uploaded)
        return uploaded

    async def _upload(self, target: _Target, part: FilePart) -> Uploaded:
        """Upload once, with the client's retry policy; wait until the provider can use it."""
        if target.upload.protocol == "resumable":
            answer = await self._call(target, _start_resumable(target, part))
            url = header_value(answer[1], "x-goog-upload-url")
            if not url:
                raise InvalidResponseError(f"{target.provider.title}'s upload start gave no x-goog-upload-url")
            answer = await self._call(target, _finish_resumable(target, part, url))
        else:
            answer = await self._call(target, await asyncio.to_thread(_multipart, target, part))
        uploaded, state = _read_upload(target, answer[2], resource=target.upload.resource)
        deadline = time.monotonic() + UPLOAD_READY_TIMEOUT_SECONDS
        while state is not None and state != target.upload.ready:
            if state == target.upload.failed or time.monotonic() > deadline:
                raise InvalidResponseError(f"{target.provider.title} could not process the upload ({state})")
            await asyncio.sleep(UPLOAD_POLL_SECONDS)
            url = _url(target.upload.status_url or "", target, uploaded)
            answer = await self._call(target, ("GET", url, dict(target.headers), b""))
            _, state = _read_upload(target, answer[2], resource=None)
        log.debug("uploaded %s to %s as %s", _describe(part), target.provider.title, uploaded.reference)
        return uploaded

    async def _call(self, target: _Target, request: _Request) -> tuple[int, Mapping[str, str], bytes]:
        """One exchange of an upload, through the provider's upload bucket, retried as the
        client's policy says."""
        uploads = self.uploads
        key = uploads.bucket(target.provider.name)
        method, url, headers, body = request
        attempt = 0
        while True:
            attempt += 1
            ticket = await uploads.limiter.acquire(key, _NOTHING)
            error: ProviderError
            try:
                status, answer_headers, content = await self.transport.send(
                    method, url, headers, body, uploads.timeouts, pool=target.provider.name
                )
            except ProviderError as exc:
                error = exc
            else:
                if status < 400:
                    return status, answer_headers, content
                secrets = secrets_of(headers, target.provider.auth.header)
                error = target.provider.classify(status, answer_headers, _json(redact(content, secrets)))
            finally:
                uploads.limiter.settle(ticket, None, None)
            decision = decide(error, attempt, uploads.retry, error.retry_after, uploads.rng)
            if error.kind == "rate_limited":
                uploads.limiter.rate_limited(key, decision.cooldown)
            if not decision.retry:
                raise error
            await asyncio.sleep(decision.delay)

    async def finish(self) -> None:
        """Stop uploads no prompt waits for any more; with `delete_after`, delete what this job
        uploaded (and forget it)."""
        for task in list(self._in_flight.values()):
            task.cancel()
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
        uploads = self.uploads
        if not uploads.strategy.delete_after:
            return
        for target, key, uploaded in self._uploaded:
            url = _url(target.upload.delete_url, target, uploaded)
            try:
                await self._call(target, ("DELETE", url, dict(target.headers), b""))
            except ProviderError as exc:
                log.warning("could not delete %s's upload %s: %s", target.provider.title, uploaded.reference, exc)
            uploads.known.pop(key, None)
            if uploads.store is not None:
                await asyncio.to_thread(uploads.store.forget, *key)
        self._uploaded.clear()


def _target(route: Route) -> _Target:
    provider = route.provider
    upload = provider.files.upload
    assert upload is not None  # plan() chose an upload only where there is a Files API
    base_url = route.base_url
    headers = {k: v for k, v in route.headers.items() if k.lower() != "content-type"}
    credential = header_value(route.headers, provider.auth.header) or ""
    scope = hashlib.sha256(f"{base_url}\n{credential}".encode()).hexdigest()[:16]
    return _Target(provider, upload, base_url, headers, scope)


def _alive(uploaded: Uploaded) -> bool:
    return uploaded.expires_at is None or uploaded.expires_at > time.time() + UPLOAD_REUSE_MARGIN_SECONDS


def _referenced(part: FilePart, reference: str) -> FilePart:
    if isinstance(part, Image):
        return Image(media_type=part.media_type, file_id=reference)
    return Document(file_id=reference, media_type=part.media_type, filename=part.filename)


def _describe(part: FilePart) -> str:
    name = part.filename if isinstance(part, Document) else "image"
    return f"{name} ({len(part.data or b''):,} bytes)"


def _url(template: str, target: _Target, uploaded: Uploaded) -> str:
    return expand_url(template, target.base_url, uploaded.reference, uploaded.name)


def expand_url(template: str, base_url: str, reference: str = "", name: str | None = None) -> str:
    """A spec's Files API URL (`{base_url}/files`, `{root}/upload/v1beta/files`) for a base URL;
    `{root}` is the base URL less its version (`https://gw/gemini/v1beta` → `https://gw/gemini`)."""
    root = base_url.rsplit("/", 1)[0] if base_url.count("/") > 2 else base_url
    return (
        template.replace("{base_url}", base_url)
        .replace("{root}", root)
        .replace("{reference}", reference)
        .replace("{name}", name or reference)
    )


def _json(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode(errors="replace")


def _multipart(target: _Target, part: FilePart) -> _Request:
    """One multipart/form-data POST: the `purpose` field where the provider asks for one, and
    the file."""
    data = part.data or b""
    boundary = "cloudburst-" + secrets.token_hex(16)
    filename = part.filename if isinstance(part, Document) else "image." + part.media_type.rpartition("/")[2]
    fields = b""
    if target.upload.purpose is not None:
        fields = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n{target.upload.purpose}\r\n'
        ).encode()
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {part.media_type}\r\n\r\n"
    ).encode()
    body = b"".join((fields, head, data, f"\r\n--{boundary}--\r\n".encode()))
    headers = {**target.headers, "content-type": f"multipart/form-data; boundary={boundary}"}
    return "POST", _url(target.upload.url, target, Uploaded("")), headers, body


def _start_resumable(target: _Target, part: FilePart) -> _Request:
    """Google's resumable upload, step one: announce the file, get the URL to send it to."""
    name = part.filename if isinstance(part, Document) else "image"
    headers = {
        **target.headers,
        "content-type": "application/json",
        "x-goog-upload-protocol": "resumable",
        "x-goog-upload-command": "start",
        "x-goog-upload-header-content-length": str(len(part.data or b"")),
        "x-goog-upload-header-content-type": part.media_type,
    }
    body = orjson.dumps({"file": {"display_name": name}})
    return "POST", _url(target.upload.url, target, Uploaded("")), headers, body


def _finish_resumable(target: _Target, part: FilePart, url: str) -> _Request:
    """Step two: the bytes, in one piece, and finalize."""
    headers = {
        **target.headers,
        "x-goog-upload-command": "upload, finalize",
        "x-goog-upload-offset": "0",
        "content-type": part.media_type,
    }
    return "POST", url, headers, part.data or b""


def _read_upload(target: _Target, content: bytes, *, resource: str | None) -> tuple[Uploaded, str | None]:
    """The file an answer describes, and its processing state where the provider has one."""
    upload = target.upload
    data = _json(content)
    obj = dig(data, _path(resource)) if resource is not None else data
    reference = dig(obj, _path(upload.reference)) if isinstance(obj, Mapping) else None
    if not isinstance(reference, str) or not reference:
        raise InvalidResponseError(f"{target.provider.title}'s upload answer has no {upload.reference!r}", body=data)
    name = dig(obj, _path(upload.name)) if upload.name else None
    state = dig(obj, _path(upload.state)) if upload.state else None
    expires = dig(obj, _path(upload.expires)) if upload.expires else None
    expires_at = _timestamp(expires)
    if expires_at is None and upload.lifetime_seconds is not None:
        expires_at = time.time() + upload.lifetime_seconds
    return Uploaded(reference, name if isinstance(name, str) else None, expires_at), (
        state if isinstance(state, str) else None
    )


def _timestamp(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def _path(where: str) -> tuple[str | int, ...]:
    return tuple(int(step) if step.isdigit() else step for step in where.split("."))


def check_files(route: Route, conversation: Conversation, strategy: FileUploadStrategy) -> None:
    """`plan`'s refusals for one route, as the ConfigurationError a prompt's InputError says."""
    try:
        plan(route.provider, route.adapter.PART_KINDS, conversation, strategy)
    except UnsupportedContentError as exc:
        raise UnsupportedContentError(f"{route.model.id}: {exc}") from None
