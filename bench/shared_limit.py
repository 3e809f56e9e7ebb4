"""One 6,000 RPM key shared by four processes: with one RedisLimiter, then (the "before") with a
limiter each, then as the Ray example's four actors when Ray is installed.

The simulator (its own process) enforces the limit over 1-second windows and answers in about
200 ms; a real redis-server holds the shared buckets. Each process is `cloudburst run` over its
shard of N prompts. The achieved share of the limit is read off the simulator's counters: its
successful answers over the time from its first request to its last answer, as a share of 100
a second; processes starting at different moments cost nothing, since any one of them alone
may use the whole limit.

    python bench/shared_limit.py            # N=3,000
    python bench/shared_limit.py --quick    # N=1,000
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

MODEL = "gpt-4.1-mini"
RPM = 6000
PROCESSES = 4
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout != b"PONG\n":
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait()


@contextmanager
def simulator() -> Iterator[str]:
    """The simulator in its own process; yields its root URL."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cloudburst",
            "sim",
            "--port",
            "0",
            "--rpm",
            str(RPM),
            "--window-seconds",
            "1",
            "--latency-ms",
            "200",
            "--latency-spread-ms",
            "50",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split("http://127.0.0.1:")[1].split()[0])
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def stats(url: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{url}/_sim/stats") as answer:
        return orjson.loads(answer.read())  # type: ignore[no-any-return]


def reset(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/_sim/reset", method="POST")).close()


def measure(sim: str, commands: list[list[str]], outputs: list[Path], n: int) -> tuple[float, float, int]:
    """Run `commands` at once; (achieved share of the limit, share of requests answered 429,
    failed prompts)."""
    reset(sim)
    env = {**os.environ, "OPENAI_BASE_URL": f"{sim}/v1", "OPENAI_API_KEY": "sk-shared-key"}
    jobs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in commands]
    first = last = None
    ok = 0
    while any(job.poll() is None for job in jobs):
        now, seen = time.perf_counter(), stats(sim)
        if first is None and seen["requests"]:  # type: ignore[truthy-bool]
            first = now
        if seen["statuses"].get("200", 0) > ok:  # type: ignore[attr-defined]
            ok, last = seen["statuses"]["200"], now  # type: ignore[index]
        time.sleep(0.02)
    for job in jobs:
        if job.returncode != 0:
            assert job.stderr is not None
            print(job.stderr.read().decode()[-2000:], file=sys.stderr)
    final = stats(sim)
    statuses: dict[str, int] = final["statuses"]  # type: ignore[assignment]
    ok = statuses.get("200", 0)
    failed = n - sum(_succeeded(path) for path in outputs)
    share = ok / (last - first) / (RPM / 60) if first is not None and last is not None and last > first else 0.0
    requests = max(1, int(final["requests"]))  # type: ignore[call-overload]
    return share, statuses.get("429", 0) / requests, failed


def _succeeded(path: Path) -> int:
    if path.is_dir():
        return sum(_succeeded(shard) for shard in path.glob("shard-*.jsonl"))
    if not path.exists():
        return 0
    return sum(orjson.loads(line)["error"] is None for line in path.read_bytes().splitlines())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    n = 1000 if parser.parse_args().quick else 3000
    with tempfile.TemporaryDirectory() as tmp, redis_server() as redis_url, simulator() as sim:
        folder = Path(tmp)
        prompts = [f"Question number {i:07d}: name three prime numbers." for i in range(n)]
        everything = folder / "all.jsonl"
        everything.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in prompts))
        shards = []
        for k in range(PROCESSES):
            shard = folder / f"shard-{k}.jsonl"
            shard.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in prompts[k::PROCESSES]))
            shards.append(shard)

        def runs(label: str, *extra: str) -> tuple[list[list[str]], list[Path]]:
            outputs = [folder / f"out-{label}-{k}.jsonl" for k in range(PROCESSES)]
            commands = [
                [
                    sys.executable,
                    "-m",
                    "cloudburst",
                    "run",
                    str(shard),
                    "-o",
                    str(out),
                    "--model",
                    MODEL,
                    "--rpm",
                    str(RPM),
                    "--max-new-tokens",
                    "16",
                    "--progress",
                    "off",
                    *extra,
                ]
                for shard, out in zip(shards, outputs, strict=True)
            ]
            return commands, outputs

        rows = [
            (f"{PROCESSES} processes, one RedisLimiter", measure(sim, *runs("shared", "--redis-url", redis_url), n)),
            (f"{PROCESSES} processes, a limiter each (before)", measure(sim, *runs("apart"), n)),
        ]
        if importlib.util.find_spec("ray") is not None:
            out = folder / "ray"
            command = [sys.executable, str(ROOT / "examples" / "ray_shards.py"), str(everything), "-o", str(out)]
            command += ["--rpm", str(RPM), "--redis-url", redis_url.replace("/0", "/1"), "--shards", str(PROCESSES)]
            rows.append((f"Ray example, {PROCESSES} actors, one RedisLimiter", measure(sim, [command], [out], n)))
        else:
            print("(Ray is not installed: pip install 'cloudburst[ray]' adds the Ray example's row)")

    print(f"one {RPM:,} RPM key, 1-second windows, ~200 ms answers, N={n:,}")
    print(f"{'scenario':<46}  {'share of limit':>14}  {'429s':>7}  {'failed':>6}  verdict")
    for name, (share, refused, failed) in rows:
        shared = "before" not in name
        verdict = "ok" if share >= 0.97 and refused <= 0.005 and failed == 0 else "MISS"
        print(
            f"{name:<46}  {share:>14.3f}  {refused:>7.2%}  {failed:>6}  "
            + (f"{verdict} (>= 0.97, <= 0.5%, 0)" if shared else "(for comparison)")
        )


if __name__ == "__main__":
    main()
