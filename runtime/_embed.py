"""Embedding jobs: texts packed into requests up to the provider's limits, run by the same engine
as prompts (`Job`: limiter, retries, progress, tracker, cache), and spread back per text.

A pack is one request: as many texts as the API takes (`MAX_TEXTS`) whose counted tokens fit
its per-request limit (`MAX_TOKENS`). Texts are read as packs are pulled, so a generator over a
huge file stays a generator. A text that cannot be sent (empty, not a string, over the model's
token limit and not to be truncated) gets its own typed error and travels with the next pack.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import orjson

from cloudburst._cache import request_identity
from cloudburst._conversation import Conversation
from cloudburst._embedding import Embedding, EmbeddingOptions
from cloudburst._errors import ConfigurationError, ContextOverflowError, InputError, InvalidResponseError
from cloudburst._gc import fewer_collections
from cloudburst._job import Job, Pending
from cloudburst._limiter import Need
from cloudburst._models import ModelInfo
from cloudburst._options import RequestOptions
from cloudburst._progress import open_display
from cloudburst._prompt import Completed
from cloudburst._providers import ProviderInfo
from cloudburst._registry import get_model
from cloudburst._render import request_headers
from cloudburst._response import APIResponse, Usage
from cloudburst._route import Estimate, Route
from cloudburst._sampling import SamplingParams
from cloudburst._status import StatusTracker
from cloudburst._tokens import encoding
from cloudburst.generated import EMBEDDING_APIS, PROVIDERS

if TYPE_CHECKING:
    from cloudburst._client import LLMClient
    from cloudburst._embedding import Vectors

_NO_CONVERSATION = Conversation()
_NO_SAMPLING = SamplingParams()
_NO_OPTIONS = RequestOptions()


def embedder_for(model: ModelInfo) -> tuple[ProviderInfo, ModuleType]:
    adapter = EMBEDDING_APIS.get((model.provider, model.api))
    if adapter is None:
        raise ConfigurationError(
            f"{model.id} is a {model.kind} model of {model.provider}'s {model.api!r} API, which has no embeddings "
            f"adapter; available: {', '.join(f'{p}/{a}' for p, a in sorted(EMBEDDING_APIS))}"
        )
    return PROVIDERS[model.provider], adapter


@dataclass(slots=True)
class Pack:
    """The texts of one request, by their input indices, with their counted tokens; and the
    texts before them that are not sent (their results travel with this pack)."""

    indices: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    refused: list[Embedding] = field(default_factory=list)


def packs(
    texts: Iterable[object],
    model: ModelInfo,
    adapter: ModuleType,
    ratio: tuple[float, float],
    options: EmbeddingOptions,
) -> Iterator[Pack]:
    """The texts in packs, lazily. Sizes are reference tokens scaled by the provider's high ratio,
    so a pack never passes the request's limit; the low ratio decides that a text surely
    passes the model's (exact where the provider tokenizes as cloudburst counts)."""
    limit, max_texts, max_tokens = model.context_window, adapter.MAX_TEXTS, adapter.MAX_TOKENS
    client_cut = adapter.CLIENT_TRUNCATION
    low, high = (1.0, 1.0) if client_cut else ratio
    server_cuts = adapter.SERVER_TRUNCATION and options.truncation != "none"
    tokenizer = encoding()
    pack, size = Pack(), 0
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text:
            what = "empty" if text == "" else f"a {type(text).__name__}, not a string"
            pack.refused.append(Embedding(index, model.id, error=InputError(f"text {index} is {what}; not sent")))
            continue
        tokens = tokenizer.encode(text, disallowed_special=())
        count = len(tokens)
        if math.floor(count * low) > limit:
            if client_cut and options.truncation in ("start", "end"):
                kept = tokens[:limit] if options.truncation == "end" else tokens[-limit:]
                text, count = tokenizer.decode(kept), limit
            elif not server_cuts:
                error = ContextOverflowError(
                    f"text {index} has {count:,} tokens, over {model.id}'s limit of {limit:,}; not sent "
                    "(EmbeddingOptions(truncation='end') cuts it)"
                )
                pack.refused.append(Embedding(index, model.id, error=error))
                continue
        need = min(math.ceil(count * high), limit) if server_cuts else math.ceil(count * high)
        if pack.texts and (len(pack.texts) >= max_texts or (max_tokens is not None and size + need > max_tokens)):
            yield pack
            pack, size = Pack(), 0
        pack.indices.append(index)
        pack.texts.append(text)
        pack.tokens.append(need)
        size += need
    if pack.texts or pack.refused:
        yield pack


