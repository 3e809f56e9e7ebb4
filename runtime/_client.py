"""LLMClient: hand it prompts and limits; it uses the whole limit, never more, retries what
deserves a retry, shows where it stands, and returns every result.

    client = LLMClient(["gpt-4.1-mini", "claude-haiku-4-5"], weights=[0.7, 0.3],
                       limits=RateLimits(rpm=5_000, tpm=2_000_000, max_concurrency=500))
    results = client.run(prompts)                  # list[APIResponse], in input order
    async for done in client.as_completed(prompts):  # Completed(index, id, response)

Everything a request needs is resolved here once: models, API keys (a missing one is a
ConfigurationError before anything is sent), base URLs, limits per bucket, and each distinct
(model, sampling, options) combination checked once (`Route`).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import math
import os
import random
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence, Sized
from pathlib import Path
from typing import TYPE_CHECKING

from cloudburst._cache import CacheSpec, open_cache
from cloudburst._config import FileUploadStrategy, LimitsSpec, RateLimits, RetryPolicy, Timeouts, default_file_uploads
from cloudburst._constants import DEFAULT_MAX_CONCURRENCY, MAX_RESPONSE_BYTES, SPARE_WORKERS
from cloudburst._conversation import Image
from cloudburst._deltas import ResponseStream
from cloudburst._direct import model_of_kind, provider_of
from cloudburst._embed import embed_all, embed_as_completed
from cloudburst._embedding import Embedding, EmbeddingOptions
from cloudburst._errors import ConfigurationError, InputError
from cloudburst._files import FileUploads
from cloudburst._gc import fewer_collections
from cloudburst._job import Job
from cloudburst._journal import JobJournal, JournalLike
from cloudburst._limiter import InProcessLimiter, Limiter
from cloudburst._models import ModelInfo
from cloudburst._options import RequestOptions
from cloudburst._progress import Display, ProgressKind, check_progress, open_display
from cloudburst._prompt import Completed, PromptLike, Prompts
from cloudburst._providers import Auth
from cloudburst._registry import get_model
from cloudburst._render import base_url as default_base_url
from cloudburst._render import check_provider_options
from cloudburst._rerank import Reranking, rerank
from cloudburst._response import APIResponse
from cloudburst._route import Route, StreamPolicy
from cloudburst._sampling import SamplingParams
from cloudburst._status import StatusTracker
from cloudburst._sync import run_sync
from cloudburst._transport import AiohttpTransport, HttpxTransport, Transport

if TYPE_CHECKING:
    import httpx

    from cloudburst._batch import BatchJob

ROUTE_CACHE_SIZE = 4096
"""Distinct (model, sampling, options) combinations remembered; per-prompt settings that are
all different (rare) are checked again after this many."""


class LLMClient:
    """Runs prompts on one or more models as fast as their limits allow. Build it once; each
    `run` / `run_async` / `as_completed` call is one job sharing the client's buckets.

    models, weights   the models, and the share of first attempts each gets (weight 0: only
                      retries, a fallback)
    sampling, options built once, passed whole to every request; a Prompt may carry its own
    limits            RateLimits for every model, or by model / provider / "default"
    retry, timeouts   RetryPolicy and Timeouts; defaults in `_constants.py`
    progress          "rich", "tqdm" or None (the summary then goes to the `cloudburst` logger)
    transport         a Transport, or an `httpx.AsyncClient` of the caller's; aiohttp by default
    limiter           a Limiter shared by jobs (and, some day, processes); in-process by default
    cache             a response cache: a SQLite file's path, or a `Cache`; a hit costs nothing
    dedup             identical requests in flight at once share one call; on with a cache
    file_uploads      a FileUploadStrategy: files inline or uploaded once, per provider
    stream            "auto", True or False: whether requests stream (see `_route.streaming`)
    max_response_bytes  an answer bigger than this is cut off (ResponseTooLargeError)
    """

    def __init__(
        self,
        models: str | Sequence[str],
        *,
        weights: Sequence[float] | None = None,
        sampling: SamplingParams | None = None,
        options: RequestOptions | None = None,
        limits: LimitsSpec = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        progress: ProgressKind = "rich",
        transport: Transport | httpx.AsyncClient | None = None,
        limiter: Limiter | None = None,
        api_keys: Mapping[str, str] | None = None,
        base_urls: Mapping[str, str] | None = None,
        seed: int | None = None,
        cache: CacheSpec = None,
        dedup: bool | None = None,
        file_uploads: FileUploadStrategy | None = None,
        stream: StreamPolicy = "auto",
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        """`api_keys` and `base_urls` are by provider name (`base_urls` also by model id); by
        default keys come from each provider's environment variable and URLs from the model,
        the provider's URL variable, or its public address. `seed` fixes model choice and
        backoff jitter, for reproducible tests. Every setting is checked against every model
        here, as any of them may get any prompt (first or on a retry): a ConfigurationError
        names the model and setting before anything is sent.

        With `cache`, an identical request (same model, rendered body and answer-shaping
        headers; see `_cache`) is answered from it, before the limiter: no capacity, cost 0,
        `cached=True`. `dedup` is off without a cache by default: the same prompt sent many
        times may be meant to sample many answers.

        `file_uploads` places files given by their bytes (inline or uploaded once and named by
        id); default: the process-wide one (`cloudburst.configure`), else FileUploadStrategy()."""
        names = [models] if isinstance(models, str) else list(models)
        if not names:
            raise ConfigurationError("LLMClient needs at least one model")
        self.models: list[ModelInfo] = [get_model(name) for name in names]
        if len({m.id for m in self.models}) != len(self.models):
            raise ConfigurationError(f"a model is listed twice: {names}")
        self.weights = _weights(weights, len(self.models))
        self._cumulative = list(itertools.accumulate(self.weights))
        self.sampling = sampling or SamplingParams()
        self.options = options or RequestOptions()
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        if stream not in ("auto", True, False):
            raise ConfigurationError(f'LLMClient(stream=) takes "auto", True or False, got {stream!r}')
        self.stream_policy: StreamPolicy = stream
        if max_response_bytes < 1:
            raise ConfigurationError(f"LLMClient(max_response_bytes=) must be positive, got {max_response_bytes}")
        self.max_response_bytes = max_response_bytes
        check_progress(progress)
        self.progress: ProgressKind = progress
        self.rng = random.Random(seed)
        self.limiter: Limiter = limiter or InProcessLimiter()
        self.tracker = StatusTracker()
        """The current (or last) job's status."""

        self._keys: dict[str, str | None] = {}
        self._urls: dict[str, str] = {}
        self._bucket: dict[str, str] = {}
        total_concurrency = 0
        for model in self.models:
            provider = provider_of(model)
            if provider.name not in self._keys:
                self._keys[provider.name] = _api_key(provider.name, provider.auth, api_keys)
            url = (base_urls or {}).get(model.id) or (base_urls or {}).get(provider.name)
            self._urls[model.id] = (url or default_base_url(provider, model)).rstrip("/")
            key = f"{provider.name}/{model.id}"
            self._bucket[model.id] = key
            model_limits = limits_for(model, limits, self.models)
            self.limiter.configure(key, model_limits)
            total_concurrency += model_limits.max_concurrency or DEFAULT_MAX_CONCURRENCY
        self.shares = {
            self._bucket[model.id]: weight / self._cumulative[-1]
            for model, weight in zip(self.models, self.weights, strict=True)
        }
        """Each bucket's share of first attempts, for the ETA."""
        self.pending_limit = total_concurrency + max(2, math.ceil(total_concurrency * SPARE_WORKERS))
        """Prompts live at once in a job (in flight, waiting for capacity, or backing off)."""
        self._own_transport = transport is None
        self._transport_arg = transport
        self._total_concurrency = total_concurrency
        self._routes: dict[tuple[str, int, int], tuple[Route, SamplingParams, RequestOptions]] = {}
        chat = [model for model in self.models if model.kind == "chat"]
        for model in chat:
            self.route(model, self.sampling, self.options)
        if chat:
            check_provider_options(chat, self.options)
        self.cache = open_cache(cache)
        self.files = FileUploads(
            file_uploads or default_file_uploads(), self.limiter, self.retry, self.timeouts.for_output(0), self.rng
        )
        self.dedup = dedup if dedup is not None else self.cache is not None

    def _make_transport(self) -> Transport:
        """The job's transport: the caller's, or a fresh default one (its sessions belong to the
        job's event loop, and are closed with the job)."""
        given = self._transport_arg
        if given is None:
            return AiohttpTransport(self._total_concurrency, self.timeouts, self.max_response_bytes)
        if _is_httpx_client(given):
            return HttpxTransport(given, self.max_response_bytes)  # type: ignore[arg-type]
        return given  # type: ignore[return-value]

    # what the job asks of the client ----------------------------------------------------------
    def route(self, model: ModelInfo, sampling: SamplingParams, options: RequestOptions) -> Route:
        """The checked route for this combination; checked on first use only."""
        cache_key = (model.id, id(sampling), id(options))
        cached = self._routes.get(cache_key)
        if cached is not None:
            return cached[0]
        if len(self._routes) >= ROUTE_CACHE_SIZE:
            self._routes.clear()
        route = Route(
            model,
            sampling,
            options,
            key=self._bucket[model.id],
            base_url=self._urls[model.id],
            api_key=self._keys[model.provider],
            timeouts=self.timeouts,
            stream=self.stream_policy,
        )
        self._routes[cache_key] = (route, sampling, options)  # keeps the ids alive and unique
        return route

    def pick(self, avoid: ModelInfo | None = None) -> ModelInfo:
        """A model by weight; with `avoid`, another one when there is one. A model of weight 0
        gets no first attempts, only retries: a fallback."""
        models = self.models
        if len(models) == 1:
            return models[0]
        if avoid is None:
            return models[bisect.bisect(self._cumulative, self.rng.random() * self._cumulative[-1])]
        others = [(m, w) for m, w in zip(models, self.weights, strict=True) if m.id != avoid.id]
        if any(w > 0 for _, w in others):
            return self.rng.choices([m for m, _ in others], [w for _, w in others])[0]
        return self.rng.choice([m for m, _ in others])  # weight 0 everywhere else: fallbacks

    def bigger_than(self, model: ModelInfo) -> ModelInfo | None:
        """The client's model with the next bigger context window, if any."""
        bigger = [m for m in self.models if m.context_window > model.context_window]
        return min(bigger, key=lambda m: m.context_window) if bigger else None

    # running jobs ------------------------------------------------------------------------------
    async def as_completed(
        self, prompts: Prompts, *, total: int | None = None, journal: JournalLike | None = None
    ) -> AsyncIterator[Completed]:
        """Each prompt's final result as soon as it is final. `prompts` may be an iterable or an
        async iterable (read as capacity frees up); `total` sizes the progress bar when it has
        no len() (a generator over a file, say).

        Breaking out of the loop stops the job: the generator is closed at once (CPython frees
        it when the loop ends; `contextlib.aclosing` makes that explicit), the requests in flight
        are cancelled, the connections closed, and the summary counts them as stopped.

        `journal` (a path, or a `Journal`) records each result the moment it is final; run the
        same prompts with the same journal again and the prompts it holds are not sent: their
        results come back as they are pulled, in input order among the new ones
        (`Completed.restored`). A prompt changed since its result was journaled is a
        JournalMismatchError, before anything is sent when `prompts` can be read twice (a list,
        a file reader; a one-shot generator is checked as it is pulled)."""
        job, display = self._job(prompts, total, journal)
        with fewer_collections():
            try:
                async with contextlib.aclosing(job.results(display)) as results:
                    async for done in results:
                        yield done
            finally:  # reached on an early break too: the workers stopped first, then the sockets
                await self._close(job)

    async def run_async(
        self, prompts: Prompts, *, total: int | None = None, journal: JournalLike | None = None
    ) -> list[APIResponse]:
        """Every prompt's result, in input order; with a `journal`, see `as_completed`."""
        results: list[APIResponse | None] = [None] * len(prompts) if isinstance(prompts, Sized) else []
        job, display = self._job(prompts, total, journal)
        with fewer_collections():
            try:
                await job.collect(display, results)
            finally:
                await self._close(job)
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:  # a broken invariant, not a provider failure: say so loudly
            raise RuntimeError(f"cloudburst lost the results of prompts {missing[:10]}")
        return results  # type: ignore[return-value]

    def _job(self, prompts: Prompts, total: int | None, journal: JournalLike | None) -> tuple[Job, Display]:
        others = [f"{model.id} ({model.kind})" for model in self.models if model.kind != "chat"]
        if others:
            raise ConfigurationError(
                f"{', '.join(others)} take no prompts: use embed() or rerank(), or a client without them"
            )
        if total is None and isinstance(prompts, Sized):
            total = len(prompts)
        job_journal = None if journal is None else JobJournal.open(journal, self)
        self.tracker = tracker = StatusTracker(total)
        tracker.limiting_factor_source = self.limiter.limiting_factor
        tracker.buckets_source = self.limiter.states
        tracker.shares = self.shares
        job = Job(self, prompts, tracker, self._make_transport(), job_journal)
        if (
            job_journal is not None
            and job_journal.resuming
            and isinstance(prompts, Iterable)
            and iter(prompts) is not prompts
        ):
            try:
                job_journal.check(job, prompts)
            except BaseException:
                job_journal.finish()
                raise
        return job, open_display(self.progress, tracker)

    async def _close(self, job: Job) -> None:
        try:
            await job.files.finish()
            if self._own_transport:
                await job.transport.aclose()
        finally:
            if job.journal is not None:
                job.journal.finish()

    def stream(self, prompt: PromptLike) -> ResponseStream:
        """One prompt's answer as it arrives: `async for delta in client.stream(prompt)` gives
        TextDelta, ThinkingDelta and ToolCallDelta objects (a Restart when a broken attempt is
        retried), streamed whatever the client's `stream` policy; the stream's `response` is the
        whole APIResponse once the loop ended."""
        return ResponseStream(self, prompt)

    def run(
        self, prompts: Iterable[PromptLike], *, total: int | None = None, journal: JournalLike | None = None
    ) -> list[APIResponse]:
        """`run_async`, from synchronous code; inside a running event loop (Jupyter) the job runs
        in a worker thread with its own loop."""
        return run_sync(self.run_async(prompts, total=total, journal=journal))

    # embeddings --------------------------------------------------------------------------------
    def embed(
        self,
        texts: Iterable[str | Image | InputError],
        *,
        model: str | None = None,
        options: EmbeddingOptions | None = None,
        as_numpy: bool = False,
    ) -> list[Embedding]:
        """Each text's Embedding, in input order: texts packed many to a request up to the
        provider's limits, under the same limits, retries and progress as prompts. A text that
        cannot be sent (empty, over the model's limit) is its own typed error; so is an
        InputError in a text's place (a reader's verdict on a bad line). An Image in a text's
        place is embedded where the model embeds images (Cohere embed-v4, gemini-embedding-2),
        and is an InputError on its result elsewhere. `model` is one of the client's embedding
        models (may be left out when it has one); an option the provider has no place for is
        an UnsupportedOptionError before anything is sent. `as_numpy` makes
        each vector a numpy array (float32; `numpy.stack` of them is the job's 2-D array),
        numpy being the caller's to install."""
        return run_sync(self.embed_async(texts, model=model, options=options, as_numpy=as_numpy))

    async def embed_async(
        self,
        texts: Iterable[str | Image | InputError],
        *,
        model: str | None = None,
        options: EmbeddingOptions | None = None,
        as_numpy: bool = False,
    ) -> list[Embedding]:
        return await embed_all(self, texts, model, options, as_numpy)

    async def embed_as_completed(
        self,
        texts: Iterable[str | Image | InputError],
        *,
        model: str | None = None,
        options: EmbeddingOptions | None = None,
        total: int | None = None,
        as_numpy: bool = False,
    ) -> AsyncIterator[Embedding]:
        """Each text's Embedding once its request is final (`index` says which text): a generator
        of texts is read as capacity frees up, so memory stays flat however many there are.
        `total` sizes the progress bar when `texts` has no len()."""
        async for embedding in embed_as_completed(self, texts, model, options, total, as_numpy):
            yield embedding

    def rerank(
        self, query: str, documents: Sequence[str], *, model: str | None = None, top_n: int | None = None
    ) -> Reranking:
        """`documents` ranked by relevance to `query`, best first (the `top_n` best): indices
        into `documents` with scores, and the cost of the searches billed. `model` is one of
        the client's rerank models (may be left out when it has one)."""
        return run_sync(self.rerank_async(query, documents, model=model, top_n=top_n))

    async def rerank_async(
        self, query: str, documents: Sequence[str], *, model: str | None = None, top_n: int | None = None
    ) -> Reranking:
        return await rerank(self, query, documents, model, top_n)

    # batch jobs --------------------------------------------------------------------------------
    def submit_batch(
        self,
        prompts: Iterable[PromptLike],
        *,
        model: str | None = None,
        directory: str | os.PathLike[str] | None = None,
        part_requests: int | None = None,
    ) -> BatchJob:
        """The prompts as a job on `model`'s batch API (OpenAI, Anthropic, Gemini): half the
        price, no per-minute limit, results within the provider's window (24 h). Every prompt is
        rendered and checked first (one that cannot be sent is its own typed result), split into
        parts by the provider's limits, written to `directory` (default: the batch home, see
        `BatchJob.load`), and then submitted. `model` may be left out when the client has one;
        `part_requests` makes parts smaller than the provider's limit (the first results come
        sooner)."""
        job = self.prepare_batch(prompts, model=model, directory=directory, part_requests=part_requests)
        job.submit()
        return job

    async def submit_batch_async(
        self,
        prompts: Iterable[PromptLike],
        *,
        model: str | None = None,
        directory: str | os.PathLike[str] | None = None,
        part_requests: int | None = None,
    ) -> BatchJob:
        job = await asyncio.to_thread(
            self.prepare_batch, prompts, model=model, directory=directory, part_requests=part_requests
        )
        await job.submit_async()
        return job

    def prepare_batch(
        self,
        prompts: Iterable[PromptLike],
        *,
        model: str | None = None,
        directory: str | os.PathLike[str] | None = None,
        part_requests: int | None = None,
    ) -> BatchJob:
        """`submit_batch` up to the point of sending: the job on disk, nothing submitted."""
        from cloudburst._batch import BatchJob

        where = None if directory is None else Path(directory)
        return BatchJob.render(self, prompts, model_of_kind(self, model, "chat"), where, part_requests)

    def url_of(self, model: ModelInfo) -> str:
        """The base URL requests to `model` go to."""
        return self._urls[model.id]


