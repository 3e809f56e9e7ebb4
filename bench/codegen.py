"""How long a full regeneration takes, in a fresh process each time (what `make generate` costs)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5


def main() -> None:
    times = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "codegen", "--out", out], check=True, cwd=ROOT, capture_output=True)
            times.append(time.perf_counter() - started)
    print(
        f"full regeneration, fresh process, {RUNS} runs: median {statistics.median(times):.2f}s, max {max(times):.2f}s"
    )


if __name__ == "__main__":
    main()
