"""Bad input never costs money and never stops a job: how the JSONL reader names each mistake,
what a run does with a bad line, and `cloudburst run --dry-run`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cloudburst import InvalidPrompt, Prompt
from cloudburst._cli import main
from cloudburst._conversation import Conversation
from cloudburst._input import PromptReader
from cloudburst._registry import get_model
from cloudburst._sampling import SamplingParams


def write_lines(path: Path, items: list[object], raw: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(item) for item in items]
    for number, text in (raw or {}).items():
        lines.insert(number - 1, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def only_line(path: Path, text: str, models: tuple[str, ...] = ()) -> Prompt | InvalidPrompt:
    path.write_text('"fine"\n\n' + text + "\n", encoding="utf-8")
    first, third = PromptReader(path, SamplingParams(), [get_model(m) for m in models])
    assert isinstance(first, Prompt)
    return third


def test_the_reader_names_the_line_of_each_kind_of_mistake(tmp_path: Path) -> None:
    cases = {
        "{not json": "not JSON",
        "[1, 2]": "expected a string or an object",
        '{"id": "x"}': "an object needs 'prompt'",
        '{"prompt": 5}': "an object needs 'prompt'",
        '{"prompt": "a", "messages": []}': "give 'prompt' or 'messages', not both",
        '{"messages": [{"role": "wizard", "content": "hi"}]}': "messages:",
        '{"prompt": "x", "max_new_tokens": -1}': "bad setting",
        '{"prompt": "x", "temperature": "hot"}': "bad setting",
    }
    path = tmp_path / "one.jsonl"
    for text, message in cases.items():
        bad = only_line(path, text)
        assert isinstance(bad, InvalidPrompt), text
        assert re.match(re.escape(f"{path}:3: {message}"), bad.error.message), bad.error.message
        assert (bad.error.kind, bad.error.path, bad.error.line) == ("input", str(path), 3)
        assert bad.id == ("x" if '"id": "x"' in text else "3")


def test_an_unknown_key_is_an_error_for_its_line_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    hints = {
        "max_tokens": "use max_new_tokens",
        "max_completion_tokens": "use max_new_tokens",
        "max_output_tokens": "use max_new_tokens",
        "model": "not per line",
        "system": "messages",
        "temprature": "did you mean 'temperature'?",
        "colour": "a line takes id, prompt, messages",
    }
    for key, hint in hints.items():
        bad = only_line(path, json.dumps({"id": "k", "prompt": "x", key: 1}))
        assert isinstance(bad, InvalidPrompt) and bad.id == "k"
        assert f"unknown key {key!r}" in bad.error.message and hint in bad.error.message


def test_a_line_setting_a_model_of_the_job_refuses_is_that_lines_error(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    bad = only_line(path, '{"prompt": "x", "seed": 7}', ("gpt-4.1-mini", "claude-haiku-4-5"))
    assert isinstance(bad, InvalidPrompt)
    assert bad.error.message.startswith(f"{path}:3: claude-haiku-4-5: ") and "seed" in bad.error.message
    image = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/cat.png"}}]}
    bad = only_line(path, json.dumps({"messages": [image]}), ("gpt-4.1-mini", "deepseek-chat"))
    assert isinstance(bad, InvalidPrompt) and "deepseek-chat cannot take image input" in bad.error.message
    assert isinstance(only_line(path, '{"prompt": "x", "seed": 7}', ("gpt-4.1-mini",)), Prompt)


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
    assert isinstance(a, Prompt) and isinstance(b, Prompt) and isinstance(c, Prompt)
    assert a.sampling is b.sampling and a.sampling is not None
    assert (a.sampling.max_new_tokens, a.sampling.temperature) == (7, 0.3)
    assert c.sampling is None and c.id == "5" and isinstance(c.content, Conversation)


def test_bad_lines_end_as_input_errors_and_the_job_goes_on(tmp_path: Path) -> None:
    items: list[object] = [{"id": f"ok{i}", "prompt": f"q{i}"} for i in range(12)]
    items[3] = {"id": "tokens", "prompt": "x", "max_tokens": 9}
    items[7] = {"id": "seeded", "prompt": "x", "seed": 1}  # claude-haiku-4-5 takes no seed
    prompts = write_lines(tmp_path / "prompts.jsonl", items, raw={11: "{not json"})
    out = tmp_path / "results.jsonl"
    main(["run", str(prompts), "-o", str(out), "--model", "gpt-4.1-mini", "--model", "claude-haiku-4-5",
          "--progress", "off", "--simulate"])  # fmt: skip
    results = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert len(results) == 13
    bad = {k: r for k, r in results.items() if r["error"] is not None}
    assert bad.keys() == {"tokens", "seeded", "11"}
    assert all(r["error"]["kind"] == "input" and r["cost"] == 0 and r["attempts"] == 1 for r in bad.values())
    assert bad["11"]["error"]["message"].startswith(f"{prompts}:11: not JSON")
    assert f"{prompts}:4: unknown key 'max_tokens' (use max_new_tokens)" == bad["tokens"]["error"]["message"]
    assert bad["seeded"]["error"]["message"].startswith(f"{prompts}:8: claude-haiku-4-5:")
    assert all(r["completion"] for k, r in results.items() if k not in bad)


def test_dry_run_lists_every_bad_line_and_sends_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items: list[object] = ["fine", {"prompt": "x", "max_tokens": 5}, {"prompt": "y", "seed": 2}, {"id": "z"}]
    prompts = write_lines(tmp_path / "prompts.jsonl", items)
    out = tmp_path / "never.jsonl"
    code = main(["run", str(prompts), "-o", str(out), "--model", "gpt-4.1-mini", "--model", "claude-haiku-4-5",
                 "--max-new-tokens", "50", "--dry-run"])  # fmt: skip
    assert code == 2 and not out.exists()  # and no API key was needed: nothing can have been sent
    captured = capsys.readouterr()
    listed = [line for line in captured.err.splitlines() if line.startswith(str(prompts))]
    assert [line.split(": ", 1)[0] for line in listed] == [f"{prompts}:2", f"{prompts}:3", f"{prompts}:4"]
    assert "max_new_tokens" in listed[0] and "seed" in listed[1] and "'prompt'" in listed[2]
    assert "1 prompts on gpt-4.1-mini" in captured.out and "1 prompts on claude-haiku-4-5" in captured.out
    assert "4 lines checked against 2 model(s), 3 bad; nothing was sent" in captured.out


def test_dry_run_of_a_clean_file_prints_the_estimate_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items: list[object] = [{"prompt": f"q{i}", "max_new_tokens": 10} for i in range(5)] + ["plain"] * 5
    prompts = write_lines(tmp_path / "prompts.jsonl", items)
    code = main(["run", str(prompts), "-o", str(tmp_path / "o.jsonl"), "--model", "gpt-4.1-mini",
                 "--max-new-tokens", "100", "--dry-run"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and captured.err == ""
    assert "10 prompts on gpt-4.1-mini" in captured.out and "output 10-550 tokens" in captured.out


def test_dry_run_refuses_a_job_wide_setting_a_model_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prompts = write_lines(tmp_path / "prompts.jsonl", ["fine"])
    code = main(["run", str(prompts), "-o", str(tmp_path / "o.jsonl"), "--model", "gpt-4.1-mini",
                 "--model", "claude-haiku-4-5", "--max-new-tokens", "50000", "--dry-run"])  # fmt: skip
    assert code == 2 and "gpt-4.1-mini's limit of 32768" in capsys.readouterr().err


def test_an_id_used_twice_is_the_later_lines_error(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "prompts.jsonl", [{"id": "a", "prompt": "x"}, {"id": "b", "prompt": "y"}, {"id": "a", "prompt": "z"}]
    )
    first, second, third = PromptReader(path, SamplingParams(), unique_ids=True)
    assert isinstance(first, Prompt) and isinstance(second, Prompt)
    assert isinstance(third, InvalidPrompt) and third.id == "a#line3"
    assert str(third.error) == f"{path}:3: id 'a' is line 1's already; each prompt needs its own id"