def limits_for(model: ModelInfo, limits: LimitsSpec, models: Sequence[ModelInfo]) -> RateLimits:
    """The RateLimits of `model`'s bucket: the most specific entry (model, provider, "default"),
    else the registry's published tier, else only the default concurrency."""
    if isinstance(limits, RateLimits):
        return limits
    if limits:
        known = {"default"} | {name for m in models for name in (m.id, *m.aliases, m.provider)}
        unknown = sorted(set(limits) - known)
        if unknown:
            raise ConfigurationError(
                f"limits names {unknown}, which is none of this client's models or providers (or 'default')"
            )
        for name in (model.id, *model.aliases, model.provider, "default"):
            if name in limits:
                return limits[name]
    tier = model.rate_limits
    if tier is not None:
        return RateLimits(rpm=tier.rpm, tpm=tier.tpm, input_tpm=tier.input_tpm, output_tpm=tier.output_tpm)
    return RateLimits()


def _weights(weights: Sequence[float] | None, count: int) -> list[float]:
    if weights is None:
        return [1.0] * count
    if len(weights) != count:
        raise ConfigurationError(f"{len(weights)} weights for {count} models")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ConfigurationError(f"weights must be non-negative and not all zero, got {list(weights)}")
    return [float(w) for w in weights]


def _api_key(provider: str, auth: Auth, given: Mapping[str, str] | None) -> str | None:
    if given and provider in given:
        return _clean(given[provider], f"api_keys[{provider!r}]")
    if auth.scheme == "none":
        return None
    key, env = auth.key_from_env()
    key = _clean(key, env or "")
    if not key and auth.scheme == "sigv4":
        from cloudburst._aws import check_credentials

        check_credentials()  # no key: requests are signed with AWS credentials, which must exist
        return None
    if not key:
        where = f"set {' or '.join(auth.names)} or pass " if auth.names else "pass "
        raise ConfigurationError(f"no API key for {provider}: {where}api_keys={{{provider!r}: ...}}")
    return key


def _clean(key: str | None, where: str) -> str | None:
    """A key as given; one with spaces or a line break around or in it (a copied `.env` line)
    would fail in a header on every request, so it fails here, naming where it came from."""
    if key and (key != key.strip() or any(c in key for c in " \t\r\n")):
        raise ConfigurationError(f"the API key in {where} has spaces or a line break in it; remove them")
    return key


def _is_httpx_client(value: object) -> bool:
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a dependency
        return False
    return isinstance(value, httpx.AsyncClient)
