"""The `cloudburst` command line."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudburst._cli import build_parser, main
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
    from importlib.metadata import version

    import cloudburst

    assert cloudburst.__version__ == version("cloudburst")
    shown = subprocess.run(
        [sys.executable, "-m", "cloudburst", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert shown.strip() == f"cloudburst {cloudburst.__version__}"


def cloudburst(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cloudburst", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def _flags(parser: argparse.ArgumentParser, name: str) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, subparser in action.choices.items():
                yield from _flags(subparser, f"{name} {sub}")
        elif not isinstance(action, argparse._HelpAction):
            yield name, action


def test_every_flag_of_every_subcommand_has_help() -> None:
    flags = list(_flags(build_parser(), "cloudburst"))
    assert len({name for name, _ in flags}) >= 10  # models, render, estimate, run, sim, embed, batch ...
    assert [(name, action.option_strings or action.dest) for name, action in flags if not action.help] == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run", "missing.jsonl", "-o", "out.jsonl", "--model", "gpt-4.1-mini"], "missing.jsonl: no such file"),
        (["run", "prompts.jsonl", "-o", "no/such/folder/out.jsonl", "--model", "gpt-4.1-mini"], "does not exist"),
        (["run", "prompts.jsonl", "-o", ".", "--model", "gpt-4.1-mini"], ". is a directory"),
        (["run", "prompts.jsonl", "-o", "out.jsonl", "--model", "gpt-4.1-mini", "--rpm", "fast"], "'fast' is not"),
        (["run", "prompts.jsonl", "-o", "out.jsonl", "--model", "gpt-4.1-mini", "--rpm", "-5"], "above 0"),
        (["run", "prompts.jsonl", "-o", "out.jsonl", "--model", "gpt-4.1-mini", "--sim-fault-rate", "3"], "share"),
        (["run", "prompts.jsonl", "-o", "out.jsonl", "--model", "gpt-4.1-mni", "--simulate"], "gpt-4.1-mini"),
        (["estimate", "gpt-4.1-mini", "missing.jsonl"], "missing.jsonl: no such file"),
        (["embed", "missing.jsonl", "-o", "out.jsonl", "--model", "text-embedding-3-small"], "no such file"),
        (["batch", "submit", "missing.jsonl", "--model", "gpt-4.1-mini"], "no such file"),
        (["models", "--provider", "antropic"], "did you mean 'anthropic'?"),
        (["models", "--supports", "logprob"], "did you mean 'logprobs'?"),
    ],
)
def test_a_persons_mistake_is_one_clear_line_and_exit_code_2(tmp_path: Path, args: list[str], says: str) -> None:
    (tmp_path / "prompts.jsonl").write_text('"hi"\n')
    done = cloudburst(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_models_supports_lists_every_valid_capability(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--supports", "telepathy"]) == 2
    err = capsys.readouterr().err
    for capability in ("logprobs", "tools", "structured_output", "embeddings"):
        assert capability in err


def test_sim_prints_export_lines_a_shell_takes_as_they_are() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "cloudburst", "sim", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[4]
        exports = list(iter(lambda: server.stdout.readline().rstrip("\n"), ""))  # a blank line ends them
        assert exports and all(line.startswith("export ") for line in exports)
    finally:
        server.terminate()
        server.wait(5)
    shell = subprocess.run(
        ["sh", "-c", "\n".join([*exports, "echo $OPENAI_BASE_URL; echo $ANTHROPIC_API_KEY"])],
        capture_output=True,
        text=True,
        check=True,
    )
    base_url, key = shell.stdout.splitlines()
    assert base_url.startswith(url) and key


def test_ctrl_c_outside_run_is_one_line_and_exit_code_130(tmp_path: Path) -> None:
    texts = tmp_path / "texts.jsonl"
    texts.write_text('"a"\n"b"\n')
    command = ["embed", str(texts), "-o", str(tmp_path / "out.jsonl"), "--model", "text-embedding-3-small"]
    process = subprocess.Popen(
        [sys.executable, "-m", "cloudburst", *command, "--simulate", "--sim-latency-ms", "60000", "--progress", "off"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    assert "simulating the providers" in process.stderr.readline()  # started: the request is on its way
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.splitlines()[-1] == "interrupted" and "Traceback" not in stderr


def test_ctrl_c_while_the_command_is_still_starting_is_one_line_too() -> None:
    command = Path(sys.executable).with_name("cloudburst")  # the installed console script
    process = subprocess.Popen([str(command), "models"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.05)  # the interpreter is up; the package takes far longer than this to import
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr
    assert process.returncode in (130, -signal.SIGINT)  # ours, or Python's own before any code of ours ran
