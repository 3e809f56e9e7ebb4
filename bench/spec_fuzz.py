"""The spec fuzz test's check (tests/test_spec_fuzz.py) over many more mutations than `make test`
runs: each mutation of the real specs is refused at its line or generates running code, never
a traceback, never a wrong spec accepted. Prints how the mutations ended and the time each took.

    .venv/bin/python bench/spec_fuzz.py [COUNT] [SEED]
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.spec_mutations import MUTATIONS, SPECS, Baseline, check_mutation, is_schema_file  # noqa: E402

COUNT = 1000
SCHEMA_SHARE = 0.2
"""As in the test: schema files regenerate the provider's models, ten times slower a mutation."""


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else COUNT
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    schema_files = [f for f in MUTATIONS if is_schema_file(f)]
    mapping_files = [f for f in MUTATIONS if not is_schema_file(f)]
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        specs = Path(tmp) / "specs"
        shutil.copytree(SPECS, specs)
        baseline = Baseline(specs)
        started = time.perf_counter()
        for _ in range(count):
            file = rng.choice(schema_files if rng.random() < SCHEMA_SHARE else mapping_files)
            mutation = rng.choice(MUTATIONS[file])
            try:
                outcomes[check_mutation(baseline, mutation)] += 1
            except AssertionError as exc:
                outcomes["FAILED"] += 1
                failures.append(str(exc).splitlines()[0])
        elapsed = time.perf_counter() - started
    total = sum(len(m) for m in MUTATIONS.values())
    print(
        f"spec fuzz: {count:,} of {total:,} mutations in {elapsed:.0f}s ({elapsed / count * 1000:.0f} ms each): "
        + ", ".join(f"{n:,} {outcome}" for outcome, n in sorted(outcomes.items()))
    )
    for failure in failures:
        print(f"  {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
