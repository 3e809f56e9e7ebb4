"""A batch job's client-side cost: rendering and splitting the prompts, and reading the results
back in input order, each against a floor doing the least the same step could (the same
bodies dumped to a file; the same results file's lines decoded), with the simulator in its own
process. Also the peak memory of both steps, and the whole job's wall time.

    python bench/batch.py            # 100,000 prompts, a minute or so
    python bench/batch.py --quick    # 10,000
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import orjson
from engine import Row, print_table, prompts, simulator

from cloudburst import BatchJob, LLMClient, SamplingParams
from cloudburst._sync import run_sync

ROUNDS = 3


def floor_render(texts: list[str], into: Path) -> float:
    """CPU seconds to write each prompt's body as a batch line, with nothing else."""
    cpu = time.process_time()
    with into.open("wb") as out:
        for i, text in enumerate(texts):
            body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": text}], "max_tokens": 16}
            out.write(
                orjson.dumps({"custom_id": f"cb-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body})
            )
            out.write(b"\n")
    return time.process_time() - cpu


def floor_read(results: list[Path]) -> float:
    """CPU seconds to decode every line of the results files, with nothing else."""
    cpu = time.process_time()
    for path in results:
        with path.open("rb") as lines:
            for line in lines:
                orjson.loads(line)
    return time.process_time() - cpu


def peak(step: Callable[[], object]) -> int:
    """Peak traced bytes while `step` runs."""
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def cpu_of(step: Callable[[], object]) -> float:
    cpu = time.process_time()
    step()
    return time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 10_000 if args.quick else 100_000
    texts = prompts(n)
    with simulator("--batch-seconds", "0") as url, tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        client = LLMClient(
            "gpt-4.1-mini",
            base_urls={"openai": url},
            api_keys={"openai": "sk-bench"},
            sampling=SamplingParams(max_new_tokens=16),
            progress=None,
        )
        client.prepare_batch(texts[:1_000], directory=folder / "warm")
        render = floor = float("inf")
        for round_ in range(ROUNDS):  # alternating, best of each: the machine is shared
            lines, job_dir = folder / f"floor{round_}.jsonl", folder / f"job{round_}"
            floor = min(floor, cpu_of(lambda: floor_render(texts, lines)))  # noqa: B023 (called at once)
            render = min(render, cpu_of(lambda: client.prepare_batch(texts, directory=job_dir)))  # noqa: B023
        job = BatchJob.load(folder / "job0", client=client)
        started = time.perf_counter()
        run_sync(job.fetch_async())
        round_trip = time.perf_counter() - started
        results = sorted(job.directory.glob("*.results*.jsonl"))
        read = min(cpu_of(lambda: sum(1 for _ in job.read())) for _ in range(ROUNDS))
        read_floor = min(cpu_of(lambda: floor_read(results)) for _ in range(ROUNDS))
        render_peak = peak(lambda: client.prepare_batch(texts, directory=folder / "peak"))
        read_peak = peak(lambda: sum(1 for _ in job.read()))
    rows = [
        Row(f"render + split {n:,} prompts, CPU vs floor", f"{render / floor:.2f}x ({render:.2f} s)", "", ""),
        Row(f"read {n:,} results in order, CPU vs floor", f"{read / read_floor:.2f}x ({read:.2f} s)", "", ""),
        Row("peak memory: rendering / reading", f"{render_peak / 1e6:.2f} / {read_peak / 1e6:.2f} MB", "flat", ""),
        Row("upload, create, poll, download (batch_seconds 0)", f"{round_trip:.1f} s", "", ""),
    ]
    print_table(rows)


if __name__ == "__main__":
    main()
