"""Nothing a provider sends can crash a job: every provider's official answers, mutated (types
changed, keys dropped, nulls, strings, negatives, NaN and huge numbers put in, values wrapped in
the wrong containers), read as the runtime reads them, give a typed response and never raise.
`bench/fuzz.py` runs the same with many more examples."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudburst import Simulator
from tests.fuzz_bodies import NAMES, Target, mutated, official_bodies, targets

EXAMPLES = 150
"""Per reader; with some thirty readers, thousands of bodies in all."""


@pytest.fixture(scope="module")
def readers(simulator_session: Simulator) -> dict[str, Target]:
    simulator_session.reset()
    return {target.name: target for target in targets(official_bodies(simulator_session))}


def test_every_provider_api_has_official_bodies_to_start_from(readers: dict[str, Target]) -> None:
    assert sorted(readers) == sorted(NAMES)
    for target in readers.values():
        for seed in target.seeds:
            target.read(seed)


@pytest.mark.parametrize("name", NAMES)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_a_mutated_body_is_a_typed_response_never_a_crash(
    readers: dict[str, Target], name: str, data: st.DataObject
) -> None:
    target = readers[name]
    seed: Any = data.draw(mutated(target.seeds), label="status, headers, body")
    target.read(seed)
