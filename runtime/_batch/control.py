"""The HTTP calls that drive a provider's batch API: create, poll, upload, download, cancel.

Not the hot path, so it is plain aiohttp with bodies streamed from and to files: an input of
200 MB is never held in memory, nor a results file. Transient failures (429, 5xx, overloaded, a
timeout, a reset connection) are retried with the RetryPolicy's backoff, honouring the
provider's requested wait; anything else is raised as the provider's typed error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp
import orjson

from cloudburst._config import RetryPolicy, Timeouts
from cloudburst._constants import BATCH_CHUNK_BYTES
from cloudburst._errors import ConnectionFailedError, InvalidResponseError, ProviderError, RequestTimeoutError
from cloudburst._providers import ProviderInfo
from cloudburst._retry import decide

log = logging.getLogger("cloudburst")
Body = bytes | aiohttp.FormData | AsyncIterator[bytes] | BinaryIO | None


class Control:
    """One provider's batch endpoints under `base_url`, with the job's authentication headers."""

    def __init__(
        self,
        provider: ProviderInfo,
        base_url: str,
        headers: Mapping[str, str],
        retry: RetryPolicy,
        timeouts: Timeouts,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        self.retry = retry
        self.timeouts = timeouts
        self._session: aiohttp.ClientSession | None = None

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    async def __aenter__(self) -> Control:
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.timeouts.connect, sock_read=self.timeouts.for_output(0).total
        )
        self._session = aiohttp.ClientSession(timeout=timeout, trust_env=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def json(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        stream: Callable[[], Body] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """A call answered with JSON: `body` sent as JSON, or `stream()` (a form, a file's
        chunks) made anew for each attempt."""
        extra = dict(headers or {})
        if stream is None and body is not None:
            content = orjson.dumps(body)
            extra.setdefault("content-type", "application/json")
            stream = lambda: content  # noqa: E731
        _, _, data = await self.call(method, path, stream, extra)
        try:
            return orjson.loads(data) if data else {}
        except orjson.JSONDecodeError:
            raise InvalidResponseError(
                f"{self.provider.title} answered {method} {path} with a body that is not JSON", body=data[:500]
            ) from None

    async def call(
        self,
        method: str,
        path: str,
        body: Callable[[], Body] | None = None,
        headers: Mapping[str, str] | None = None,
        into: Path | None = None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One call with retries; `body` makes a fresh body for each attempt (a stream cannot be
        sent twice). With `into`, a successful answer's body is streamed there (through a file
        beside it, renamed when complete) instead of returned. A failure that is not transient is
        raised, typed."""
        aside = into.with_suffix(".download") if into is not None else None
        attempt = 0
        while True:
            attempt += 1
            try:
                with aside.open("wb") if aside is not None else contextlib.nullcontext() as out:
                    status, answer_headers, content = await self._send(
                        method, path, body() if body else None, headers, out
                    )
            except (RequestTimeoutError, ConnectionFailedError) as exc:
                error: ProviderError = exc
            else:
                if status < 400:
                    if aside is not None and into is not None:
                        os.replace(aside, into)
                    return status, answer_headers, content
                error = self.provider.classify(status, answer_headers, _loads(content))
            decision = decide(error, attempt, self.retry, error.retry_after)
            if not error.retryable or not decision.retry:
                if aside is not None:
                    aside.unlink(missing_ok=True)
                raise error
            log.info("%s %s: %s; retrying in %.1f s", method, path, error, decision.delay)
            await asyncio.sleep(decision.delay)

    async def download(self, path: str, into: Path) -> None:
        """A results file streamed to `into`."""
        await self.call("GET", path, into=into)

    async def _send(
        self, method: str, path: str, body: Body, headers: Mapping[str, str] | None, into: Any = None
    ) -> tuple[int, Mapping[str, str], bytes]:
        assert self._session is not None, "Control is used inside `async with`"
        url = self.url(path)
        try:
            async with self._session.request(method, url, headers={**self.headers, **(headers or {})}, data=body) as r:
                if into is not None and r.status < 400:
                    async for chunk in r.content.iter_chunked(BATCH_CHUNK_BYTES):
                        into.write(chunk)
                    return r.status, r.headers, b""
                return r.status, r.headers, await r.read()
        except asyncio.TimeoutError as exc:
            raise RequestTimeoutError(f"no answer from {url} in time ({type(exc).__name__})") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectionFailedError(f"{type(exc).__name__} talking to {url}: {exc}") from None


async def file_chunks(
    path: Path, prefix: bytes = b"", separator: bytes | None = None, suffix: bytes = b""
) -> AsyncIterator[bytes]:
    """A file's bytes in chunks, read off the event loop; with `separator`, its lines joined by
    it instead of newlines (a JSON array's items), between `prefix` and `suffix`."""
    yield prefix
    with path.open("rb") as lines:
        first = True
        while True:
            block = await asyncio.to_thread(lines.readlines, BATCH_CHUNK_BYTES)
            if not block:
                break
            if separator is None:
                yield b"".join(block)
                continue
            items = [line.rstrip(b"\n") for line in block if line.strip()]
            if items:
                yield (b"" if first else separator) + separator.join(items)
                first = False
    yield suffix


def _loads(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode(errors="replace")
