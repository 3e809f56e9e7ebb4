"""`cloudburst run` end to end against `--simulate`, and how it reads its input."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from cloudburst._cli import main
from cloudburst._conversation import Conversation
from cloudburst._run import InputError, PromptReader
from cloudburst._sampling import SamplingParams


def write_lines(path: Path, items: list[object], raw: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(item) for item in items]
    for number, text in (raw or {}).items():
        lines.insert(number - 1, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_run_writes_one_result_line_per_prompt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cloudburst")
    items: list[object] = [
        "a plain string",
        {"id": "obj", "prompt": "an object"},
        {"id": "chat", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]},
        {"id": "short", "prompt": "per-line settings", "max_new_tokens": 5},
        *({"id": f"n{i}", "prompt": f"number {i}"} for i in range(40)),
    ]
    prompts = write_lines(tmp_path / "prompts.jsonl", items)
    out = tmp_path / "results.jsonl"
    code = main(
        [
            "run", str(prompts), "-o", str(out), "--model", "gpt-4.1-mini", "--model", "claude-haiku-4-5",
            "--rpm", "600", "--max-new-tokens", "20", "--progress", "off", "--simulate",
        ]
    )  # fmt: skip
    assert code == 0
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in results) == sorted(["1", "obj", "chat", "short", *(f"n{i}" for i in range(40))])
    for r in results:
        assert r["error"] is None and r["completion"] and r["model"] in ("gpt-4.1-mini", "claude-haiku-4-5")
        assert r["usage"]["input_tokens"] > 0 and r["cost"] > 0 and r["finish_reason"] in ("stop", "length")
    assert next(r for r in results if r["id"] == "short")["usage"]["output_tokens"] <= 5
    assert "44 succeeded" in caplog.text


def test_a_bad_line_is_named_and_results_before_it_are_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prompts = write_lines(
        tmp_path / "prompts.jsonl", [{"id": f"ok{i}", "prompt": f"q{i}"} for i in range(12)], raw={11: "{not json"}
    )
    out = tmp_path / "results.jsonl"
    code = main(["run", str(prompts), "-o", str(out), "--model", "gpt-4.1-mini", "--progress", "off", "--simulate"])
    assert code == 2
    assert f"{prompts}:11: not JSON" in capsys.readouterr().err
    kept = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(kept) == sorted(f"ok{i}" for i in range(10))


def test_the_reader_names_the_line_of_each_kind_of_mistake(tmp_path: Path) -> None:
    cases = {
        "[1, 2]": "expected a string or an object",
        '{"id": "x"}': "an object needs 'prompt'",
        '{"messages": [{"role": "wizard", "content": "hi"}]}': "messages:",
        '{"prompt": "x", "max_new_tokens": -1}': "bad setting",
    }
    for text, message in cases.items():
        path = tmp_path / "one.jsonl"
        path.write_text('"fine"\n\n' + text + "\n", encoding="utf-8")
        with pytest.raises(InputError, match=re.escape(f"{path}:3: {message}")):
            list(PromptReader(path, SamplingParams()))


def test_the_reader_shares_settings_objects_between_identical_lines(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "p.jsonl",
        [
            {"prompt": "a", "max_new_tokens": 7},
            {"prompt": "b", "max_new_tokens": 7},
            {"id": 5, "messages": [{"role": "user", "content": "c"}]},
        ],
    )
    base = SamplingParams(temperature=0.3)
    a, b, c = PromptReader(path, base)
    assert a.sampling is b.sampling and a.sampling is not None
    assert (a.sampling.max_new_tokens, a.sampling.temperature) == (7, 0.3)
    assert c.sampling is None and c.id == "5" and isinstance(c.content, Conversation)
