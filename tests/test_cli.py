"""The `cloudburst` command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloudburst._cli import main
from tests.conftest import ROOT


def test_models_filters_by_provider_and_capability(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--provider", "openai", "--supports", "logprobs"]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines()[2:] if line and not line.endswith("model(s)")]
    assert "gpt-4o-mini" in rows and "gpt-5.4" not in rows  # gpt-5.4 has no logprobs
    assert all(line.split()[1] == "openai" for line in out.splitlines()[2:] if line and "model(s)" not in line)


def test_render_prints_the_exact_request(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "gpt-4o-mini", "Hello", "--system", "Be brief", "--max-new-tokens", "10"]) == 0
    request = json.loads(capsys.readouterr().out)
    assert request["url"] == "https://api.openai.com/v1/chat/completions"
    assert request["body"]["messages"][0] == {"role": "system", "content": "Be brief"}
    assert request["body"]["max_completion_tokens"] == 10


def test_estimate_reads_jsonl_and_reports_ranges(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "gpt-4o-mini", str(ROOT / "examples" / "prompts.jsonl"), "--max-new-tokens", "64"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("50 prompts on gpt-4o-mini: input ")
    assert "output 50-3,200 tokens" in out


def test_bad_input_is_a_clear_error_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('"fine"\n{"prompt": 3}\n')
    assert main(["estimate", "gpt-4o-mini", str(prompts)]) == 2
    assert f"{prompts}:2: an object needs 'prompt' (a string) or 'messages'" in capsys.readouterr().err
    assert main(["render", "gpt-4o-mni", "hi"]) == 2
    assert "closest known: gpt-4o-mini" in capsys.readouterr().err


def test_the_version_is_one_and_the_same_for_python_and_the_shell() -> None:
    import subprocess
    import sys
    from importlib.metadata import version

    import cloudburst

    assert cloudburst.__version__ == version("cloudburst")
    shown = subprocess.run(
        [sys.executable, "-m", "cloudburst", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert shown.strip() == f"cloudburst {cloudburst.__version__}"
