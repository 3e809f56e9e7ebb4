"""One job: pull prompts as capacity frees up, run each through its attempts, hand back results.

A fixed pool of workers (one per concurrency slot, plus `SPARE_WORKERS`) each pulls a prompt only
when it is free, so a generator over a huge file is read as fast as the limits allow and no
faster, and the number of tasks is bounded whatever the input size, never a task per input.
Every pulled prompt ends in exactly one Completed, with a response or a typed error; a mistake
in the input (a bad line, a setting the model refuses) stops the pulling, lets the live prompts
finish, and is raised after their results.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from cloudburst._capabilities import check_request
from cloudburst._constants import PROGRESS_REFRESH_SECONDS
from cloudburst._conversation import Conversation
from cloudburst._errors import ConfigurationError, ContextOverflowError, LimiterUnavailableError, ProviderError
from cloudburst._headers import read_limits
from cloudburst._limiter import RequestTooLargeError
from cloudburst._progress import Display
from cloudburst._prompt import Completed, Prompt, PromptLike
from cloudburst._render import parse
from cloudburst._response import APIResponse, Usage
from cloudburst._retry import FINAL, decide, invalid_json
from cloudburst._route import Estimate, Route
from cloudburst._sampling import SamplingParams
from cloudburst._status import StatusTracker

if TYPE_CHECKING:
    from cloudburst._client import LLMClient
    from cloudburst._options import RequestOptions
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


def _add(total: Usage, usage: Usage) -> None:
    total.input_tokens += usage.input_tokens
    total.output_tokens += usage.output_tokens
    total.reasoning_tokens += usage.reasoning_tokens
    total.cache_read_tokens += usage.cache_read_tokens
    total.cache_write_tokens += usage.cache_write_tokens
    total.cache_write_1h_tokens += usage.cache_write_1h_tokens


class Job:
    def __init__(
        self, client: LLMClient, prompts: Iterable[PromptLike], tracker: StatusTracker, transport: Transport
    ) -> None:
        self.client = client
        self.transport = transport
        self.prompts: Iterator[PromptLike] = iter(prompts)
        self.tracker = tracker
        self.error: BaseException | None = None
        self.pulled = 0
        """Prompts taken from the input so far; the next one's index."""
        self.working = 0
        self.into: list[APIResponse | None] = []

    def pending(self, index: int, item: PromptLike) -> Pending:
        client = self.client
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
        else:
            raise ConfigurationError(f"prompt {index} is a {type(item).__name__}; expected str, Conversation or Prompt")
        estimate = Estimate(conversation, text)
        if sampling is not client.sampling or options is not client.options or not estimate.plain:
            try:
                for model in client.models:  # any model may get a retry: all must take the prompt
                    client.route(model, sampling, options)  # checked once per combination
                    if not estimate.plain:
                        check_request(model, conversation, sampling, options)
            except ConfigurationError as exc:
                where = f"prompt {index}" + (f" (id {prompt_id})" if prompt_id is not None else "")
                raise type(exc)(f"{where}: {exc}") from None
        return Pending(index, prompt_id, conversation, sampling, options, estimate)

    async def results(self, display: Display) -> AsyncIterator[Completed]:
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
        await asyncio.gather(*tasks, return_exceptions=True)
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
                item = next(self.prompts, _END)
                if item is _END:
                    break
                index = self.pulled
                self.pulled += 1
                pending = self.pending(index, cast(PromptLike, item))
                try:
                    response = await self.attempts(pending)
                except LimiterUnavailableError:
                    raise
                except Exception:
                    log.exception("prompt %d failed inside cloudburst", index)
                    raise
                if done is not None:
                    await done.put(Completed(index, pending.id, response))
                else:
                    into = self.into
                    if index >= len(into):
                        into.extend([None] * (index + 1 - len(into)))
                    into[index] = response
        except Exception as exc:
            if self.error is None:
                self.error = exc
        self.working -= 1
        if self.working == 0 and done is not None:
            await done.put(None)

    async def attempts(self, pending: Pending) -> APIResponse:
        """Attempts until an answer is final: the retry policy decides, the limiter paces."""
        client = self.client
        tracker, limiter, policy = self.tracker, client.limiter, client.retry
        model = client.pick()
        failed_usage = _NOTHING
        failed_cost = 0.0
        attempt = 0
        while True:
            attempt += 1
            route = client.route(model, pending.sampling, pending.options)
            response = await self._attempt(route, pending)
            error = response.error
            decision = decide(error, attempt, policy, error.retry_after, client.rng) if error is not None else FINAL
            next_model = model
            if decision.retry:
                if decision.move == "bigger":
                    bigger = client.bigger_than(model)
                    if bigger is None:
                        decision = FINAL
                    else:
                        next_model = bigger
                elif decision.move == "other":
                    next_model = client.pick(avoid=model)
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

    async def _attempt(self, route: Route, pending: Pending) -> APIResponse:
        """One attempt: reserve, send, parse, settle."""
        client = self.client
        limiter, model = client.limiter, route.model
        overflow = pending.estimate.overflow(route, pending.conversation)
        if overflow is not None:
            error: ProviderError = ContextOverflowError(
                f"the prompt has at least {overflow:,} tokens, which with max_new_tokens does not fit "
                f"{model.id}'s context window of {model.context_window:,}; not sent"
            )
            return APIResponse(route.provider.name, model.id, error=error)
        if limiter.counts_tokens(route.key):
            need = pending.estimate.need(route, pending.conversation)
            too_large = limiter.too_large(route.key, need)
            if too_large is not None:
                error = RequestTooLargeError(f"{model.id}: the request {too_large}; not sent")
                return APIResponse(route.provider.name, model.id, error=error)
        else:
            need = route.uncounted
        if pending.body_model != model.id:
            pending.body = route.body(pending.conversation)
            pending.body_model = model.id
        ticket = await limiter.acquire(route.key, need)
        tracker = self.tracker
        tracker.attempt_started()
        try:
            status, headers, content = await self.transport.send(
                route.method,
                route.url,
                route.headers_for(pending.body),
                pending.body,
                client.timeouts,
                pool=route.provider.name,
            )
        except ProviderError as exc:
            limiter.settle(ticket, None, None)
            response = APIResponse(route.provider.name, model.id, error=exc)
            tracker.attempt_finished(response)
            return response
        except BaseException:  # cancelled in flight: free the slot, keep the reservation
            limiter.settle(ticket, None, None)
            tracker.in_flight -= 1
            raise
        try:
            response = parse(model, status, headers, content, output_schema=route.output_schema)
            if route.check_json and response.error is None:
                response.error = invalid_json(response)
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
        return response
