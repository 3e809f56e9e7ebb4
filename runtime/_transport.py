"""How bytes reach a provider: a small interface of ours, so the hot path stays on aiohttp.

Measured at 500 concurrent requests against a local server, client CPU per request: aiohttp
about 250 µs, plain `httpx.AsyncClient` about 9,000 µs (its pool walks every connection per
request). So `AiohttpTransport` is the default: one long-lived session per provider, its
connector sized to the concurrency the limits allow. `HttpxTransport` wraps a caller's own
`httpx.AsyncClient` (proxies, custom TLS, `httpx.MockTransport` in tests).

Nothing here retries, and nothing here reads status codes: a transport returns whatever the
provider answered, or raises RequestTimeoutError / ConnectionFailedError. A request sent with
`stream=` (a 2xx answer) is read as it arrives and folded (`_stream.reader`): the body returned
is the one the provider sends without streaming, and a stream cut off raises
StreamInterruptedError carrying what arrived. A server that answers such a request with plain
JSON all the same (a compatible host that does not stream) is read as an unstreamed answer. Every body is capped at `max_response_bytes`
(ResponseTooLargeError beyond).
"""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import aiohttp
import yarl

from cloudburst._config import Timeouts
from cloudburst._constants import MAX_RESPONSE_BYTES, STREAMED_BODY_BYTES
from cloudburst._errors import ConnectionFailedError, RequestTimeoutError, ResponseTooLargeError
from cloudburst._stream import StreamSource
from cloudburst._stream.reader import StreamReader

if TYPE_CHECKING:
    import httpx

Answer = tuple[int, Mapping[str, str], bytes]
"""Status, headers (looked up case-insensitively), body."""


