"""Mutated real specs: codegen names the file and line of what is wrong, or generates code that
runs, and never crashes. A mutation that is wrong by construction (a value of a type its field
does not take, an unknown key, a word outside a closed vocabulary, a path off the schema) is
refused, or changes nothing. bench/spec_fuzz.py runs many more examples than `make test` does.
"""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SPECS
from tests.spec_mutations import MUTATIONS, Baseline, check_mutation, is_schema_file

EXAMPLES = int(os.environ.get("SPEC_FUZZ_EXAMPLES", "150"))
SCHEMA_FILES = [file for file in MUTATIONS if is_schema_file(file)]
MAPPING_FILES = [file for file in MUTATIONS if not is_schema_file(file)]


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
