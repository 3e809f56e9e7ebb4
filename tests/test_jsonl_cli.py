"""Every bad line of a JSONL input, through the real `cloudburst` command in a subprocess: `run`
makes it that line's InputError result and the job goes on; `estimate` lists it with its line and
reason, counts it and leaves it out; `embed` writes it as that text's error. Never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BAD_LINES: dict[str, tuple[bytes, str]] = {
    "invalid utf-8": (b'"caf\xe9 au lait"', "not UTF-8 text (byte 0xe9 at byte 5 of the line)"),
    "a message that is a number": (b'{"messages": [0]}', "messages: messages[0]: expected an object, got int"),
    "a message without a role": (b'{"messages": [{"content": "hi"}]}', "messages: messages[0]"),
    "content parts that are strings": (b'{"messages": [{"role": "user", "content": ["hi"]}]}', "messages: "),
    "not json": (b"{not json", "not JSON"),
    "a number": (b"42", "expected a string or an object, got int"),
    "a prompt that is not text": (b'{"prompt": 3}', "an object needs 'prompt' (a string) or 'messages'"),
    "a bad setting": (b'{"prompt": "x", "temperature": "hot"}', "bad setting: temperature: Input should be"),
}


def cloudburst(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cloudburst", *args], capture_output=True, text=True, timeout=120, check=False
    )


def with_bad_lines(path: Path) -> Path:
    """Good lines around every bad one: line 1 is good, then each bad line follows a good one."""
    lines = [b'"first"']
    for bad, _ in BAD_LINES.values():
        lines += [bad, b'{"prompt": "fine"}']
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def bad_line_numbers() -> dict[str, int]:
    return {name: 2 + 2 * index for index, name in enumerate(BAD_LINES)}


def test_run_makes_each_bad_line_its_own_input_error_and_finishes_the_rest(tmp_path: Path) -> None:
    prompts = with_bad_lines(tmp_path / "prompts.jsonl")
    out = tmp_path / "results.jsonl"
    done = cloudburst("run", str(prompts), "-o", str(out), "--model", "gpt-4.1-mini", "--progress", "off", "--simulate")
    assert "Traceback" not in done.stderr, done.stderr
    results = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert len(results) == 1 + 2 * len(BAD_LINES)
    for name, number in bad_line_numbers().items():
        error = results[str(number)]["error"]
        assert error is not None and error["kind"] == "input", name
        assert error["message"].startswith(f"{prompts}:{number}: {BAD_LINES[name][1]}"), (name, error["message"])
        assert results[str(number)]["cost"] == 0
    good = [r for r in results.values() if r["error"] is None]
    assert len(good) == 1 + len(BAD_LINES) and all(r["completion"] for r in good)


def test_estimate_lists_each_bad_line_counts_them_and_estimates_the_rest(tmp_path: Path) -> None:
    prompts = with_bad_lines(tmp_path / "prompts.jsonl")
    done = cloudburst("estimate", "gpt-4o-mini", str(prompts), "--max-new-tokens", "10")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    listed = [line for line in done.stderr.splitlines() if line.startswith(f"{prompts}:")]
    assert len(listed) == len(BAD_LINES)
    for line, (name, number) in zip(listed, bad_line_numbers().items(), strict=True):
        assert line.startswith(f"{prompts}:{number}: {BAD_LINES[name][1]}"), (name, line)
    assert f"{len(BAD_LINES)} bad line(s) left out of the estimate" in done.stderr
    assert done.stdout.startswith(f"{1 + len(BAD_LINES)} prompts on gpt-4o-mini: ")


def test_estimate_of_a_clean_file_exits_0(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_bytes(b'\xef\xbb\xbf"a byte order mark first, as some editors write"\n{"prompt": "two"}\n')
    done = cloudburst("estimate", "gpt-4o-mini", str(prompts), "--max-new-tokens", "10")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("2 prompts on gpt-4o-mini: ")


def test_embed_writes_a_bad_line_as_that_texts_error(tmp_path: Path) -> None:
    name = "invalid utf-8"
    texts = tmp_path / "texts.jsonl"
    texts.write_bytes(b'"one"\n' + BAD_LINES[name][0] + b'\n"three"\n')
    out = tmp_path / "vectors.jsonl"
    done = cloudburst(
        "embed", str(texts), "-o", str(out), "--model", "text-embedding-3-small", "--progress", "off", "--simulate"
    )
    assert "Traceback" not in done.stderr, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    errors = [line for line in lines if line.get("error")]
    assert len(lines) == 3 and len(errors) == 1
    assert f"{texts}:2: {BAD_LINES[name][1]}" in json.dumps(errors[0])


def test_batch_submit_makes_each_bad_line_its_own_input_error(tmp_path: Path) -> None:
    prompts = with_bad_lines(tmp_path / "prompts.jsonl")
    out = tmp_path / "results.jsonl"
    done = cloudburst(
        "batch", "submit", str(prompts), "--model", "claude-haiku-4-5", "--simulate", "--sim-batch-seconds", "0",
        "--wait", "--poll", "0.05", "-o", str(out), "--progress", "off",
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr  # 1: some prompts failed
    results = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    for name, number in bad_line_numbers().items():
        error = results[str(number)]["error"]
        assert error["kind"] == "input" and error["message"].startswith(f"{prompts}:{number}: {BAD_LINES[name][1]}")
    assert sum(r["error"] is None for r in results.values()) == 1 + len(BAD_LINES)
