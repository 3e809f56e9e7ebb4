"""The simulator's HTTP server: one aiohttp low-level handler with dict routing, and the steps
every model request goes through — auth, validation, rate limits, overload spikes, latency,
faults, answer (its rate-limit headers absurd when the config says so).

Paths several providers serve (`/v1/files…`) go to the provider that claims the request by its
headers: Anthropic when `anthropic-version` or `x-api-key` is present (its SDKs always send the
version; newer ones authenticate with `Authorization: Bearer`), Gemini when `x-goog-api-key` is
(google-genai with a custom base URL uses `/v1`), else OpenAI. Providers whose
paths would clash with OpenAI's (Mistral's `/v1/chat/completions`) are served under a prefix of
their own. Gemini and Bedrock name the model in the path, matched per segment after decoding
(Bedrock model ids may be ARNs with an encoded `/`). `GET /_sim/stats` and `POST /_sim/reset`
are the simulator's own.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web

from cloudburst._sim.answers import Draw
from cloudburst._sim.config import SimConfig
from cloudburst._sim.limits import RateLimiter, absurd_headers
from cloudburst._sim.provider import Call, Handler, ModelEndpoint, Problem, Refused, SimProvider, StreamPlay
from cloudburst._sim.spikes import in_spike
from cloudburst._sim.stats import Stats
from cloudburst._sim.store import Store

log = logging.getLogger("cloudburst.sim")

_JSON = {"content-type": "application/json"}
_RETRY_HEADERS = ("retry-after", "retry-after-ms")
_Target = ModelEndpoint | Handler


class SimServer:
    """The simulator's state and request handler; `start` serves it on a socket."""

    def __init__(self, config: SimConfig, providers: Sequence[SimProvider]) -> None:
        self.providers = tuple(providers)
        self.stats = Stats()
        self._exact: dict[tuple[str, str], list[tuple[SimProvider, _Target]]] = {}
        self._patterns: list[tuple[str, tuple[str, ...], SimProvider, _Target]] = []
        for provider in self.providers:
            targets: list[tuple[tuple[str, str], _Target]] = [
                (("POST", p), e) for p, e in provider.model_routes.items()
            ]
            targets += list(provider.routes.items())
            for (method, path), target in targets:
                if "{}" in path:
                    self._patterns.append((method, tuple(path.split("/")), provider, target))
                else:
                    self._exact.setdefault((method, path), []).append((provider, target))
        self.config = config
        self.reset()
        self._server: asyncio.AbstractServer | None = None
        self._requests = 0

    def configure(self, config: SimConfig) -> None:
        """Take a new config: limits start full, the seeded draws and the spike clock start over."""
        self.config = config
        self.limiters = {p.name: RateLimiter(p.limits(config), config.window_seconds) for p in self.providers}
        self._started = time.monotonic()
        self._answers = 0
        self._fault_rng = random.Random(config.seed)
        self._latency_rng = random.Random(config.seed + 1)
        self._chunk_rng = random.Random(config.seed + 2)
        self._faults = tuple(config.faults.items())
        if config.latency_spread_ms > 0 and config.latency_ms > 0:
            sigma2 = math.log(1 + (config.latency_spread_ms / config.latency_ms) ** 2)
            self._lognormal: tuple[float, float] | None = (math.log(config.latency_ms / 1000) - sigma2 / 2, sigma2**0.5)
        else:
            self._lognormal = None

    def reset(self) -> None:
        """Zero the counters, refill the limits, forget files and batches, restart the draws."""
        self.stats.clear()
        self.stores: dict[str, Store] = {p.name: Store() for p in self.providers}
        self.configure(self.config)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve on (host, port); the port actually bound is returned (port 0 picks one)."""
        self._low_level = web.Server(self.handle, access_log=None)
        self._server = await asyncio.get_running_loop().create_server(self._low_level, host, port, backlog=1024)
        bound: int = self._server.sockets[0].getsockname()[1]
        log.debug("simulator serving %s on %s:%d", ", ".join(p.name for p in self.providers), host, bound)
        return bound

    async def stop(self) -> None:
        """Stop listening and close open connections, hung requests included."""
        if self._server is not None:
            self._server.close()
            await self._low_level.shutdown(0.1)
            await self._server.wait_closed()
            self._server = None

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return self._control(request)
        self.stats.started()
        status: int | None = None
        try:
            response = await self._dispatch(request)
            transport = request.transport
            status = None if transport is None or transport.is_closing() else response.status
            return response
        finally:
            self.stats.finished(status)

    def _control(self, request: web.BaseRequest) -> web.Response:
        if request.method == "GET" and request.path == "/_sim/stats":
            return web.Response(body=orjson.dumps(self.stats.snapshot()), headers=_JSON)
        if request.method == "POST" and request.path == "/_sim/reset":
            self.reset()
            return web.Response(body=b"{}", headers=_JSON)
        return web.Response(status=404, body=b'{"error": "unknown simulator route"}', headers=_JSON)

    def _route(
        self, method: str, path: str, raw_path: str, headers: Mapping[str, str]
    ) -> tuple[SimProvider, _Target, tuple[str, ...]] | None:
        candidates = self._exact.get((method, path))
        if candidates:
            if len(candidates) == 1:
                return candidates[0][0], candidates[0][1], ()
            return next(
                ((p, target, ()) for p, target in candidates if p.claims(headers)),
                (candidates[-1][0], candidates[-1][1], ()),
            )
        segments = tuple(unquote(segment) for segment in raw_path.split("/"))
        found: list[tuple[SimProvider, _Target, tuple[str, ...]]] = []
        for route_method, pattern, provider, target in self._patterns:
            if route_method == method:
                params = _match(pattern, segments)
                if params is not None:
                    found.append((provider, target, params))
        return next((match for match in found if match[0].claims(headers)), found[-1] if found else None)

    def _error(
        self, provider: SimProvider, problem: Problem, headers: Mapping[str, str] = _JSON, model: bool = False
    ) -> web.Response:
        """The provider's error answer; `model` for a model route's, whose rate-limit headers
        may be made absurd."""
        answer_headers = {**headers, **_JSON, **problem.headers, **provider.error_headers(problem)}
        if model:
            self._absurd(provider, answer_headers)
        if provider.request_id_header is not None:
            answer_headers[provider.request_id_header] = self._request_id()
        return web.Response(
            status=problem.status, body=orjson.dumps(provider.error_body(problem)), headers=answer_headers
        )

    def _absurd(self, provider: SimProvider, headers: dict[str, str]) -> None:
        """With `absurd_headers`, the provider's rate-limit headers (and any retry-after) made
        nonsense, a different set each answer."""
        if self.config.absurd_headers and provider.limit_header_names:
            self._answers += 1
            retry = [name for name in _RETRY_HEADERS if name in headers]
            headers.update(absurd_headers(provider.limit_header_names, provider.reset_format, retry, self._answers))

    def _request_id(self) -> str:
        self._requests += 1
        return f"req_sim{self._requests:020d}"

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        headers = request.headers
        match = self._route(request.method, request.path, request.rel_url.raw_path, headers)
        if match is None:
            provider = next(
                (p for p in self.providers if request.path.startswith(p.prefixes)),
                next((p for p in self.providers if p.claims(headers)), self.providers[0]),
            )
            return self._error(provider, provider.not_found(request.method, request.path))
        provider, target, params = match
        limit = provider.body_limit(request.path)
        if (request.content_length or 0) > limit:  # refused at the front door, unread, as Cloudflare does
            return self._error(provider, provider.too_large(limit))
        request = request.clone(client_max_size=limit)
        try:
            return await self._serve(request, provider, target, params)
        except web.HTTPRequestEntityTooLarge:  # a chunked body that grew past the limit
            return self._error(provider, provider.too_large(limit))

    async def _serve(
        self, request: web.BaseRequest, provider: SimProvider, target: _Target, params: tuple[str, ...]
    ) -> web.StreamResponse:
        headers = request.headers
        problem = provider.check_headers(headers)
        if problem is not None:
            return self._error(provider, problem)
        key = provider.request_key(request, self.stores[provider.name])
        if not key or (self.config.keys is not None and key not in self.config.keys):
            return self._error(provider, provider.unauthorized(key))
        if isinstance(target, ModelEndpoint):
            return await self._run_model(request, provider, target, key, params)
        if (
            request.method == "POST"
            and request.path in provider.upload_paths
            and "upload_id" not in request.query  # a resumable upload fails at its start
            and self._fault_rng.random() < self.config.upload_fault_fraction
        ):
            self.stats.faults["upload"] += 1
            return self._error(provider, provider.server_error(overloaded=False))
        call = Call(request, provider, key, params, self.config, self.stores[provider.name], time.time(), self.stats)
        try:
            return await target(call)
        except Refused as refused:
            return self._error(provider, refused.problem)

    async def _run_model(
        self,
        request: web.BaseRequest,
        provider: SimProvider,
        endpoint: ModelEndpoint,
        key: str,
        params: tuple[str, ...],
    ) -> web.StreamResponse:
        raw = await request.read()
        problem = provider.verify(request, raw, self.config)
        if problem is not None:
            return self._error(provider, problem)
        data: Any
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            return self._error(
                provider, Problem(400, "invalid_request_error", "The request body is not a JSON object.")
            )
        if params:
            data["model"] = params[0]
        if endpoint.normalize is not None:
            data = endpoint.normalize(data)
        try:
            endpoint.validate(data)
            if endpoint.admit is not None:
                endpoint.admit(data, self.stores[provider.name], key, time.time())
        except Refused as refused:
            return self._error(provider, refused.problem)
        model = str(data.get("model"))
        cost = endpoint.cost(data)
        limiter = self.limiters[provider.name]
        refusal = limiter.acquire(key, model, cost, time.time())
        if refusal is not None:
            self.stats.rate_limited[refusal.cause] += 1
            limits = provider.limit_headers(limiter, key, model, time.time())
            return self._error(provider, provider.rate_limited(refusal, model), limits, model=True)
        config = self.config
        if config.overload_spikes and in_spike(
            config.seed,
            provider.name,
            time.monotonic() - self._started,
            config.overload_spikes,
            config.overload_spike_seconds,
        ):
            self.stats.overload_spikes += 1
            return self._error(provider, provider.server_error(overloaded=True), model=True)
        delay = self._latency()
        if delay > 0:
            await asyncio.sleep(delay)
        streams = endpoint.stream is not None and endpoint.stream.wanted(data)
        fault = self._fault()
        if fault is not None:
            self.stats.faults[fault] += 1
            midway = fault == "503" and streams and endpoint.stream is not None and endpoint.stream.error is not None
            if fault in ("500", "503") and not midway:
                return self._error(provider, provider.server_error(overloaded=fault == "503"), model=True)
            if fault == "hang" and not streams:
                await asyncio.sleep(self.config.hang_s)
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=204)
        draw = Draw.of(data if endpoint.stream is None else endpoint.stream.unstreamed(data))
        screened = endpoint.screen(data, draw, self.config) if endpoint.screen is not None else None
        answer = screened or endpoint.answer(data, draw)
        now = time.time()
        provider.settle(limiter, key, model, cost, answer, now)
        self.stats.input_tokens += answer.input_tokens
        self.stats.output_tokens += answer.output_tokens
        body = orjson.dumps(answer.body)
        response_headers = provider.limit_headers(limiter, key, model, now)
        self._absurd(provider, response_headers)
        response_headers.update(answer.headers)
        response_headers["content-type"] = "application/json"
        if provider.request_id_header is not None:
            response_headers[provider.request_id_header] = self._request_id()
        if streams:
            assert endpoint.stream is not None
            overloaded = provider.server_error(overloaded=True) if fault == "503" else None
            return await self._stream(request, endpoint.stream, answer.body, data, response_headers, fault, overloaded)
        if fault in ("reset", "disconnect"):
            return await _reset_midway(request, body, response_headers)
        if fault == "malformed":
            body = body.replace(b'":', b'";', 1)  # the first key loses its colon
        elif fault == "truncated":
            body = body[: len(body) // 2]
        return web.Response(body=body, headers=response_headers)

    async def _stream(
        self,
        request: web.BaseRequest,
        play: StreamPlay,
        answer: dict[str, Any],
        data: dict[str, Any],
        headers: dict[str, str],
        fault: str | None,
        overloaded: Problem | None = None,
    ) -> web.StreamResponse:
        """The answer as its provider streams it: the format's events, framed, written a few at
        a time and cut at arbitrary bytes (as TCP delivers them), with the stream faults."""
        frames = [play.frame(name, payload) for name, payload in play.events(answer, data)]
        self.stats.streams += 1
        broken = fault in ("hang", "disconnect", "reset", "truncated")
        if broken:
            frames = frames[: max(1, len(frames) // 2)]
        elif overloaded is not None and play.error is not None:
            frames = [*frames[: max(1, len(frames) // 2)], play.error(overloaded)]
        elif fault == "malformed":
            middle = len(frames) // 2
            frames[middle] = frames[middle].replace(b'":', b'";', 1)
        response = web.StreamResponse(status=200, headers={**headers, "content-type": play.content_type})
        await response.prepare(request)
        rng, index = self._chunk_rng, 0
        while index < len(frames):
            count = 1 if fault == "slow_stream" else rng.randint(1, 3)
            group = b"".join(frames[index : index + count])
            index += count
            cut = rng.randrange(len(group))
            await response.write(group[:cut])
            await response.write(group[cut:])
            if fault == "slow_stream":
                await asyncio.sleep(self.config.stream_gap_s)
        transport = request.transport
        if fault == "hang":
            await asyncio.sleep(self.config.hang_s)
            if transport is not None:
                transport.close()
        elif fault in ("disconnect", "reset"):
            if transport is not None:
                transport.abort()
        else:
            await response.write_eof()
        return response

    def _latency(self) -> float:
        if self._lognormal is not None:
            return self._latency_rng.lognormvariate(*self._lognormal)
        return self.config.latency_ms / 1000

    def _fault(self) -> str | None:
        if not self._faults:
            return None
        draw = self._fault_rng.random()
        for kind, rate in self._faults:
            if draw < rate:
                return kind
            draw -= rate
        return None


def _match(pattern: tuple[str, ...], segments: tuple[str, ...]) -> tuple[str, ...] | None:
    """The values of a pattern's `{}` and `{}:verb` segments in a path, or None if it does not fit."""
    if len(pattern) != len(segments):
        return None
    params = []
    for want, got in zip(pattern, segments, strict=True):
        if want == "{}":
            params.append(got)
        elif want.startswith("{}"):
            suffix = want[2:]
            if len(got) <= len(suffix) or not got.endswith(suffix):
                return None
            params.append(got[: -len(suffix)])
        elif want != got:
            return None
    return tuple(params)


async def _reset_midway(request: web.BaseRequest, body: bytes, headers: dict[str, str]) -> web.StreamResponse:
    """Send the headers and half the body, then drop the connection."""
    response = web.StreamResponse(status=200, headers={**headers, "content-length": str(len(body))})
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.abort()
    return response
