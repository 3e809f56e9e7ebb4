"""How many simple chat requests per second the simulator answers on one core.

The simulator runs as `python -m cloudburst sim` in its own process (so it has a core to
itself); this process drives it over keep-alive connections with a minimal raw-socket HTTP
client, cheap enough not to be the bottleneck. Reported: answers per wall-clock second, and
per second of the server process's own CPU time (what one core sustains).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

CONCURRENCY = 128
WARMUP_S = 1.0
MEASURE_S = 4.0
BODY = json.dumps(
    {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Answer in one line."},
            {"role": "user", "content": "Name three primes."},
        ],
        "max_completion_tokens": 32,
    }
).encode()


def request_bytes(port: int) -> bytes:
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer sk-bench\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    )
    return head.encode() + BODY


async def worker(port: int, stop_at: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = request_bytes(port)
    try:
        while time.perf_counter() < stop_at:
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            counts[0 if status == 200 else 1] += 1
    finally:
        writer.close()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(port: int, seconds: float) -> tuple[int, int, float]:
    counts = [0, 0]
    started = time.perf_counter()
    await asyncio.gather(*(worker(port, started + seconds, counts) for _ in range(CONCURRENCY)))
    return counts[0], counts[1], time.perf_counter() - started


def main() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "cloudburst", "sim", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        asyncio.run(drive(port, WARMUP_S))
        cpu_before = cpu_seconds(server.pid)
        ok, failed, elapsed = asyncio.run(drive(port, MEASURE_S))
        cpu = cpu_seconds(server.pid) - cpu_before
        print(
            f"simulator, simple chat, concurrency {CONCURRENCY}: {ok / elapsed:,.0f} requests/s wall, "
            f"{ok / cpu:,.0f} requests per server CPU-second ({failed} non-200)"
        )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
