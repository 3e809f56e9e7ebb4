"""The engine against the simulator, in one table: overhead, latency-bound throughput, limit
adherence, faults, memory.

The simulator runs as `python -m cloudburst sim` in its own process, so it has a core of its
own; this process is the client. Every ratio compares against a floor measured in the same run:
a bare aiohttp loop with a semaphore that serialises a body with orjson, posts it, and parses
the answer with orjson (the least a working client does). Memory figures come from child
processes, each reporting its own peak (VmHWM).

    python bench/engine.py            # everything (a few minutes)
    python bench/engine.py --quick    # smaller counts, shorter windows, for a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from cloudburst import APIResponse, LLMClient, ProviderError, RateLimits, RetryPolicy, SamplingParams, Timeouts
from cloudburst._prompt import Completed

MODEL = "gpt-4.1-mini"
KEY = "sk-bench"
MAX_TOKENS = 16


@dataclass
class Sizes:
    overhead_n: int = 20_000
    overhead_concurrency: int = 256
    latency_n: int = 10_000
    latency_concurrency: int = 500
    window_s: float = 30.0
    rpm: int = 6_000
    tpm: int = 600_000
    faults_n: int = 10_000
    memory_n: int = 100_000
    stream_small: int = 50_000
    stream_large: int = 200_000


QUICK = Sizes(
    overhead_n=5_000,
    latency_n=3_000,
    window_s=8.0,
    rpm=3_000,
    tpm=150_000,
    faults_n=3_000,
    memory_n=20_000,
    stream_small=10_000,
    stream_large=40_000,
)


@dataclass
class Row:
    measure: str
    value: str
    target: str
    verdict: str


# the simulator, in its own process ----------------------------------------------------------------


@contextmanager
def simulator(*flags: str) -> Iterator[str]:
    """A simulator subprocess; yields its base URL (`.../v1`)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "cloudburst", "sim", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.terminate()
        server.wait()


def prompts(n: int) -> list[str]:
    """Same-length prompts, so each costs the simulator the same number of tokens."""
    return [f"Question number {i:07d}: name three prime numbers." for i in range(n)]


def sim_tokens_per_request() -> int:
    """What the simulator charges one of `prompts()` against a TPM limit, as OpenAI does: about
    four characters a token for the prompt, plus the whole max_tokens."""
    return len(prompts(1)[0]) // 4 + 1 + MAX_TOKENS


# the floor ---------------------------------------------------------------------------------------


async def floor(url: str, n: int, concurrency: int) -> float:
    """Wall seconds for n requests from a bare aiohttp loop with a semaphore-sized worker pool."""
    headers = {"content-type": "application/json", "authorization": f"Bearer {KEY}"}
    texts = prompts(n)
    next_index = iter(range(n))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for i in next_index:
                body = orjson.dumps(
                    {
                        "model": MODEL,
                        "messages": [{"role": "user", "content": texts[i]}],
                        "max_completion_tokens": MAX_TOKENS,
                    }
                )
                async with session.post(f"{url}/chat/completions", data=body, headers=headers) as response:
                    orjson.loads(await response.read())

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def timed_floor(url: str, n: int, concurrency: int) -> tuple[float, float]:
    """(client CPU seconds, wall seconds)."""
    cpu = time.process_time()
    wall = asyncio.run(floor(url, n, concurrency))
    return time.process_time() - cpu, wall


def client(url: str, limits: RateLimits, progress: str | None = "rich", **settings: object) -> LLMClient:
    return LLMClient(
        MODEL,
        base_urls={"openai": url},
        api_keys={"openai": KEY},
        sampling=SamplingParams(max_new_tokens=MAX_TOKENS),
        limits=limits,
        progress=progress,  # type: ignore[arg-type]
        **settings,  # type: ignore[arg-type]
    )


def timed_client(url: str, n: int, limits: RateLimits, **settings: object) -> tuple[float, float, LLMClient]:
    engine = client(url, limits, **settings)
    texts = prompts(n)
    cpu, started = time.process_time(), time.perf_counter()
    results = engine.run(texts)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert len(results) == n
    return cpu, wall, engine


# the measures ------------------------------------------------------------------------------------


