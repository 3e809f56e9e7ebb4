"""The distribution: a real wheel, installed in a fresh virtual environment, imports whole."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import cloudburst
from tests.conftest import ROOT

SMOKE = """
import importlib, pkgutil
import cloudburst, cloudburst.generated
names = [m.name for m in pkgutil.walk_packages(cloudburst.generated.__path__, "cloudburst.generated.")]
for name in names:
    importlib.import_module(name)
request = cloudburst.render("gpt-4.1-mini", "hi")
assert request.body["messages"] == [{"role": "user", "content": "hi"}], request.body
print(cloudburst.__file__)
print(len(names))
"""


def test_editable_install_serves_runtime_and_generated_from_the_source_tree() -> None:
    import cloudburst.generated

    assert Path(cloudburst.__file__).parent == ROOT / "runtime"
    assert Path(cloudburst.generated.__file__).parent == ROOT / "generated"


def test_wheel_installs_into_a_fresh_venv_and_imports_every_generated_module(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)], check=True, capture_output=True
    )
    (wheel,) = dist.glob("cloudburst-*.whl")
    shipped = {name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("cloudburst/generated/")}
    expected = {
        f"cloudburst/generated/{p.relative_to(ROOT / 'generated').as_posix()}"
        for p in (ROOT / "generated").rglob("*.py")
    }
    assert expected <= shipped, f"missing from the wheel (list the package in pyproject.toml): {expected - shipped}"

    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True, capture_output=True)
    result = subprocess.run([str(python), "-c", SMOKE], check=True, capture_output=True, text=True, cwd=tmp_path)
    location, count = result.stdout.split()
    assert location.startswith(str(env)), "imported the source tree instead of the installed wheel"
    assert int(count) == len(expected) - 1  # every module but the package __init__ itself
    assert cloudburst.__all__  # the public API exists in the dev install too
