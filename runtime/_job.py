"""One job: pull prompts as capacity frees up, run each through its attempts, hand back results.

A fixed pool of workers (one per concurrency slot, plus `SPARE_WORKERS`) each pulls a prompt only
when it is free, so a generator over a huge file is read as fast as the limits allow and no
faster, and the number of tasks is bounded whatever the input size, never a task per input.
Every pulled prompt ends in exactly one Completed, with a response or a typed error. Input
that cannot become a request (an `InvalidPrompt` from a reader, a setting one of the models
refuses, something that is not a prompt at all) ends at once in an `InputError` result: nothing
is sent for it and the job goes on. Only a bug inside cloudburst stops the pulling; the live
prompts finish and it is raised after their results.

With a cache or dedup (`_cache.Shared`), an attempt first asks for the answer of an identical
request — stored, or in flight — before it takes any capacity from the limiter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from cloudburst._cache import Outcome, Shared, request_key
from cloudburst._capabilities import check_request
from cloudburst._constants import INLINE_OFF_LOOP_BYTES, PROGRESS_REFRESH_SECONDS
from cloudburst._conversation import Conversation
from cloudburst._errors import (
    CloudburstError,
    ConfigurationError,
    ContextOverflowError,
    InputError,
    ProviderError,
    StreamInterruptedError,
)
from cloudburst._files import check_files, file_parts
from cloudburst._headers import read_limits
from cloudburst._limiter import RequestTooLargeError
from cloudburst._progress import Display
from cloudburst._prompt import Completed, InvalidPrompt, Prompt, PromptLike, Prompts
from cloudburst._render import check_provider_options, parse, redact
from cloudburst._response import APIResponse, Usage
from cloudburst._retry import FINAL, decide, invalid_json
from cloudburst._route import Estimate, Route
from cloudburst._sampling import SamplingParams
from cloudburst._status import StatusTracker
from cloudburst._stream.fold import Watched

if TYPE_CHECKING:
    from cloudburst._cache import Cache
    from cloudburst._client import LLMClient
    from cloudburst._journal import JobJournal
    from cloudburst._models import ModelInfo
    from cloudburst._options import RequestOptions
    from cloudburst._stream import Decoder, StreamSource
    from cloudburst._stream.fold import Fold
    from cloudburst._transport import Transport

log = logging.getLogger("cloudburst")
_END = object()
_PACING_KINDS = frozenset({"rate_limited", "overloaded"})
"""Error kinds the limiter hears of: a 429 cools and tightens the bucket, an overload narrows it."""
_NOTHING = Usage()
"""Stands for "no failed attempts" until there is one; never changed."""


@dataclass(slots=True)
class Pending:
    """A prompt between being pulled and its final result."""

    index: int
    id: str | None
    conversation: Conversation
    sampling: SamplingParams
    options: RequestOptions
    estimate: Estimate
    body_model: str | None = None
    body: bytes = b""
    files: bool = False
    """Whether it carries files by their bytes, to be placed (inline or uploaded) per provider."""
    files_placed: bool = False
    """Whether `body` has them placed (the journal's and the cache's bodies have them inline)."""
    request_hash: bytes = b""
    """With a journal: what identifies the request there."""


def prepare(client: LLMClient, index: int, item: PromptLike, models: Iterable[ModelInfo]) -> Pending | Completed:
    """The prompt, ready for its attempts on any of `models`; or, when it cannot become a
    request, its final result (an InputError: nothing sent)."""
    text = None
    if isinstance(item, str):
        text, conversation = item, Conversation.of(item)
        sampling, options, prompt_id = client.sampling, client.options, None
    elif isinstance(item, Prompt):
        conversation = Conversation.of(item.content)
        sampling, options, prompt_id = item.sampling or client.sampling, item.options or client.options, item.id
        text = item.content if isinstance(item.content, str) else None
    elif isinstance(item, Conversation):
        conversation = item
        sampling, options, prompt_id = client.sampling, client.options, None
    elif isinstance(item, InvalidPrompt):
        return refused(index, item.id, item.error)
    else:
        message = f"prompt {index} is a {type(item).__name__}; expected str, Conversation or Prompt"
        return refused(index, None, InputError(message))
    estimate = Estimate(conversation, text)
    files = not estimate.plain and bool(file_parts(conversation))
    if sampling is not client.sampling or options is not client.options or not estimate.plain:
        try:
            for model in models:  # any model may get a retry: all must take the prompt
                route = client.route(model, sampling, options)  # checked once per combination
                if not estimate.plain:
                    check_request(model, conversation, sampling, options)
                if files:
                    check_files(route, conversation, client.files.strategy)
            if options is not client.options:
                check_provider_options(client.models, options)
        except ConfigurationError as exc:
            where = f"prompt {index}" + (f" (id {prompt_id})" if prompt_id is not None else "")
            return refused(index, prompt_id, InputError(f"{where}: {exc}"))
    return Pending(index, prompt_id, conversation, sampling, options, estimate, files=files)


def refused(index: int, prompt_id: str | None, error: ProviderError) -> Completed:
    """The result of a prompt that is not sent."""
    return Completed(index, prompt_id, APIResponse("", error=error))


def _add(total: Usage, usage: Usage) -> None:
    total.input_tokens += usage.input_tokens
    total.output_tokens += usage.output_tokens
    total.reasoning_tokens += usage.reasoning_tokens
    total.cache_read_tokens += usage.cache_read_tokens
    total.cache_write_tokens += usage.cache_write_tokens
    total.cache_write_1h_tokens += usage.cache_write_1h_tokens


class Job:
    def __init__(
        self,
        client: LLMClient,
        prompts: Prompts,
        tracker: StatusTracker,
        transport: Transport,
        journal: JobJournal | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.transport = transport
        self.async_prompts: AsyncIterator[PromptLike] | None = (
            aiter(prompts) if isinstance(prompts, AsyncIterable) else None
        )
        """Preferred when the prompts are both (`_ordered.ReadAhead`)."""
        self.prompts: Iterator[PromptLike] | None = None if isinstance(prompts, AsyncIterable) else iter(prompts)
        self.pulling = asyncio.Lock()
        """One worker at a time pulls from an async iterable (a generator cannot be re-entered)."""
        self.tracker = tracker
        self.error: BaseException | None = None
        self.pulled = 0
        """Prompts taken from the input so far; the next one's index."""
        self.working = 0
        self.into: list[APIResponse | None] = []
        self.shared = Shared(client.cache, client.dedup) if client.cache is not None or client.dedup else None
        self.files = client.files.job(transport)

    def pending(self, index: int, item: PromptLike) -> Pending | Completed:
        return prepare(self.client, index, item, self.client.models)

    # which model and route an attempt takes (an embedding job has one of each) ----------------
    def route(self, model: ModelInfo, pending: Pending) -> Route:
        return self.client.route(model, pending.sampling, pending.options)

    def pick(self, avoid: ModelInfo | None = None) -> ModelInfo:
        return self.client.pick(avoid)

    def bigger_than(self, model: ModelInfo) -> ModelInfo | None:
        return self.client.bigger_than(model)

    async def results(self, display: Display) -> AsyncGenerator[Completed, None]:
        """Each prompt's result as soon as it is final, through a bounded queue (a slow consumer
        holds the workers back rather than piling results up)."""
        done: asyncio.Queue[Completed | None] = asyncio.Queue(self.client.pending_limit)
        tasks = self._start(display, done)
        try:
            while True:
                item = await done.get()
                if item is None:
                    break
                yield item
        finally:
            await self._stop(tasks, display)
        if self.error is not None:
            raise self.error

    async def collect(self, display: Display, into: list[APIResponse | None]) -> None:
        """Every result into `into` at its prompt's index: `run`'s path, with no hand-over per
        result."""
        self.into = into
        tasks = self._start(display, None)
        try:
            await asyncio.gather(*tasks[1:])
        finally:
            await self._stop(tasks, display)
        if self.error is not None:
            raise self.error

    def _start(self, display: Display, done: asyncio.Queue[Completed | None] | None) -> list[asyncio.Task[None]]:
        loop = asyncio.get_running_loop()
        self.working = self.client.pending_limit
        return [loop.create_task(self._tick(display))] + [
            loop.create_task(self._work(done)) for _ in range(self.working)
        ]

    async def _stop(self, tasks: list[asyncio.Task[None]], display: Display) -> None:
        for task in tasks:
            task.cancel()
        try:  # the summary even when this is cancelled in turn (asyncio.run ending, say)
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.shared is not None and self.shared.cache is not None:
                await asyncio.to_thread(self.shared.cache.flush)
        finally:
            self.tracker.finish()
            display.close()

    async def _tick(self, display: Display) -> None:
        while True:
            await asyncio.sleep(PROGRESS_REFRESH_SECONDS)
            try:
                display.refresh()
            except Exception:  # a display must never take the job down
                log.exception("progress display failed; continuing without it")
                return

    async def _work(self, done: asyncio.Queue[Completed | None] | None) -> None:
        """One of a fixed pool: pull a prompt, see it through, hand over its result, repeat.
        Pulling happens only here, so the input is read no faster than prompts finish."""
        try:
            while self.error is None:
                item = next(self.prompts, _END) if self.prompts is not None else await self._pull()
                if item is _END:
                    break
                index = self.pulled
                self.pulled += 1
                try:
                    completed = await self._final(self.pending(index, cast(PromptLike, item)))
                except asyncio.CancelledError:  # the job ended early: this prompt has no result
                    self.tracker.stopped += 1
                    raise
                except CloudburstError:  # ours, typed (the shared limiter gone, the journal's mismatch)
                    raise
                except Exception:
                    log.exception("prompt %d failed inside cloudburst", index)
                    raise
                if done is not None:
                    await done.put(completed)
                else:
                    into = self.into
                    if index >= len(into):
                        into.extend([None] * (index + 1 - len(into)))
                    into[index] = completed.response
        except Exception as exc:
            if self.error is None:
                self.error = exc
        self.working -= 1
        if self.working == 0 and done is not None:
            await done.put(None)

    async def _pull(self) -> object:
        """The next prompt of an async iterable, or `_END`."""
        async with self.pulling:
            source = self.async_prompts
            if source is None:
                return _END
            try:
                return await anext(source)
            except StopAsyncIteration:
                self.async_prompts = None
                return _END

    async def _final(self, pending: Pending | Completed) -> Completed:
        """A pulled prompt's result: input refused at once, a result restored from the journal,
        or its attempts' answer (journaled)."""
        journal = self.journal
        if isinstance(pending, Completed):
            self.tracker.prompt_finished(pending.response)
            if journal is not None:
                journal.record_unsendable(pending)
            await asyncio.sleep(0)  # nothing was awaited: let the loop in between bad lines
            return pending
        restored = journal.restore(pending) if journal is not None else None
        if restored is not None:
            self.tracker.prompt_restored(restored)
            return Completed(pending.index, pending.id, restored, True)
        response = await self.attempts(pending)
        if journal is not None:
            journal.record(pending, response)
        return Completed(pending.index, pending.id, response)

    async def attempts(self, pending: Pending) -> APIResponse:
        """Attempts until an answer is final: the retry policy decides, the limiter paces."""
        client = self.client
        tracker, limiter, policy = self.tracker, client.limiter, client.retry
        model = self.pick()
        cache = self.shared.cache if self.shared is not None else None
        if cache is not None and len(client.models) > 1:
            model = await self._cached_model(pending, model, cache)
        failed_usage = _NOTHING
        failed_cost = 0.0
        attempt = 0
        while True:
            attempt += 1
            route = self.route(model, pending)
            response = await self._attempt(route, pending)
            response.reasoning = route.reasoning
            error = response.error
            decision = decide(error, attempt, policy, error.retry_after, client.rng) if error is not None else FINAL
            next_model = model
            if decision.retry:
                if decision.move == "bigger":
                    bigger = self.bigger_than(model)
                    if bigger is None:
                        decision = FINAL
                    else:
                        next_model = bigger
                elif decision.move == "other":
                    next_model = self.pick(avoid=model)
            if error is not None and error.kind in _PACING_KINDS:
                if error.kind == "rate_limited":
                    limiter.rate_limited(route.key, decision.cooldown)
                else:
                    limiter.overloaded(route.key)
            if not decision.retry or error is None:
                if attempt > 1:
                    response.attempts = attempt
                    response.failed_usage = failed_usage
                    response.failed_cost = failed_cost
                tracker.prompt_finished(response)
                return response
            tracker.retrying(error)
            if failed_usage is _NOTHING:
                failed_usage = Usage()
            _add(failed_usage, response.usage)
            failed_cost += response.cost
            if decision.delay:
                await asyncio.sleep(decision.delay)
            model = next_model

    async def _cached_model(self, pending: Pending, picked: ModelInfo, cache: Cache) -> ModelInfo:
        """The first model, from `picked` on, whose answer to this prompt is in the cache: a
        re-run gets its answers back whichever model the weights pick this time. The body
        built for the model chosen is kept for its attempt."""
        client = self.client
        for model in (picked, *(m for m in client.models if m is not picked)):
            route = self.route(model, pending)
            try:
                body = route.body(pending.conversation)
            except ConfigurationError:
                continue  # the attempt says why
            if model is picked:
                pending.body, pending.body_model = body, model.id
            if await cache.get(request_key(route.identity, body)) is not None:
                pending.body, pending.body_model = body, model.id
                return model
        return picked

    async def _attempt(self, route: Route, pending: Pending) -> APIResponse:
        """One attempt: an identical request's answer when there is one (before the limiter
        counts or reserves anything); else reserve, send, parse, settle."""
        model = route.model
        overflow = pending.estimate.overflow(route, pending.conversation)
        if overflow is not None:
            error: ProviderError = ContextOverflowError(
                f"the prompt has at least {overflow:,} tokens, which with max_new_tokens does not fit "
                f"{model.id}'s context window of {model.context_window:,}; not sent"
            )
            return APIResponse(route.provider.name, model.id, error=error)
        if pending.files:
            try:
                pending.body = await self._body_with_files(route, pending)
            except ConfigurationError as exc:
                return APIResponse(route.provider.name, model.id, error=InputError(f"{model.id}: {exc}"))
            except ProviderError as exc:  # an upload it needs failed, and it cannot go inline
                return APIResponse(route.provider.name, model.id, error=exc)
        elif pending.body_model != model.id:
            try:
                pending.body = route.body(pending.conversation)
            except ConfigurationError as exc:  # content this model's API has no place for
                return APIResponse(route.provider.name, model.id, error=InputError(f"{model.id}: {exc}"))
            pending.body_model = model.id
        shared = self.shared
        if shared is None:
            return (await self._send(route, pending))[0]
        key = request_key(route.identity, pending.body)
        outcome = await shared.wait(key)
        if outcome is not None:
            return self._shared(route, outcome)
        outcome = None
        try:
            response, outcome = await self._send(route, pending)
        finally:
            shared.finish(key, outcome, store=outcome is not None and response.error is None)
        return response

    async def _body_with_files(self, route: Route, pending: Pending) -> bytes:
        """The body with the prompt's files placed for this route (uploaded first where they go
        by upload); built once per model, and off the event loop when it carries much inline."""
        if pending.body_model == route.model.id and pending.files_placed:
            return pending.body
        conversation, inline_bytes = await self.files.prepare(route, pending.conversation)
        if inline_bytes >= INLINE_OFF_LOOP_BYTES:
            body = await asyncio.to_thread(route.body, conversation)
        else:
            body = route.body(conversation)
        pending.body_model, pending.files_placed = route.model.id, True
        return body

    def _shared(self, route: Route, outcome: Outcome) -> APIResponse:
        """This prompt's own response from an identical request's outcome: no call, no cost."""
        model = route.model
        if isinstance(outcome, ProviderError):
            return APIResponse(route.provider.name, model.id, error=outcome, cached=True)
        response = self._read(route, *outcome)
        response.cost = 0.0
        response.cached = True
        return response

    def _read(
        self, route: Route, status: int, headers: Mapping[str, str], content: bytes, pending: Pending | None = None
    ) -> APIResponse:
        """The attempt's answer; `pending` is the prompt it answers, when it was sent for it."""
        response = parse(route.model, status, headers, content, output_schema=route.output_schema)
        if route.check_json and response.error is None:
            response.error = invalid_json(response)
        return response

    async def _send(self, route: Route, pending: Pending) -> tuple[APIResponse, Outcome]:
        """Reserve, send, parse, settle: the response, and the outcome to share."""
        client = self.client
        limiter, model = client.limiter, route.model
        if limiter.counts_tokens(route.key):
            need = pending.estimate.need(route, pending.conversation)
            too_large = limiter.too_large(route.key, need)
            if too_large is not None:
                error = RequestTooLargeError(f"{model.id}: the request {too_large}; not sent")
                return APIResponse(route.provider.name, model.id, error=error), error
        else:
            need = route.uncounted
        ticket = await limiter.acquire(route.key, need)
        tracker = self.tracker
        tracker.attempt_started()
        stream = route.stream
        try:
            if stream is None:
                status, headers, content = await self.transport.send(
                    route.method,
                    route.url,
                    route.headers_for(pending.body),
                    pending.body,
                    route.timeouts,
                    pool=route.provider.name,
                )
            else:
                body = route.streamed(pending.body)
                timed = _Timed(stream, tracker)
                tracker.stream_started(timed)
                try:
                    status, headers, content = await self.transport.send(
                        route.method,
                        route.stream_url,
                        route.headers_for(body, route.stream_url),
                        body,
                        route.timeouts,
                        pool=route.provider.name,
                        stream=timed,
                    )
                finally:
                    tracker.stream_finished(timed)
        except StreamInterruptedError as exc:  # what arrived is paid for: billed, and counted
            response = self._read(route, 200, {}, redact(exc.partial, route.secrets) if route.secrets else exc.partial)
            response.error = exc
            if response.usage.input_tokens == 0:  # the stream had not said yet: the prompt as counted here
                response.usage.input_tokens = pending.estimate.count(pending.conversation)[0]
                response.cost = model.cost(response.usage)
            limiter.settle(ticket, response.usage, None)
            tracker.attempt_finished(response)
            return response, exc
        except ProviderError as exc:
            limiter.settle(ticket, None, None)
            response = APIResponse(route.provider.name, model.id, error=exc)
            tracker.attempt_finished(response)
            return response, exc
        except BaseException:  # cancelled in flight: free the slot, keep the reservation
            limiter.settle(ticket, None, None)
            tracker.attempt_cancelled()
            raise
        if route.secrets:
            content = redact(content, route.secrets)
        try:
            response = self._read(route, status, headers, content, pending)
            reported = (
                read_limits(headers, route.provider.rate_limit_headers, provider=route.provider.name)
                if route.reads_limits
                else None
            )
        except Exception:  # a bug below us: free the slot before it surfaces
            limiter.settle(ticket, None, None)
            tracker.in_flight -= 1
            raise
        billed = response.error is None or response.error.kind == "invalid_output"
        limiter.settle(ticket, response.usage if billed else None, reported)
        tracker.attempt_finished(response)
        return response, (status, headers, content)


class _Timed:
    """A route's Streaming whose attempt tells the tracker when its first event came."""

    __slots__ = ("streaming", "tracker")

    def __init__(self, streaming: StreamSource, tracker: StatusTracker) -> None:
        self.streaming = streaming
        self.tracker = tracker

    def fold(self) -> Fold:
        return _FirstEvent(self.streaming.fold(), self)

    def decoder(self) -> Decoder:
        return self.streaming.decoder()


class _FirstEvent(Watched):
    __slots__ = ("timed",)

    def __init__(self, inner: Fold, timed: _Timed | None) -> None:
        super().__init__(inner)
        self.timed = timed

    def feed(self, event: str | None, data: Any) -> None:
        if self.timed is not None:
            self.timed.tracker.first_event(self.timed)
            self.timed = None
        self.inner.feed(event, data)
