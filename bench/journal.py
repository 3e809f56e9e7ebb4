"""The journal's cost: the same job with `journal=` and without, against the simulator in its own
process. Client CPU per request at latency 0 (where any overhead shows), wall time at 200 ms
latency (where it must not), and how fast a finished job is restored from its journal.

Each mode runs alternately several times and keeps its best, as the machine is shared.

    python bench/journal.py            # a minute or so
    python bench/journal.py --quick    # smaller counts, for a smoke run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from engine import Row, client, print_table, prompts, simulator

from cloudburst import LLMClient, RateLimits

ROUNDS = 3


def timed(engine: LLMClient, texts: list[str], journal: Path | None) -> tuple[float, float]:
    """(client CPU seconds, wall seconds) of one job."""
    cpu, started = time.process_time(), time.perf_counter()
    results = engine.run(texts, journal=journal)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert len(results) == len(texts) and all(r.ok for r in results)
    return cpu, wall


def best_of(url: str, n: int, concurrency: int, folder: Path) -> dict[str, tuple[float, float]]:
    """Best (CPU, wall) per mode over ROUNDS alternating rounds; each journaled job starts a new
    journal. Also the restore: the last journal read back by a job that sends nothing."""
    folder.mkdir()
    engine = client(url, RateLimits(max_concurrency=concurrency), progress=None)
    texts = prompts(n)
    timed(engine, texts[:2_000], None)  # warm up both sides
    timed(engine, texts[:2_000], folder / "warm.journal")
    best: dict[str, tuple[float, float]] = {}
    journal = folder / "none"
    for round_ in range(ROUNDS):
        for mode in ("off", "on"):
            journal = folder / f"{round_}.journal"
            measured = timed(engine, texts, journal if mode == "on" else None)
            best[mode] = min(best.get(mode, measured), measured)
    best["restore"] = timed(engine, texts, journal)
    assert engine.tracker.restored == n
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_cpu, n_wall = (4_000, 2_000) if args.quick else (20_000, 10_000)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        print("... journal: latency 0", file=sys.stderr, flush=True)
        with simulator() as url:
            cpu = best_of(url, n_cpu, 256, Path(folder) / "cpu")
        print("... journal: latency 200 ms", file=sys.stderr, flush=True)
        with simulator("--latency-ms", "200") as url:
            wall = best_of(url, n_wall, 500, Path(folder) / "wall")
    (off_cpu, _), (on_cpu, _) = cpu["off"], cpu["on"]
    ratio = on_cpu / off_cpu
    rows.append(
        Row(
            f"journal: client CPU per request, N={n_cpu:,}, concurrency 256, latency 0",
            f"on {on_cpu / n_cpu * 1e6:,.0f} µs vs off {off_cpu / n_cpu * 1e6:,.0f} µs = {ratio:.2f}x",
            "<= 1.1x off",
            "ok" if ratio <= 1.1 else "MISS",
        )
    )
    (_, off_wall), (_, on_wall) = wall["off"], wall["on"]
    ratio = on_wall / off_wall
    rows.append(
        Row(
            f"journal: wall, N={n_wall:,}, concurrency 500, latency 200 ms",
            f"on {on_wall:.2f} s vs off {off_wall:.2f} s = {ratio:.2f}x ({n_wall / on_wall:,.0f} req/s)",
            "~ off (<= 1.05x)",
            "ok" if ratio <= 1.05 else "MISS",
        )
    )
    restore_cpu, restore_wall = cpu["restore"]
    rows.append(
        Row(
            f"journal: a finished job of {n_cpu:,} run again (restored, nothing sent)",
            f"{n_cpu / restore_wall:,.0f} prompts/s, {restore_cpu / n_cpu * 1e6:,.0f} µs CPU each",
            "0 requests",
            "ok",
        )
    )
    print_table(rows)


if __name__ == "__main__":
    main()
