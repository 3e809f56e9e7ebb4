from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudburst import SimConfig, Simulator
from cloudburst._transport import PROXY_VARIABLES

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
RECORDED_OPENAI_CHAT: dict[str, dict[str, Any]] = {
    example["title"]: example
    for example in json.loads((Path(__file__).parent / "fixtures" / "openai_chat_recorded.json").read_text())[
        "examples"
    ]
}
"""OpenAI's published example requests and their recorded answers, by title."""


@pytest.fixture
def specs_copy(tmp_path: Path) -> Path:
    """A private copy of specs/ to break or extend without touching the real one."""
    target = tmp_path / "specs"
    shutil.copytree(SPECS, target)
    return target


@pytest.fixture(autouse=True)
def _no_provider_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendered payloads must not depend on the machine's provider variables, and loopback
    traffic must not go through the machine's proxy."""
    from cloudburst.generated import PROVIDERS

    for provider in PROVIDERS.values():
        for name in (
            provider.base_url_env,
            *provider.base_url_env_fallbacks,
            *provider.auth.names,
            *provider.env_headers.values(),
        ):
            if name:
                monkeypatch.delenv(name, raising=False)
    for name in (*PROXY_VARIABLES, "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="session")
def simulator_session() -> Iterator[Simulator]:
    """One provider simulator for the whole run, on an ephemeral loopback port."""
    with Simulator(SimConfig()) as simulator:
        yield simulator


@pytest.fixture
def sim(simulator_session: Simulator) -> Simulator:
    """The shared simulator with default config, zero counters, full limits and no files or
    batches; change it for one test with `sim.configure(rpm=..., faults={...})`."""
    simulator_session.configure(SimConfig())
    simulator_session.reset()
    return simulator_session


@pytest.fixture
def sim_env(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """`sim`, with the provider base URLs and API keys in the environment pointing at it."""
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    return sim
