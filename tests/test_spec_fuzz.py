"""Mutated real specs: codegen names the file and line of what is wrong, or generates code that
runs, and never crashes. A mutation that is wrong by construction (a value of a type its field
does not take, an unknown key, a word outside a closed vocabulary, a path off the schema) is
refused, or changes nothing. bench/spec_fuzz.py runs many more examples than `make test` does.
"""

from __future__ import annotations

import os
import shutil
import traceback
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from codegen.errors import SpecError
from codegen.generate import render_all
from tests.conftest import SPECS
from tests.spec_mutations import Mutation, changed_modules, is_schema_file, mutations, runs, spec_files, strict

EXAMPLES = int(os.environ.get("SPEC_FUZZ_EXAMPLES", "50"))
FILES = spec_files(SPECS)
TEXTS = {file: (SPECS / file).read_text() for file in FILES}
DATA = {file: yaml.safe_load(text) for file, text in TEXTS.items()}
MUTATIONS = {file: mutations(file, text) for file, text in TEXTS.items()}
"""Every mutation of every file: a file is drawn first, so small files are tried as often as the
3,000-line schema documents."""
SCHEMA_FILES = [file for file in FILES if is_schema_file(file)]
MAPPING_FILES = [file for file in FILES if not is_schema_file(file)]


class Baseline:
    """A copy of specs/ that every example changes (and puts back), and what it generates."""

    def __init__(self, specs: Path) -> None:
        self.specs = specs
        self.generated = render_all(specs)

    def __repr__(self) -> str:
        return f"Baseline({self.specs})"


def check_mutation(baseline: Baseline, mutation: Mutation) -> None:
    specs = baseline.specs
    path = specs / mutation.file
    path.write_text(mutation.apply(TEXTS[mutation.file]))
    try:
        files = render_all(specs)
    except SpecError as error:
        assert error.problems, mutation
        for problem in error.problems:
            shown = specs.parent / problem.file
            assert shown.is_file(), f"{mutation}: {problem} names no spec file"
            assert 1 <= problem.line <= len(shown.read_text().splitlines()) + 1, f"{mutation}: {problem}"
        # a wrong value is named where it is; a schema changed may make a mapping wrong instead
        where = str(Path("specs") / (Path(mutation.file).parent if is_schema_file(mutation.file) else mutation.file))
        if mutation.kind not in ("delete", "rename"):
            assert any(p.file.as_posix().startswith(where) for p in error.problems), (mutation, error)
        return
    except Exception as exc:
        pytest.fail(f"{mutation}: traceback\n{''.join(traceback.format_exception(exc))}")
    finally:
        path.write_text(TEXTS[mutation.file])
    changed = changed_modules(baseline.generated, files)
    assert not (changed and strict(mutation, DATA[mutation.file])), f"{mutation}: accepted, changing {changed}"
    for name in changed:
        if name in files:
            runs(files[name], name)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    specs = tmp_path_factory.mktemp("fuzz") / "specs"
    shutil.copytree(SPECS, specs)
    return Baseline(specs)


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_a_mutated_spec_is_refused_at_its_line_or_generates_running_code(
    baseline: Baseline, data: st.DataObject
) -> None:
    # one in five in a schema file: those regenerate the provider's models, ten times slower
    schema = data.draw(st.integers(0, 4), label="schema file?") == 0
    file = data.draw(st.sampled_from(SCHEMA_FILES if schema else MAPPING_FILES), label="file")
    mutation = data.draw(st.sampled_from(MUTATIONS[file]), label="mutation")
    check_mutation(baseline, mutation)
