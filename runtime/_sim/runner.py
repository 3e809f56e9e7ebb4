"""Running the simulator: in a background thread for tests (`with Simulator() as sim:`), or in
the foreground for `cloudburst sim` and a benchmark's subprocess.

The thread has its own event loop, so synchronous tests and a client running in another event
loop both reach the server over a real socket; every call into it hops onto that loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from cloudburst._sim.config import SimConfig

if TYPE_CHECKING:
    from cloudburst._sim.provider import SimProvider

T = TypeVar("T")
FAKE_KEYS = {
    "openai": "sk-sim-openai",
    "anthropic": "sk-ant-sim",
    "gemini": "AIzaSim-gemini",
    "mistral": "sim-mistral",
    "cohere": "sim-cohere",
    "bedrock": "ABSKsim-bedrock",
}
"""The keys `env()` hands out; accepted unless `SimConfig.keys` says otherwise."""


def default_providers() -> list[SimProvider]:
    """Every provider the simulator speaks. A new provider module adds its class here."""
    from cloudburst._sim.anthropic import Anthropic
    from cloudburst._sim.bedrock import Bedrock
    from cloudburst._sim.cohere import Cohere
    from cloudburst._sim.gemini import Gemini
    from cloudburst._sim.mistral import Mistral
    from cloudburst._sim.openai import OpenAI

    return [OpenAI(), Anthropic(), Gemini(), Mistral(), Cohere(), Bedrock()]


class Simulator:
    """A simulator on an ephemeral loopback port, served from a background thread."""

    def __init__(self, config: SimConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        # the server, its providers and their request models load here, not on `import cloudburst`
        from cloudburst._sim.server import SimServer

        self._server = SimServer(config or SimConfig(), default_providers())
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def config(self) -> SimConfig:
        return self._server.config

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, without a path."""
        return f"http://{self._host}:{self._port}"

    def base_urls(self) -> dict[str, str]:
        """Each provider's base URL as cloudburst's provider specs write them (`…/v1`,
        Gemini's `…/v1beta`, Mistral's `…/mistral/v1`)."""
        return {provider.name: self.url + provider.base_path for provider in self._server.providers}

    def env(self) -> dict[str, str]:
        """Environment variables that point cloudburst at this simulator, with working keys:
        each provider's `base_url_env` and key variable from its spec."""
        keys = sorted(self.config.keys) if self.config.keys else []
        return environment(self.url, self._server.providers, keys[0] if keys else None)

    def start(self) -> Simulator:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                self._port = loop.run_until_complete(self._server.start(self._host, self._port))
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._server.stop())
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=serve, name="cloudburst-sim", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._thread = None
        self._loop = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _on_loop(self, function: Callable[[], T]) -> T:
        """Run `function` on the server's loop, where its state lives, and wait for it."""
        if self._loop is None:
            return function()

        async def call() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result()

    def stats(self) -> dict[str, Any]:
        """What `GET /_sim/stats` answers: requests, statuses, 429s by cause, faults, in-flight, tokens,
        uploads and upload bytes by provider."""
        return self._on_loop(self._server.stats.snapshot)

    def reset(self) -> None:
        """Zero the counters, refill the limits, forget files and batches, restart seeded draws."""
        self._on_loop(self._server.reset)

    def configure(self, config: SimConfig | None = None, **changes: Any) -> SimConfig:
        """Replace the config (or change some fields of it); limits start full again."""
        new = dataclasses.replace(config or self.config, **changes)
        self._on_loop(lambda: self._server.configure(new))
        return new


def environment(url: str, providers: Sequence[SimProvider], key: str | None = None) -> dict[str, str]:
    """Each provider's base-URL variable (its spec's `base_url_env`) pointing at a simulator on
    `url`, and its key variable set to `key` or a fake key: what the official SDKs read too."""
    from cloudburst.generated import PROVIDERS

    out: dict[str, str] = {}
    for provider in providers:
        info = PROVIDERS.get(provider.name)
        if info is None:
            continue
        if info.base_url_env:  # as the provider's SDK reads it: without the version, where it adds that
            out[info.base_url_env] = url + provider.base_path.removesuffix(info.base_url_env_path)
        if info.auth.env:
            out[info.auth.env] = key or FAKE_KEYS.get(provider.name, f"sim-{provider.name}")
    return out


async def serve(
    config: SimConfig,
    host: str,
    port: int,
    *,
    on_ready: Callable[[int], None] | None = None,
    providers: Sequence[SimProvider] | None = None,
) -> None:
    """Serve in the current event loop until cancelled (the CLI's `cloudburst sim`);
    `on_ready` gets the bound port."""
    from cloudburst._sim.server import SimServer

    server = SimServer(config, providers or default_providers())
    bound = await server.start(host, port)
    if on_ready is not None:
        on_ready(bound)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
