"""The parse fuzz test (tests/test_parse_fuzz.py) at length: every reader of provider bodies
(chat and Responses parse, embeddings, rerank, batch result lines) on many more mutated official
bodies, with fresh random draws each run. Reported: examples run and failures per reader (a
failure is shrunk by hypothesis and shown), and bodies read per second.

    python bench/fuzz.py [examples per reader, default 1500]
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for tests.fuzz_bodies

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudburst import SimConfig, Simulator
from tests.fuzz_bodies import Target, mutated, official_bodies, targets


def run(target: Target, examples: int) -> tuple[int, str | None]:
    """(examples read, the shrunk failure or None)."""
    count = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def read(data: st.DataObject) -> None:
        nonlocal count
        count += 1
        target.read(data.draw(mutated(target.seeds)))

    try:
        read()
    except Exception:
        return count, traceback.format_exc(limit=-3)
    return count, None


def main() -> int:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    logging.getLogger("cloudburst").setLevel(logging.ERROR)  # mutated rate-limit headers warn, as they should
    with Simulator(SimConfig()) as sim:
        readers = targets(official_bodies(sim))
    total = failed = 0
    started = time.perf_counter()
    for target in readers:
        count, failure = run(target, examples)
        total += count
        print(f"  {target.name:45} {count:6,} examples  {'FAILED' if failure else 'ok'}")
        if failure:
            failed += 1
            print("    " + failure.replace("\n", "\n    "))
    elapsed = time.perf_counter() - started
    print(
        f"fuzz: {total:,} mutated bodies through {len(readers)} readers, {failed} failing; {total / elapsed:,.0f} a second"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
