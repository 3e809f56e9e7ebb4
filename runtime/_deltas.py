"""One prompt's answer as it streams, in typed deltas: `LLMClient.stream(prompt)`.

It is the engine's own path (limits, retries, model choice, billing), with every attempt
streamed and each event's fold read again through the API's generated `parse_body`: what the
text, thinking and tool calls gained since the last event is the delta. So every stream format
gives deltas without a line of its own, and the last response is exactly `run`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cloudburst._job import Job, prepare
from cloudburst._prompt import Completed, PromptLike
from cloudburst._response import APIResponse
from cloudburst._route import Route
from cloudburst._status import StatusTracker
from cloudburst._stream import Streaming
from cloudburst._stream.fold import Watched

if TYPE_CHECKING:
    from cloudburst._client import LLMClient
    from cloudburst._job import Pending
    from cloudburst._models import ModelInfo
    from cloudburst._stream.fold import Fold


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of the `index`-th tool call: its id and name (in full, from its first piece on)
    and the next piece of its arguments' JSON text."""

    index: int
    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Restart:
    """An attempt broke off midway and another begins: what follows is the answer from its
    start, so drop what came before."""

    attempt: int


Delta = TextDelta | ThinkingDelta | ToolCallDelta | Restart


class ResponseStream:
    """`async for delta in client.stream(prompt)`: the deltas as they arrive; `response` is
    the final APIResponse (an error on it, as from `run`) once the iteration ended."""

    def __init__(self, client: LLMClient, prompt: PromptLike) -> None:
        self.client = client
        self.prompt = prompt
        self.response: APIResponse | None = None

    def __aiter__(self) -> AsyncIterator[Delta]:
        return self._deltas()

    async def _deltas(self) -> AsyncIterator[Delta]:
        queue: asyncio.Queue[Delta | None] = asyncio.Queue()
        task = asyncio.get_running_loop().create_task(self._run(queue.put_nowait))
        try:
            while (delta := await queue.get()) is not None:
                yield delta
            self.response = await task
        finally:
            task.cancel()

    async def _run(self, put: Callable[[Delta | None], None]) -> APIResponse:
        client = self.client
        transport = client._make_transport()
        job = _StreamJob(client, transport, put)
        try:
            pending = prepare(client, 0, self.prompt, client.models)
            response = pending.response if isinstance(pending, Completed) else await job.attempts(pending)
            if response.error is None:  # an answer that came whole (the cache's) comes as one delta
                job.watch.emit(response)
            return response
        finally:
            put(None)
            await job.files.finish()
            if client._own_transport:
                await transport.aclose()


class _StreamJob(Job):
    """A job of one prompt whose routes always stream, into watched folds."""

    def __init__(self, client: LLMClient, transport: Any, put: Callable[[Delta | None], None]) -> None:
        super().__init__(client, (), StatusTracker(1), transport)
        self._routes: dict[str, Route] = {}
        self.watch = _Watch(put)

    def route(self, model: ModelInfo, pending: Pending) -> Route:
        route = self._routes.get(model.id)
        if route is None:
            client = self.client
            route = Route(
                model,
                pending.sampling,
                pending.options,
                key=client._bucket[model.id],
                base_url=client._urls[model.id],
                api_key=client._keys[model.provider],
                timeouts=client.timeouts,
                stream=True,
            )
            spec = route.stream
            assert spec is not None
            route.stream = _Watched(
                spec.format, spec.framing, spec.body, spec.path, spec.required_above, route, self.watch
            )
            self._routes[model.id] = route
        return route


class _Watch:
    """What the deltas so far said, to tell what each event adds."""

    def __init__(self, put: Callable[[Delta | None], None]) -> None:
        self.put = put
        self.attempts = 0
        self.text = self.thinking = 0
        self.calls: list[int] = []

    def started(self) -> None:
        self.attempts += 1
        if self.attempts > 1 and (self.text or self.thinking or self.calls):
            self.put(Restart(self.attempts))
        self.text = self.thinking = 0
        self.calls = []

    def read(self, route: Route, fold: Fold) -> None:
        try:
            response: APIResponse = route.adapter.parse_body(fold.body())
        except Exception:  # a body between events that the parser cannot read yet
            return
        self.emit(response)

    def emit(self, response: APIResponse) -> None:
        """What `response` has beyond the deltas so far."""
        thinking = response.thinking or ""
        if len(thinking) > self.thinking:
            self.put(ThinkingDelta(thinking[self.thinking :]))
            self.thinking = len(thinking)
        text = response.completion or ""
        if len(text) > self.text:
            self.put(TextDelta(text[self.text :]))
            self.text = len(text)
        for index, call in enumerate(response.tool_calls):
            if index == len(self.calls):
                self.calls.append(-1)
            seen = self.calls[index]
            if len(call.raw_arguments) > seen:
                self.put(ToolCallDelta(index, call.id, call.name, call.raw_arguments[max(seen, 0) :]))
                self.calls[index] = len(call.raw_arguments)


@dataclass(frozen=True, slots=True)
class _Watched(Streaming):
    """A route's Streaming whose every fold reports its events to the watch."""

    route: Route | None = None
    watch: _Watch | None = None

    def fold(self) -> Fold:
        assert self.watch is not None and self.route is not None
        self.watch.started()
        return _WatchedFold(Streaming.fold(self), self.route, self.watch)


class _WatchedFold(Watched):
    __slots__ = ("route", "watch")

    def __init__(self, inner: Fold, route: Route, watch: _Watch) -> None:
        super().__init__(inner)
        self.route = route
        self.watch = watch

    def feed(self, event: str | None, data: Any) -> None:
        self.inner.feed(event, data)
        self.watch.read(self.route, self.inner)
