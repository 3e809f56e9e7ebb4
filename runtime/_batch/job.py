"""BatchJob: prompts through a provider's batch API (half the price, no per-minute limit),
with the results of an online run.

    job = client.submit_batch(prompts, model="claude-haiku-4-5")   # renders, splits, submits
    job.wait()                                                      # polls, shows progress
    for done in job.results():                                      # Completed, input order
        ...
    job = BatchJob.load(job.id)                                     # after a crash: go on

Submission renders every prompt first (the client's checks, once per setting; a prompt that
cannot be sent becomes its own typed result, as online), splitting them into parts by the
provider's limits from its spec, each part on disk (see `manifest`): memory stays flat
whatever the input size, and nothing is uploaded before every prompt is known good. Each
result is parsed by the model's generated adapter, priced with the batch discount.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from cloudburst._batch.anthropic import AnthropicBatches
from cloudburst._batch.control import Control
from cloudburst._batch.gemini import GeminiBatches
from cloudburst._batch.manifest import Manifest, Part, custom_id
from cloudburst._batch.openai import OpenAIBatches
from cloudburst._batch.parts import PartWriter
from cloudburst._batch.protocol import BatchProtocol, failed
from cloudburst._batch.results import PartReader
from cloudburst._batch.status import BatchStatus, PartStatus, count_into, part_status
from cloudburst._config import RetryPolicy, Timeouts
from cloudburst._constants import BATCH_FIRST_POLL_SECONDS, BATCH_POLL_SECONDS
from cloudburst._errors import (
    ConfigurationError,
    ContextOverflowError,
    InputError,
    ProviderError,
    UnsupportedOptionError,
)
from cloudburst._job import prepare, refused
from cloudburst._models import ModelInfo
from cloudburst._progress import ProgressKind, open_display
from cloudburst._prompt import Completed, PromptLike
from cloudburst._providers import ProviderInfo
from cloudburst._registry import get_model
from cloudburst._render import adapter_for
from cloudburst._route import Route
from cloudburst._status import StatusTracker
from cloudburst._sync import run_sync

if TYPE_CHECKING:
    from cloudburst._client import LLMClient

log = logging.getLogger("cloudburst")
_FATAL = ("auth", "permission", "not_found", "quota")
"""Submission errors that no other part would escape: raised, the job kept to resume."""


def protocol_for(provider: ProviderInfo) -> BatchProtocol:
    if provider.batch is None:
        raise UnsupportedOptionError(
            f"cloudburst has no batch API for {provider.title}; it drives OpenAI's, Anthropic's and Gemini's"
        )
    kinds: dict[str, BatchProtocol] = {
        "openai": OpenAIBatches(),
        "anthropic": AnthropicBatches(provider),
        "gemini": GeminiBatches(provider),
    }
    return kinds[provider.batch.protocol]


class BatchJob:
    """A job on a provider's batch API: its parts, on disk in `directory`, and the calls that
    move them on. Every method has an `_async` twin for code inside an event loop."""

    def __init__(self, manifest: Manifest, route: Route, retry: RetryPolicy, timeouts: Timeouts) -> None:
        self.manifest = manifest
        self.route = route
        self.retry = retry
        self.timeouts = timeouts
        self.protocol = protocol_for(route.provider)
        self.progress: ProgressKind = "rich"

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def directory(self) -> Path:
        return self.manifest.directory

    @property
    def parts(self) -> list[PartStatus]:
        """The parts as last seen (no call made)."""
        return [part_status(part) for part in self.manifest.parts]

    def _control(self) -> Control:
        return Control(self.route.provider, self.manifest.base_url, self.route.headers, self.retry, self.timeouts)

    # submitting ------------------------------------------------------------------------------
    @classmethod
    def render(
        cls,
        client: LLMClient,
        prompts: Iterable[PromptLike],
        model: ModelInfo,
        directory: Path | None,
        part_requests: int | None = None,
    ) -> BatchJob:
        """Every prompt into the parts' files, at most `part_requests` a part (and the provider's
        limits); nothing is sent."""
        provider, _ = adapter_for(model)
        protocol_for(provider)  # refused here when cloudburst has no batch API for the provider
        if "batch" not in model.capabilities:
            raise UnsupportedOptionError(f"{model.id} is not offered on {provider.title}'s batch API")
        route = client.route(model, client.sampling, client.options)
        manifest = Manifest.create(model.id, client.url_of(model), directory)
        job = cls(manifest, route, client.retry, client.timeouts)
        job.progress = client.progress
        with PartWriter(manifest, provider, part_requests) as parts:
            for index, item in enumerate(prompts):
                parts.add(index, job._request(client, index, item, model))
        manifest.total = parts.total
        manifest.rendered = True
        manifest.save()
        log.info("batch %s: %d prompts in %d part(s) at %s", job.id, manifest.total, len(manifest.parts), job.directory)
        return job

    def _request(
        self, client: LLMClient, index: int, item: PromptLike, model: ModelInfo
    ) -> tuple[bytes, str | None] | Completed:
        """One prompt's batch line, or its result when it is not sent."""
        pending = prepare(client, index, item, (model,))
        if isinstance(pending, Completed):
            return pending
        route = client.route(model, pending.sampling, pending.options)
        overflow = pending.estimate.overflow(route, pending.conversation)
        if overflow is not None:
            error: ProviderError = ContextOverflowError(
                f"prompt {index}: at least {overflow:,} tokens, which with max_new_tokens does not fit "
                f"{model.id}'s context window of {model.context_window:,}; not sent"
            )
            return refused(index, pending.id, error)
        try:
            body = route.body(pending.conversation)
        except ConfigurationError as exc:
            return refused(index, pending.id, InputError(f"prompt {index}: {exc}"))
        return self.protocol.line(custom_id(index), route, body), pending.id

    async def submit_async(self) -> None:
        """Submit every part not yet submitted (after a crash: those it had not reached, and the
        one it was in the middle of, found again rather than sent twice)."""
        if not self.manifest.rendered:
            raise ConfigurationError(
                f"batch {self.id} was interrupted while its prompts were being written; submit them again"
            )
        async with self._control() as control:
            for part in self.manifest.parts:
                if part.step in ("submitted", "ended", "fetched") or self.manifest.cancelled:
                    continue
                await self._submit(part, control)

    async def _submit(self, part: Part, control: Control) -> None:
        manifest = self.manifest
        if part.step == "submitting":
            found = await self.protocol.find(manifest, part, control)
            if found is not None:
                log.info("batch %s %s: found %s, created before the interruption", self.id, part.name, found)
                part.provider_id, part.step = found, "submitted"
                manifest.save()
                return
        part.submit_started = time.time()
        part.step = "submitting"
        manifest.save()
        try:
            await self.protocol.submit(manifest, part, self.route, control, manifest.save)
        except ProviderError as exc:
            if exc.retryable or exc.kind in _FATAL:
                raise  # the part stays "submitting": resuming looks for it, then submits it
            part.step, part.outcome, part.error = "ended", "failed", failed(exc)
            part.results = []
            manifest.save()
            log.warning("batch %s %s refused at submission: %s", self.id, part.name, exc)
            return
        part.step = "submitted"
        manifest.save()
        log.info("batch %s %s submitted as %s (%d requests)", self.id, part.name, part.provider_id, part.requests)

    # polling ---------------------------------------------------------------------------------
    async def status_async(self) -> BatchStatus:
        """Every running part polled once."""
        async with self._control() as control:
            return await self._poll(control)

    async def _poll(self, control: Control) -> BatchStatus:
        for part in self.manifest.parts:
            if part.step == "submitted":
                await self.protocol.poll(part, control)
                if part.ended:
                    log.info("batch %s %s ended %s: %s", self.id, part.name, part.outcome, part.counts)
        self.manifest.save()
        return BatchStatus(self.id, tuple(self.parts))

    async def wait_async(self, poll: float = BATCH_POLL_SECONDS, timeout: float | None = None) -> BatchStatus:
        """Submit what is not submitted, then poll until every part has ended: first soon, then
        less often, up to every `poll` seconds. A TimeoutError after `timeout` seconds leaves
        the job as it is (load it and wait again)."""
        await self.submit_async()
        deadline = None if timeout is None else time.monotonic() + timeout
        tracker = StatusTracker(self.manifest.total)
        tracker.limiting_factor_source = lambda: "the batch API"
        display = open_display(self.progress, tracker) if self.progress is not None else None
        gap = min(poll, BATCH_FIRST_POLL_SECONDS)
        try:
            async with self._control() as control:  # one session for every poll
                while True:
                    status = await self._poll(control)
                    count_into(tracker, status)
                    if display is not None:
                        display.refresh()
                    if status.ended:
                        return status
                    if deadline is not None and time.monotonic() + gap > deadline:
                        raise TimeoutError(f"{status}; still running after {timeout} s")
                    await asyncio.sleep(gap)
                    gap = min(poll, gap * 2)
        finally:
            tracker.finish()
            if display is not None:
                display.close()

    async def cancel_async(self) -> BatchStatus:
        """Cancel every part still running; parts never submitted are not. Requests that had not
        run end as BatchCancelledError results."""
        self.manifest.cancelled = True
        self.manifest.save()
        async with self._control() as control:
            for part in self.manifest.parts:
                if part.step == "submitting":
                    part.provider_id = await self.protocol.find(self.manifest, part, control)
                    part.step = "submitted" if part.provider_id is not None else "rendered"
                if part.step == "submitted":
                    await self.protocol.cancel(part, control)
                elif part.step == "rendered":
                    part.step, part.outcome = "fetched", "cancelled"
            self.manifest.save()
        return await self.status_async()

    # results ---------------------------------------------------------------------------------
    async def fetch_async(self) -> None:
        """Wait for every part, and download each ended part's results once."""
        await self.wait_async()
        async with self._control() as control:
            for part in self.manifest.parts:
                if part.step == "ended":
                    if part.results:
                        await self.protocol.fetch(self.manifest, part, control)
                    part.step = "fetched"
                    self.manifest.save()

    def read(self) -> Iterator[Completed]:
        """Every prompt's result, in input order, from the fetched parts' files."""
        tracker = StatusTracker(self.manifest.total)
        reader = PartReader(self.manifest, self.protocol, self.route)
        for part in self.manifest.parts:
            if part.step != "fetched":
                raise ConfigurationError(f"batch {self.id} {part.name} has not been fetched; call results()")
            yield from reader.results(part, tracker)
        tracker.finish()
        log.info("batch %s: %s", self.id, tracker.summary())

    async def results_async(self) -> AsyncIterator[Completed]:
        await self.fetch_async()
        for done in self.read():
            yield done

    # synchronous twins -----------------------------------------------------------------------
    def submit(self) -> None:
        run_sync(self.submit_async())

    def status(self) -> BatchStatus:
        return run_sync(self.status_async())

    def wait(self, poll: float = BATCH_POLL_SECONDS, timeout: float | None = None) -> BatchStatus:
        return run_sync(self.wait_async(poll, timeout))

    def cancel(self) -> BatchStatus:
        return run_sync(self.cancel_async())

    def results(self) -> Iterator[Completed]:
        """Waits for the job, downloads what is not downloaded, then every prompt's result in
        input order, read from disk as it is iterated."""
        run_sync(self.fetch_async())
        return self.read()

    @classmethod
    def load(
        cls,
        job: str | os.PathLike[str],
        *,
        client: LLMClient | None = None,
        progress: ProgressKind = "rich",
    ) -> BatchJob:
        """A job from its id (in the batch home), directory or manifest, to go on with. The API
        key and base URL come from `client` when given (whose model list must hold the job's
        model), else from the provider's environment variable and the URL the job was
        submitted to; an output_schema to parse answers with, from the client's sampling."""
        from cloudburst._client import LLMClient

        manifest = Manifest.load(job)
        model = get_model(manifest.model)
        if client is None:
            client = LLMClient(model.id, base_urls={model.id: manifest.base_url}, progress=progress)
        elif model.id not in {m.id for m in client.models}:
            raise ConfigurationError(f"batch {manifest.id} runs on {model.id}, which is not one of the client's models")
        loaded = cls(manifest, client.route(model, client.sampling, client.options), client.retry, client.timeouts)
        loaded.progress = client.progress
        return loaded
