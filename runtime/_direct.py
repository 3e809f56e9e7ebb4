"""Jobs whose requests are built up front on one route (embedding packs, rerank parts), run by
the same engine as prompts: `Job`'s limiter, retries, progress, tracker and cache, with the
route, the model and the reading of answers its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

import orjson

from cloudburst._aws import region_of
from cloudburst._cache import request_identity
from cloudburst._conversation import Conversation
from cloudburst._errors import ConfigurationError, InvalidResponseError, MalformedResponseError
from cloudburst._gc import fewer_collections
from cloudburst._job import Job, Pending
from cloudburst._limiter import Need
from cloudburst._models import ModelInfo
from cloudburst._options import RequestOptions
from cloudburst._progress import open_display
from cloudburst._prompt import Completed
from cloudburst._providers import ProviderInfo
from cloudburst._registry import get_model
from cloudburst._render import adapter_for, endpoint_path, malformed_answer, request_headers, secrets_of
from cloudburst._response import APIResponse
from cloudburst._route import Estimate, Route
from cloudburst._sampling import SamplingParams
from cloudburst._status import StatusTracker
from cloudburst.generated import EMBEDDING_APIS, RERANK_APIS

if TYPE_CHECKING:
    from cloudburst._client import LLMClient

NO_CONVERSATION = Conversation()
_NO_SAMPLING = SamplingParams()
_NO_OPTIONS = RequestOptions()
_TABLES = {"embedding": EMBEDDING_APIS, "rerank": RERANK_APIS}


def direct_adapter(model: ModelInfo) -> tuple[ProviderInfo, ModuleType]:
    """The provider and adapter of an embedding or rerank model."""
    return adapter_for(model, _TABLES.get(model.kind, {}))


def provider_of(model: ModelInfo) -> ProviderInfo:
    return (direct_adapter(model) if model.kind in _TABLES else adapter_for(model))[0]


def model_of_kind(client: LLMClient, name: str | None, kind: str) -> ModelInfo:
    """The client's `kind` model by name, or its only one."""
    mine = [m for m in client.models if m.kind == kind]
    listed = ", ".join(m.id for m in mine) or "none"
    if name is None:
        if len(mine) != 1:
            raise ConfigurationError(
                f"this client has {len(mine)} {kind} models ({listed}); name one with model=, after listing it "
                "in LLMClient(...)"
            )
        return mine[0]
    wanted = get_model(name)
    for model in mine:
        if model.id == wanted.id:
            return model
    raise ConfigurationError(f"{name} is not one of this client's {kind} models ({listed}); list it in LLMClient(...)")


class FixedRoute(Route):
    """A Route to an embeddings or rerank API: what the engine needs to send a body built up
    front (URL, headers, bucket, identity); nothing of a conversation."""

    __slots__ = ()

    def __init__(self, client: LLMClient, model: ModelInfo) -> None:
        provider, adapter = direct_adapter(model)
        self.model, self.provider, self.adapter = model, provider, adapter
        self.sampling, self.options, self.reasoning = _NO_SAMPLING, _NO_OPTIONS, None
        self.key, self.base_url = client._bucket[model.id], client.url_of(model)
        self.method = adapter.METHOD
        self.url = self.base_url + endpoint_path(adapter, model)
        api_key = client._keys[provider.name]
        self.headers = request_headers(provider, _NO_OPTIONS, api_key)
        self.identity = request_identity(model.id, self.url, self.headers, provider.auth.header)
        self.secrets = secrets_of(self.headers, provider.auth.header)
        self.signs = provider.auth.scheme == "sigv4" and api_key is None
        self.region = region_of(self.url, model.region) if self.signs else ""
        self.max_output, self.output_schema, self.check_json = 0, None, False
        self.timeouts, self.stream = client.timeouts.for_output(0), None
        self.stream_url, self.stream_suffix = self.url, b""
        self.ratio = provider.token_ratio or (1.0, 1.0)
        self.uncounted = Need(0, 0)
        names = provider.rate_limit_headers
        self.reads_limits = bool(names.requests_remaining or names.tokens_remaining)

    def sized(self, tokens: int, chars: int, body: bytes, index: int) -> Pending:
        """A request of `tokens` (counted here, scaled) and `chars`, ready for its attempts."""
        return Pending(
            index, None, NO_CONVERSATION, _NO_SAMPLING, _NO_OPTIONS, BodyEstimate(tokens, chars), self.model.id, body
        )


class BodyEstimate(Estimate):
    """A built request's reservation: its tokens as the provider counts them against its limits."""

    __slots__ = ("tokens",)

    def __init__(self, tokens: int, chars: int) -> None:
        self.tokens, self.chars = tokens, chars
        self.plain, self.messages, self.text_tokens, self.extra = True, 1, None, None

    def need(self, route: Route, conversation: Conversation) -> Need:
        per_token = route.provider.rate_limit_chars_per_token
        if per_token is not None:
            return Need(int(self.chars // per_token) + 1, 0, as_counted=True)
        return Need(self.tokens, 0)

    def overflow(self, route: Route, conversation: Conversation) -> int | None:
        return None  # what goes in a request was checked against the model's limits as it was built


class DirectJob(Job):
    """A Job of requests built up front (`pending`), on one route; `answer` reads a success."""

    def __init__(self, client: LLMClient, route: FixedRoute, items: Iterator[Any], tracker: StatusTracker) -> None:
        super().__init__(client, items, tracker, client._make_transport())
        self.fixed = route

    def route(self, model: ModelInfo, pending: Pending) -> Route:
        return self.fixed

    def pick(self, avoid: ModelInfo | None = None) -> ModelInfo:
        return self.fixed.model

    def bigger_than(self, model: ModelInfo) -> ModelInfo | None:
        return None

    async def _cached_model(self, pending: Pending, picked: ModelInfo, cache: Any) -> ModelInfo:
        return picked

    def _read(
        self, route: Route, status: int, headers: Mapping[str, str], content: bytes, pending: Pending | None = None
    ) -> APIResponse:
        provider, model = route.provider, route.model
        data: Any
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError:
            data = content.decode(errors="replace")
        if status >= 400:
            return APIResponse(provider.name, model.id, status=status, error=provider.classify(status, headers, data))
        if not isinstance(data, dict):
            error = InvalidResponseError(f"{provider.title} answered {status} with a body that is not a JSON object")
            return APIResponse(provider.name, model.id, status=status, error=error)
        try:
            return self.answer(data, status, headers, pending)
        except MalformedResponseError as exc:
            error = malformed_answer(provider, status, data, exc)
            return APIResponse(provider.name, model.id, status=status, error=error, raw=data)

    def answer(
        self, data: dict[str, Any], status: int, headers: Mapping[str, str], pending: Pending | None
    ) -> APIResponse:
        raise NotImplementedError


async def completions(client: LLMClient, job: DirectJob) -> AsyncIterator[Completed]:
    """The job's requests' results as they are final, the transport closed after."""
    client.tracker = job.tracker
    job.tracker.limiting_factor_source = client.limiter.limiting_factor
    job.tracker.buckets_source = client.limiter.states
    with fewer_collections():
        try:
            async for completed in job.results(open_display(client.progress, job.tracker)):
                yield completed
        finally:
            await job.files.finish()
            if client._own_transport:
                await job.transport.aclose()
