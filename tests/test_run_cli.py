"""`cloudburst run` end to end against `--simulate`, and how it reads its input."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cloudburst._cli import main


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


def test_run_streams_with_its_timeouts_when_asked(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cloudburst")
    prompts = write_lines(tmp_path / "prompts.jsonl", [f"number {i}" for i in range(5)])
    out = tmp_path / "results.jsonl"
    code = main(
        [
            "run", str(prompts), "-o", str(out), "--model", "gpt-4.1-mini", "--max-new-tokens", "20",
            "--stream", "on", "--idle-timeout", "5", "--timeout", "30", "--progress", "off", "--simulate",
        ]
    )  # fmt: skip
    assert code == 0
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(results) == 5 and all(r["error"] is None and r["completion"] for r in results)


def test_run_refuses_a_timeout_that_is_not_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prompts = write_lines(tmp_path / "prompts.jsonl", ["hi"])
    out = tmp_path / "out.jsonl"
    with pytest.raises(SystemExit) as exited:  # argparse's usage error
        main(["run", str(prompts), "-o", str(out), "--model", "gpt-4.1-mini", "--idle-timeout", "0", "--simulate"])
    assert exited.value.code == 2 and not out.exists()
    assert "argument --idle-timeout: '0' is not a number above 0" in capsys.readouterr().err


def run_args(prompts: Path, out: Path, *more: str) -> list[str]:
    return [
        "run", str(prompts), "-o", str(out), "--model", "gpt-4.1-mini", "--model", "claude-haiku-4-5",
        "--max-new-tokens", "16", "--progress", "off", "--simulate", "--sim-latency-ms", "40", *more,
    ]  # fmt: skip


def test_ordered_results_follow_the_input_even_when_resumed(tmp_path: Path) -> None:
    items = [{"id": f"q{i}", "prompt": f"question {i}"} for i in range(120)]
    out = tmp_path / "results.jsonl"
    first = write_lines(tmp_path / "first.jsonl", items[:50])
    assert main(run_args(first, out)) == 0  # unordered, as they finished
    everything = write_lines(tmp_path / "prompts.jsonl", items)
    assert main(run_args(everything, out, "--ordered", "--ordered-window", "8")) == 0
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in results] == [f"q{i}" for i in range(120)]
    assert [r["index"] for r in results] == list(range(120))


def test_a_results_line_carries_tool_calls_parsed_output_request_id_and_a_rounded_cost(tmp_path: Path) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([{"name": "get_weather", "description": "Weather in a city.", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]))  # fmt: skip
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}))
    prompts = write_lines(tmp_path / "prompts.jsonl", ["Call get_weather for Paris.", "And for Oslo: get_weather"])
    out = tmp_path / "tools.jsonl"
    assert main(run_args(prompts, out, "--tools", str(tools))) == 0
    for line in out.read_text().splitlines():
        result = json.loads(line)
        assert result["finish_reason"] == "tool_calls" and result["request_id"]
        (call,) = result["tool_calls"]
        assert call["name"] == "get_weather" and isinstance(call["arguments"]["city"], str) and call["id"]
        assert (result["attempts"], result["cached"], result["parsed"]) == (1, False, None)
        assert result["cost"] > 0 and len(repr(result["cost"])) < 16  # no 0.00007120000000000001
    out = tmp_path / "parsed.jsonl"
    assert main(run_args(prompts, out, "--output-schema", str(schema))) == 0
    for line in out.read_text().splitlines():
        result = json.loads(line)
        assert result["parsed"] == json.loads(result["completion"]) and isinstance(result["parsed"]["city"], str)
