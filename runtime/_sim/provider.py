"""What a simulated provider supplies to the server: routes, auth, error shapes, rate-limit
headers. Each provider is one module with one `SimProvider` subclass; the server does the rest
(routing, limits, latency, faults, counters), so adding a provider adds no server code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from cloudburst._sim.answers import Draw
from cloudburst._sim.limits import Cost, RateLimiter, Refusal

MiB = 1024 * 1024
"""Providers write "MB" for MiB: Anthropic's 5 MB image limit is 5,242,880 bytes in its errors."""

if TYPE_CHECKING:
    from cloudburst._sim.config import SimConfig
    from cloudburst._sim.stats import Stats
    from cloudburst._sim.store import Store


@dataclass(frozen=True, slots=True)
class Problem:
    """An error answer before it takes a provider's shape."""

    status: int
    type: str
    message: str
    param: str | None = None
    code: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    details: tuple[Mapping[str, Any], ...] = ()
    """Typed extras some providers attach (Gemini's `google.rpc.RetryInfo`)."""


class Refused(Exception):
    """Raised by a handler to answer with a provider error."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Answer:
    """A model's answer and the tokens it counts."""

    body: dict[str, Any]
    input_tokens: int
    output_tokens: int
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers this answer adds (Bedrock's `x-amzn-bedrock-*-token-count`)."""


Events = Callable[[dict[str, Any], dict[str, Any]], list[tuple[str | None, Any]]]
"""`events(answer, request)`: the events a provider streams for a non-streaming `answer`."""


def sse_frame(event: str | None, data: Any) -> bytes:
    """One server-sent event: `event:` when named, then the JSON data (a string as it is)."""
    payload = data.encode() if isinstance(data, str) else orjson.dumps(data)
    return (b"event: " + event.encode() + b"\n" if event else b"") + b"data: " + payload + b"\n\n"


@dataclass(frozen=True, slots=True)
class StreamPlay:
    """How an endpoint streams: the events of its format, how they are framed, and which
    requests want it."""

    events: Events
    flag: str | None = "stream"
    """The body field that asks for a stream (`stream: true`); None: every request to the
    route streams (Gemini's `:streamGenerateContent`, Bedrock's `/converse-stream`)."""
    frame: Callable[[str | None, Any], bytes] = sse_frame
    content_type: str = "text/event-stream"
    error: Callable[[Problem], bytes] | None = None
    """The frame of an error sent mid-stream (Anthropic's `event: error`, Bedrock's exception
    events); with it, a `503` fault on a stream breaks it off with that error after some events."""

    request_fields: tuple[str, ...] = ("stream", "stream_options")
    """Body fields that say how to deliver the answer, not what it is."""

    def wanted(self, body: Mapping[str, Any]) -> bool:
        return self.flag is None or body.get(self.flag) is True

    def unstreamed(self, body: dict[str, Any]) -> dict[str, Any]:
        """The body without its delivery fields: a streamed answer is drawn as the same
        request's non-streamed one."""
        if not any(name in body for name in self.request_fields):
            return body
        return {key: value for key, value in body.items() if key not in self.request_fields}


@dataclass(frozen=True, slots=True)
class ModelEndpoint:
    """A route that runs a model: validated, rate limited, delayed, maybe faulted, answered."""

    validate: Callable[[Any], None]
    """Raises Refused (400) when the body is not what the provider accepts."""
    cost: Callable[[dict[str, Any]], Cost]
    """What the request takes from the rate limits, before it is answered."""
    answer: Callable[[dict[str, Any], Draw], Answer]
    screen: Callable[[dict[str, Any], Draw, SimConfig], Answer | None] | None = None
    """An answer given instead of the model's when the config says so (a Gemini safety block)."""
    normalize: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """The body in one spelling, before anything reads it (Gemini takes snake_case field names
    as well as camelCase)."""
    admit: Callable[[dict[str, Any], Store, str, float], None] | None = None
    """Raises Refused when a valid body names the provider's state that the key may not use
    now (a Gemini file of another key, or still PROCESSING); given the store, key and time."""
    stream: StreamPlay | None = None
    """How it streams its answer; None: a request asking to is refused by `validate`."""


@dataclass(slots=True)
class Call:
    """One request to a plain (non-model) route, with what its handler may need."""

    request: web.BaseRequest
    provider: SimProvider
    key: str
    params: tuple[str, ...]
    config: SimConfig
    store: Store
    now: float
    stats: Stats

    def json(self, body: Any, status: int = 200) -> web.Response:
        return web.Response(body=orjson.dumps(body), status=status, headers={"content-type": "application/json"})

    def base_url(self) -> str:
        """The server's own address as the client reached it, for URLs in answers."""
        return f"{self.request.scheme}://{self.request.host}"

    def uploaded(self, size: int, files: int = 1) -> None:
        """Count `size` bytes received and `files` uploads completed, in `/_sim/stats`."""
        self.stats.uploaded(self.provider.name, size, files)


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


class SimProvider(ABC):
    """One provider's side of the simulator."""

    name: str
    request_id_header: str | None
    """Where answers carry a request id; None for providers that send none (Gemini, Mistral)."""
    model_routes: Mapping[str, ModelEndpoint]
    """POST paths that run a model. A segment `{}` matches any one segment and `{}:verb` one
    ending in `:verb`; the first such segment names the model (Gemini's and Bedrock's URLs),
    which then reaches the endpoint (its validation too) as the body's `model`."""
    routes: Mapping[tuple[str, str], Handler]
    """Other routes by (method, path), where a path segment `{}` matches any one segment."""
    base_path: str = "/v1"
    """Appended to the server's URL, the provider's base URL as its spec writes it."""
    prefixes: tuple[str, ...] = ()
    """Path prefixes only this provider serves: who answers 404 for an unknown path there."""
    limit_header_names: tuple[str, ...] = ()
    """Every rate-limit header the provider may send, for `SimConfig.absurd_headers`; none for
    providers that send none."""
    reset_format: str = "duration"
    """How its reset headers write a time: `duration` (Go's, `6m0s`) or `rfc3339`."""
    max_body: int = 64 * MiB
    """The largest request body the provider takes; a bigger one gets `too_large`. The default
    is for providers that document no limit."""
    upload_paths: frozenset[str] = frozenset()
    """Where its Files API takes uploads (`SimConfig.upload_fault_fraction` fails some)."""
    route_max_body: Mapping[str, int] = MappingProxyType({})
    """Paths whose limit differs from `max_body` (a Files API's upload)."""

    def body_limit(self, path: str) -> int:
        return self.route_max_body.get(path, self.max_body)

    def too_large(self, limit: int) -> Problem:
        """The answer to a body over `limit` bytes; most providers' front door answers 413."""
        return Problem(413, "request_too_large", f"Request exceeds the maximum allowed number of bytes ({limit}).")

    @abstractmethod
    def claims(self, headers: Mapping[str, str]) -> bool:
        """Whether a request on a path several providers serve (`/v1/files`) is for this one."""

    @abstractmethod
    def api_key(self, headers: Mapping[str, str]) -> str | None: ...

    def request_key(self, request: web.BaseRequest, store: Store) -> str | None:
        """The request's API key: its headers' for most providers; Gemini also takes `?key=`
        and lets a resumable upload's URL stand for the key that opened it."""
        return self.api_key(request.headers)

    @abstractmethod
    def unauthorized(self, key: str | None) -> Problem: ...

    def check_headers(self, headers: Mapping[str, str]) -> Problem | None:
        """A problem with the request's headers other than the key (a missing version header)."""
        return None

    def verify(self, request: web.BaseRequest, body: bytes, config: SimConfig) -> Problem | None:
        """A problem with the request as a whole once its body is read (a SigV4 signature)."""
        return None

    @abstractmethod
    def error_body(self, problem: Problem) -> dict[str, Any]: ...

    def error_headers(self, problem: Problem) -> dict[str, str]:
        """Headers every error answer carries besides the problem's own (Bedrock's error type)."""
        return {}

    @abstractmethod
    def not_found(self, method: str, path: str) -> Problem: ...

    @abstractmethod
    def limits(self, config: SimConfig) -> dict[str, int | None]:
        """The config's limits this provider enforces, by dimension."""

    @abstractmethod
    def rate_limited(self, refusal: Refusal, model: str) -> Problem: ...

    @abstractmethod
    def limit_headers(self, limiter: RateLimiter, key: str, model: str, now: float) -> dict[str, str]: ...

    @abstractmethod
    def server_error(self, overloaded: bool) -> Problem:
        """The 500 fault, or with `overloaded` the provider's overloaded answer (503 / 529)."""

    def settle(self, limiter: RateLimiter, key: str, model: str, cost: Cost, answer: Answer, now: float) -> None:
        """Correct the limits once the answer is known (Anthropic refunds unused output tokens)."""
        return None