class EmbedRoute(Route):
    """A Route to an embeddings API: what the engine needs to send a pack (URL, headers, bucket,
    identity); bodies are built per pack, from the texts, not from a conversation."""

    __slots__ = ("embed_options",)

    def __init__(
        self, model: ModelInfo, options: EmbeddingOptions, *, key: str, base_url: str, api_key: str | None
    ) -> None:
        provider, adapter = embedder_for(model)
        adapter.check(options)
        self.model, self.provider, self.adapter, self.embed_options = model, provider, adapter, options
        self.sampling, self.options, self.reasoning = _NO_SAMPLING, _NO_OPTIONS, None
        self.key, self.base_url = key, base_url
        self.method = adapter.METHOD
        self.url = base_url + str(adapter.PATH).replace("{model}", model.name)
        self.headers = request_headers(provider, _NO_OPTIONS, api_key)
        self.identity = request_identity(model.id, self.url, self.headers, provider.auth.header)
        self.signs = provider.auth.scheme == "sigv4" and api_key is None
        self.max_output, self.output_schema, self.check_json = 0, None, False
        self.ratio = provider.token_ratio or (1.0, 1.0)
        self.uncounted = Need(0, 0)
        names = provider.rate_limit_headers
        self.reads_limits = bool(names.requests_remaining or names.tokens_remaining)

    def pack_body(self, texts: list[str]) -> bytes:
        return orjson.dumps(self.adapter.build_body(self.model.name, texts, self.embed_options))