def overhead(sizes: Sizes) -> list[Row]:
    n, c = sizes.overhead_n, sizes.overhead_concurrency
    with simulator() as url:
        timed_floor(url, 2_000, c)  # warm both up: the server, and each side's first-use costs
        timed_client(url, 2_000, RateLimits(max_concurrency=c))
        floor_cpu, floor_wall = timed_floor(url, n, c)
        cpu, wall, engine = timed_client(url, n, RateLimits(max_concurrency=c))
        streamed_cpu, _, streamer = timed_client(url, n // 4, RateLimits(max_concurrency=c), stream=True)
    ok = engine.tracker.succeeded
    ratio = cpu / floor_cpu
    streamed_ratio = (streamed_cpu / (n // 4)) / (cpu / n)
    return [
        Row(
            f"1 overhead: client CPU per request, N={n:,}, concurrency {c}, latency 0, rich bar on",
            f"{cpu / n * 1e6:,.0f} µs vs floor {floor_cpu / n * 1e6:,.0f} µs = {ratio:.2f}x "
            f"({n / wall:,.0f} vs {n / floor_wall:,.0f} req/s; {ok:,} ok)",
            "<= 1.3x floor",
            "ok" if ratio <= 1.3 else "MISS",
        ),
        Row(
            f"1b streamed: client CPU per request, N={n // 4:,}, {MAX_TOKENS} tokens an answer, folded",
            f"{streamed_cpu / (n // 4) * 1e6:,.0f} µs vs unstreamed {cpu / n * 1e6:,.0f} µs = {streamed_ratio:.2f}x "
            f"({streamer.tracker.succeeded:,} ok)",
            "<= 3x unstreamed",
            "ok" if streamed_ratio <= 3 else "MISS",
        ),
    ]


def latency_bound(sizes: Sizes) -> list[Row]:
    n, c = sizes.latency_n, sizes.latency_concurrency
    with simulator("--latency-ms", "200") as url:
        timed_floor(url, 1_000, c)
        _, floor_wall = timed_floor(url, n, c)
        _, wall, _ = timed_client(url, n, RateLimits(max_concurrency=c))
    ratio = (n / wall) / (n / floor_wall)
    ideal = c / 0.2
    return [
        Row(
            f"2 latency-bound: 200 ms latency, concurrency {c}, N={n:,}",
            f"{n / wall:,.0f} req/s vs floor {n / floor_wall:,.0f} req/s = {ratio:.2f}x (ideal {ideal:,.0f})",
            "~ floor",
            "ok" if ratio >= 0.95 else "MISS",
        )
    ]


def window_rate(done_at: Sequence[float], window: float) -> tuple[int, float]:
    """Completions in the last `window` seconds before the last one (steady state: the bucket's
    first full minute has long been spent by then), and that window's length."""
    end = max(done_at)
    return sum(1 for t in done_at if end - window < t <= end), window


def adherence(sizes: Sizes, *, tokens: bool) -> list[Row]:
    """Both sides at the same limit; enough prompts for the first minute's budget plus the window."""
    if tokens:
        per_request = sim_tokens_per_request()
        per_second = sizes.tpm / 60 / per_request
        flags, limits, what = ("--tpm", str(sizes.tpm)), RateLimits(tpm=sizes.tpm), f"{sizes.tpm:,} TPM"
        burst = sizes.tpm / per_request
    else:
        per_second = sizes.rpm / 60
        flags, limits, what = ("--rpm", str(sizes.rpm)), RateLimits(rpm=sizes.rpm), f"{sizes.rpm:,} RPM"
        burst = sizes.rpm
    n = int(burst + per_second * (sizes.window_s + 4))
    done_at: list[float] = []

    async def job(engine: LLMClient) -> Counter[str]:
        outcomes: Counter[str] = Counter()
        async for done in engine.as_completed(prompts(n)):
            done_at.append(time.perf_counter())
            outcomes["ok" if done.response.ok else done.response.error.kind if done.response.error else "?"] += 1
        return outcomes

    with simulator(*flags) as url:
        engine = client(url, limits, progress=None)
        outcomes = asyncio.run(job(engine))
        stats = orjson.loads(_get(url.removesuffix("/v1") + "/_sim/stats"))
    count, window = window_rate(done_at, sizes.window_s)
    fraction = count / window / per_second
    refused = sum(stats.get("rate_limited", {}).values())
    unit = f" ({per_second * 60:,.0f} requests/min of {sim_tokens_per_request()} tokens)" if tokens else ""
    return [
        Row(
            f"3 adherence: simulator and client at {what}{unit}, last {window:.0f} s of {n:,} prompts",
            f"{fraction:.3f} of the limit; 429s {refused}; {outcomes['ok']:,}/{n:,} ok",
            ">= 0.99, 0 429s",
            "ok" if fraction >= 0.99 and refused == 0 else "MISS",
        )
    ]


def _get(url: str) -> bytes:
    async def fetch() -> bytes:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return await response.read()

    return asyncio.run(fetch())


def faults(sizes: Sizes) -> list[Row]:
    n = sizes.faults_n
    limits = RateLimits(max_concurrency=256)
    settings = {
        "timeouts": Timeouts(connect=2.0, first_byte=0.5, total=2.0),
        "retry": RetryPolicy(max_attempts=6, backoff_base=0.05, backoff_cap=0.5),
    }

    def job(url: str) -> tuple[float, list[Completed], LLMClient]:
        engine = client(url, limits, progress=None, **settings)

        async def collect() -> list[Completed]:
            return [done async for done in engine.as_completed(prompts(n))]

        started = time.perf_counter()
        done = asyncio.run(collect())
        return time.perf_counter() - started, done, engine

    with simulator() as url:
        clean_wall, _, _ = job(url)
    with simulator("--fault-rate", "0.1", "--hang-s", "2") as url:
        wall, done, engine = job(url)
    indexes = Counter(d.index for d in done)
    complete = sorted(indexes) == list(range(n)) and set(indexes.values()) == {1}
    tracker = engine.tracker
    failed = ", ".join(f"{k} {v}" for k, v in tracker.errors.items()) or "none"
    retried = ", ".join(f"{k} {v}" for k, v in sorted(tracker.retried.items()))
    rows = [
        Row(
            f"4 faults: 10% injected (500, 503, hangs, resets, malformed, truncated), N={n:,}",
            f"{'every prompt ended exactly once' if complete else 'LOST OR DUPLICATED'}: {tracker.succeeded:,} ok, "
            f"failed: {failed}; retried: {retried}; {n / wall:,.0f} req/s vs {n / clean_wall:,.0f} fault-free "
            f"({clean_wall / wall:.2f}x)",
            "none lost or duplicated",
            "ok" if complete and tracker.done == n else "MISS",
        )
    ]
    # 429s: two clients share one provider limit, each told the whole of it (another process
    # on the same key): only the provider's headers and 429s can keep them in line
    limit = sizes.rpm // 5
    each = limit * 2 // 3
    with simulator("--rpm", str(limit)) as url:
        pair = [client(url, RateLimits(rpm=limit), progress=None, retry=RetryPolicy(max_attempts=10)) for _ in "ab"]

        async def both() -> list[list[APIResponse]]:
            return await asyncio.gather(*(c.run_async(prompts(each)) for c in pair))

        started = time.perf_counter()
        results = [r for batch in asyncio.run(both()) for r in batch]
        wall = time.perf_counter() - started
    ok = sum(1 for r in results if r.ok)
    ended = len(results) == 2 * each and all(r.ok or isinstance(r.error, ProviderError) for r in results)
    kinds = Counter(r.error.kind for r in results if r.error is not None)
    seen = sum(c.tracker.rate_limited for c in pair)
    ideal = (2 * each - limit) / (limit / 60)
    rows.append(
        Row(
            f"4 faults: 429s, two clients sharing one {limit:,} RPM limit, each told all of it, {each:,} prompts each",
            f"{'every prompt ended once' if ended else 'LOST'}: {ok:,} ok, typed errors {dict(kinds) or 'none'} "
            f"(max 10 attempts); {seen} 429s seen; {wall:.1f} s (the limit allows {ideal:.1f} s)",
            "none lost",
            "ok" if ended else "MISS",
        )
    )
    return rows


PEAK_RSS = """
import sys
from cloudburst._cli import main
code = main(sys.argv[1:])
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]), file=sys.stderr)
sys.exit(code)
"""
"""Runs the CLI, then reports its own peak RSS in kB. (`ru_maxrss` would not do: Linux carries
the parent's high-water mark across fork and exec; VmHWM starts afresh with the new program.)"""


def _peak_rss_of(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one child that prints its VmHWM (kB) last on stderr."""
    started = time.perf_counter()
    child = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed: {child.stderr[-2000:]}")
    return int(child.stderr.strip().splitlines()[-1]) / 1024, wall


def memory(sizes: Sizes) -> list[Row]:
    rows = []
    with simulator() as url:
        rss, wall = _peak_rss_of([sys.executable, __file__, "--in-memory", str(sizes.memory_n), url])
        rows.append(
            Row(
                f"5 memory: peak RSS, {sizes.memory_n:,} prompts and results in memory (client.run)",
                f"{rss:,.0f} MB ({sizes.memory_n / wall:,.0f} req/s)",
                "<= 400 MB",
                "ok" if rss <= 400 else "MISS",
            )
        )
        env = {**os.environ, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": KEY}
        figures = []
        with tempfile.TemporaryDirectory() as tmp:
            for n in (sizes.stream_small, sizes.stream_large):
                source = Path(tmp) / f"prompts-{n}.jsonl"
                with source.open("wb") as out:
                    for i, text in enumerate(prompts(n)):
                        out.write(orjson.dumps({"id": f"q{i}", "prompt": text}) + b"\n")
                command = [sys.executable, "-c", PEAK_RSS, "run", str(source), "-o", str(Path(tmp) / "out.jsonl")]
                command += ["--model", MODEL, "--max-new-tokens", str(MAX_TOKENS), "--progress", "off"]
                rss, wall = _peak_rss_of(command, env)
                lines = sum(1 for _ in (Path(tmp) / "out.jsonl").open("rb"))
                figures.append((n, rss, wall, lines))
    (small, small_rss, _, small_lines), (large, large_rss, large_wall, large_lines) = figures
    growth = large_rss / small_rss - 1
    rows.append(
        Row(
            f"5 memory: peak RSS, CLI streaming JSONL to JSONL, {small:,} vs {large:,} prompts",
            f"{small_rss:,.0f} MB vs {large_rss:,.0f} MB ({growth:+.1%}); {large:,} lines in "
            f"{large_wall:.0f} s; all written: {small_lines == small and large_lines == large}",
            "within 10%",
            "ok" if abs(growth) <= 0.10 and small_lines == small and large_lines == large else "MISS",
        )
    )
    return rows


def in_memory(n: int, url: str) -> None:
    """Child process of `memory`: one job of n prompts, all results kept."""
    engine = client(url, RateLimits(max_concurrency=256), progress=None)
    results = engine.run(prompts(n))
    assert len(results) == n and all(r.ok for r in results)
    status = Path("/proc/self/status").read_text()
    print(int(status.split("VmHWM:")[1].split()[0]), file=sys.stderr)


def print_table(rows: list[Row]) -> None:
    widths = [max(len(getattr(r, f)) for r in rows) for f in ("measure", "value", "target", "verdict")]
    header = ("measure", "result", "target", "")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        cells = (r.measure, r.value, r.target, r.verdict)
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts and windows, for a smoke run")
    parser.add_argument("--only", help="comma-separated sections: overhead,latency,adherence,faults,memory")
    parser.add_argument("--in-memory", nargs=2, metavar=("N", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_memory:
        in_memory(int(args.in_memory[0]), args.in_memory[1])
        return
    sizes = QUICK if args.quick else Sizes()
    chosen = set((args.only or "overhead,latency,adherence,faults,memory").split(","))
    rows: list[Row] = []
    sections = {
        "overhead": lambda: overhead(sizes),
        "latency": lambda: latency_bound(sizes),
        "adherence": lambda: adherence(sizes, tokens=False) + adherence(sizes, tokens=True),
        "faults": lambda: faults(sizes),
        "memory": lambda: memory(sizes),
    }
    for name, section in sections.items():
        if name in chosen:
            print(f"... {name}", file=sys.stderr, flush=True)
            rows += section()
    print_table(rows)


if __name__ == "__main__":
    main()