class Transport(Protocol):
    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeouts: Timeouts,
        *,
        pool: str,
        stream: StreamSource | None = None,
    ) -> Answer:
        """One HTTP exchange. `pool` names the provider, so each gets its own connections.
        `timeouts.total` is set (`Timeouts.for_output`). With `stream`, a 2xx answer is a
        stream of that format, folded into its non-streaming body."""
        ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """The default transport: one aiohttp session per provider, opened on first use in the
    running loop and kept for the whole job."""

    def __init__(
        self, max_connections: int = 0, timeouts: Timeouts | None = None, max_response_bytes: int = MAX_RESPONSE_BYTES
    ) -> None:
        self.max_connections = max_connections
        """Per provider; 0 means unbounded (the limiter already bounds concurrency)."""
        self.timeouts = (timeouts or Timeouts()).for_output(0)
        """The sessions' own timeouts: a non-streaming request with these passes none of its
        own, which saves aiohttp work on every request."""
        self.max_response_bytes = max_response_bytes
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._timeouts: dict[tuple[Timeouts, bool], aiohttp.ClientTimeout] = {}

    def _session(self, pool: str) -> aiohttp.ClientSession:
        session = self._sessions.get(pool)
        if session is None:
            connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0, ttl_dns_cache=300)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout(self.timeouts, False),
                trust_env=False,
            )
            self._sessions[pool] = session
        return session

    def _timeout(self, timeouts: Timeouts, streams: bool) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get((timeouts, streams))
        if timeout is None:
            timeout = aiohttp.ClientTimeout(
                total=timeouts.total,
                connect=timeouts.connect,
                sock_read=timeouts.idle if streams else timeouts.first_byte,
            )
            self._timeouts[(timeouts, streams)] = timeout
        return timeout

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeouts: Timeouts,
        *,
        pool: str,
        stream: StreamSource | None = None,
    ) -> Answer:
        session = self._session(pool)
        target = _encoded(url)
        data: bytes | io.BytesIO = body if len(body) < STREAMED_BODY_BYTES else io.BytesIO(body)
        reader: StreamReader | None = None
        try:
            async with (
                session.request(method, target, headers=headers, data=data)
                if timeouts is self.timeouts and stream is None
                else session.request(
                    method, target, headers=headers, data=data, timeout=self._timeout(timeouts, stream is not None)
                )
            ) as response:
                status, length = response.status, response.content_length
                if stream is not None and 200 <= status < 300 and response.content_type != "application/json":
                    reader = StreamReader(stream, self.max_response_bytes, url)
                    async for chunk in response.content.iter_any():
                        reader.feed(chunk)
                    return reader.answer(status, response.headers)
                if length is not None and length <= self.max_response_bytes:
                    return status, response.headers, await response.read()
                return status, response.headers, await _capped(response, self.max_response_bytes, url)
        except asyncio.TimeoutError as exc:
            if reader is not None:
                raise reader.interrupted(f"no byte for {timeouts.idle:g} s or the attempt's time up") from None
            raise RequestTimeoutError(f"no answer from {url} in time ({type(exc).__name__})") from None
        except (aiohttp.ClientError, OSError) as exc:
            if reader is not None:
                raise reader.interrupted(f"{type(exc).__name__}: {exc}") from None
            raise ConnectionFailedError(f"{type(exc).__name__} talking to {url}: {exc}") from None

    async def aclose(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()


async def _capped(response: aiohttp.ClientResponse, limit: int, url: str) -> bytes:
    """A body of unknown or too big a length, read up to `limit` bytes."""
    if response.content_length is not None:
        raise ResponseTooLargeError(f"{url} answered {response.content_length:,} bytes, over {limit:,}; not read")
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLargeError(f"the answer from {url} passed {limit:,} bytes; cut off")
        parts.append(chunk)
    return b"".join(parts)


@functools.lru_cache(maxsize=1024)
def _encoded(url: str) -> yarl.URL:
    """The URL exactly as built: yarl would otherwise decode `%3A` in a Bedrock model id, and
    the path signed with SigV4 would not be the path sent."""
    return yarl.URL(url, encoded=True)


class HttpxTransport:
    """A caller's own `httpx.AsyncClient`: its proxies, TLS and transports apply. The caller
    owns and closes it. Slower than aiohttp at high concurrency; see the module docstring."""

    def __init__(self, client: httpx.AsyncClient, max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self.client = client
        self.max_response_bytes = max_response_bytes

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeouts: Timeouts,
        *,
        pool: str,
        stream: StreamSource | None = None,
    ) -> Answer:
        import httpx

        timeout = httpx.Timeout(timeouts.idle if stream is not None else timeouts.first_byte, connect=timeouts.connect)
        request = self.client.build_request(method, url, headers=headers, content=body, timeout=timeout)
        reader: StreamReader | None = None
        limit = self.max_response_bytes

        async def exchange() -> Answer:
            nonlocal reader
            response = await self.client.send(request, stream=True)
            try:
                status = response.status_code
                json = response.headers.get("content-type", "").startswith("application/json")
                if stream is not None and 200 <= status < 300 and not json:
                    reader = StreamReader(stream, limit, url)
                    async for chunk in response.aiter_bytes():
                        reader.feed(chunk)
                    return reader.answer(status, response.headers)
                length = response.headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > limit:
                    raise ResponseTooLargeError(f"{url} answered {int(length):,} bytes, over {limit:,}; not read")
                parts: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise ResponseTooLargeError(f"the answer from {url} passed {limit:,} bytes; cut off")
                    parts.append(chunk)
                return status, response.headers, b"".join(parts)
            finally:
                await response.aclose()

        try:
            return await asyncio.wait_for(exchange(), timeouts.total)
        except (httpx.TimeoutException, asyncio.TimeoutError) as exc:
            if reader is not None:
                raise reader.interrupted(f"no byte for {timeouts.idle:g} s or the attempt's time up") from None
            raise RequestTimeoutError(f"no answer from {url} in time ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            if reader is not None:
                raise reader.interrupted(f"{type(exc).__name__}: {exc}") from None
            raise ConnectionFailedError(f"{type(exc).__name__} talking to {url}: {exc}") from None

    async def aclose(self) -> None:
        """The caller's client stays open: it is theirs."""