class _PackEstimate(Estimate):
    """A pack's reservation: its texts' tokens as the provider counts them against its limits."""

    __slots__ = ("tokens",)

    def __init__(self, pack: Pack) -> None:
        self.tokens = sum(pack.tokens)
        self.chars = sum(len(text) for text in pack.texts)
        self.plain, self.messages, self.text_tokens, self.extra = True, 1, None, None

    def need(self, route: Route, conversation: Conversation) -> Need:
        per_token = route.provider.rate_limit_chars_per_token
        if per_token is not None:
            return Need(int(self.chars // per_token) + 1, 0, as_counted=True)
        return Need(self.tokens, 0)

    def overflow(self, route: Route, conversation: Conversation) -> int | None:
        return None  # each text was checked against the model's limit when packed


@dataclass(slots=True)
class PackResponse(APIResponse):
    """A pack's answer: the vectors, beside what every answer has (usage, cost, error)."""

    vectors: Vectors | None = None


class EmbedJob(Job):
    """A Job whose prompts are packs, on one embeddings route."""

    def __init__(self, client: LLMClient, route: EmbedRoute, items: Iterator[Pack], tracker: StatusTracker) -> None:
        super().__init__(client, items, tracker, client._make_transport())  # type: ignore[arg-type]
        self.embed_route = route
        self.packs: dict[int, Pack] = {}

    def pending(self, index: int, item: Any) -> Pending | Completed:
        pack: Pack = item
        self.packs[index] = pack
        route = self.embed_route
        if not pack.texts:
            return Completed(index, None, APIResponse(route.provider.name, route.model.id, error=pack.refused[0].error))
        body = route.pack_body(pack.texts)
        return Pending(
            index, None, _NO_CONVERSATION, _NO_SAMPLING, _NO_OPTIONS, _PackEstimate(pack), route.model.id, body
        )

    def route(self, model: ModelInfo, pending: Pending) -> Route:
        return self.embed_route

    def pick(self, avoid: ModelInfo | None = None) -> ModelInfo:
        return self.embed_route.model

    def bigger_than(self, model: ModelInfo) -> ModelInfo | None:
        return None

    async def _cached_model(self, pending: Pending, picked: ModelInfo, cache: Any) -> ModelInfo:
        return picked

    def _read(
        self, route: Route, status: int, headers: Mapping[str, str], content: bytes, pending: Pending | None = None
    ) -> APIResponse:
        """The pack's vectors; where the answer reports no usage (Gemini's API may not), the
        tokens counted here for it stand in, so cost and the token limit still count them."""
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
        vectors = self.embed_route.adapter.parse_body(data)
        counted = pending.estimate.tokens if pending is not None and isinstance(pending.estimate, _PackEstimate) else 0
        usage = Usage(input_tokens=vectors.input_tokens or counted)
        return PackResponse(
            provider.name, model.id, status=status, usage=usage, cost=model.cost(usage), vectors=vectors
        )

    def spread(self, completed: Completed) -> list[Embedding]:
        """The results of a finished pack's texts (and of the refused texts it carried)."""
        pack = self.packs.pop(completed.index)
        response, model = completed.response, self.embed_route.model.id
        results = list(pack.refused)
        if not pack.texts:
            return results
        asked = self.embed_route.embed_options.output_types or ("float",)
        vectors = response.vectors if isinstance(response, PackResponse) else None
        error = response.error
        found = {kind: (vectors.by_type.get(kind) if vectors else None) for kind in asked}
        if error is None and any(v is None or len(v) != len(pack.texts) for v in found.values()):
            counts = {kind: None if v is None else len(v) for kind, v in found.items()}
            error = InvalidResponseError(f"{len(pack.texts)} texts sent, vectors back by type: {counts}")
        if error is not None:
            results += [Embedding(i, model, error=error, attempts=response.attempts) for i in pack.indices]
            return results
        shares = _shares(response.usage.input_tokens, pack.tokens)
        info = self.embed_route.model
        for k, (index, share) in enumerate(zip(pack.indices, shares, strict=True)):
            each: dict[str, Any] = {kind: found[kind][k] for kind in asked}  # type: ignore[index]
            usage = Usage(input_tokens=share)
            results.append(
                Embedding(index, model, each.get("float"), each, usage, info.cost(usage), attempts=response.attempts)
            )
        return results


def _shares(total: int, sizes: list[int]) -> list[int]:
    """`total` split in proportion to `sizes`, in whole tokens that add up to it exactly."""
    whole = sum(sizes) or 1
    exact = [total * size / whole for size in sizes]
    shares = [math.floor(x) for x in exact]
    for k in sorted(range(len(sizes)), key=lambda k: shares[k] - exact[k])[: total - sum(shares)]:
        shares[k] += 1
    return shares


def embedding_model(client: LLMClient, name: str | None) -> ModelInfo:
    """The client's embedding model by name, or its only one."""
    mine = [m for m in client.models if m.kind == "embedding"]
    if name is None:
        if len(mine) != 1:
            raise ConfigurationError(
                f"this client has {len(mine)} embedding models ({', '.join(m.id for m in mine) or 'none'}); "
                "name one with model=, after listing it in LLMClient(...)"
            )
        return mine[0]
    wanted = get_model(name)
    for model in mine:
        if model.id == wanted.id:
            return model
    raise ConfigurationError(
        f"{name} is not one of this client's embedding models ({', '.join(m.id for m in mine) or 'none'}); "
        "list it in LLMClient(...)"
    )


async def embed_as_completed(
    client: LLMClient, texts: Iterable[object], model: str | None, options: EmbeddingOptions | None
) -> AsyncIterator[Embedding]:
    """Each text's result as soon as its request is final (`Embedding.index` says which)."""
    info = embedding_model(client, model)
    provider, _ = embedder_for(info)
    route = EmbedRoute(
        info,
        options or EmbeddingOptions(),
        key=client._bucket[info.id],
        base_url=client.url_of(info),
        api_key=client._keys[provider.name],
    )
    items = packs(texts, info, route.adapter, route.ratio, route.embed_options)
    total = None
    if isinstance(texts, Sized):
        listed = list(items)
        items, total = iter(listed), len(listed)
    client.tracker = tracker = StatusTracker(total)
    tracker.limiting_factor_source = client.limiter.limiting_factor
    job = EmbedJob(client, route, items, tracker)
    with fewer_collections():
        try:
            async for completed in job.results(open_display(client.progress, tracker)):
                for embedding in job.spread(completed):
                    yield embedding
        finally:
            await job.files.finish()
            if client._own_transport:
                await job.transport.aclose()


async def embed_all(
    client: LLMClient, texts: Iterable[object], model: str | None, options: EmbeddingOptions | None
) -> list[Embedding]:
    """Every text's result, in input order."""
    results: list[Embedding | None] = [None] * len(texts) if isinstance(texts, Sized) else []
    async for embedding in embed_as_completed(client, texts, model, options):
        if embedding.index >= len(results):
            results.extend([None] * (embedding.index + 1 - len(results)))
        results[embedding.index] = embedding
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        raise RuntimeError(f"cloudburst lost the results of texts {missing[:10]}")
    return results  # type: ignore[return-value]
