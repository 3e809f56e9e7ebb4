from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

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
    """Rendered payloads must not depend on the machine's provider variables."""
    from cloudburst.generated import PROVIDERS

    for provider in PROVIDERS.values():
        for name in (provider.base_url_env, provider.auth.env):
            if name:
                monkeypatch.delenv(name, raising=False)
