"""Files: 1,000 prompts sharing 5 PDFs (1 MiB each) against the simulator (in its own process),
with the upload strategy on (each PDF uploaded once, then named by id) and off (every PDF inline
in every request): bytes sent by the client and wall time, as ratios of on to off measured in
the same run.

    python bench/files.py            # N=1,000
    python bench/files.py --quick    # N=200
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Mapping
from typing import Any

from engine import KEY, MAX_TOKENS, Row, print_table, simulator

from cloudburst import (
    AiohttpTransport,
    APIResponse,
    Conversation,
    Document,
    FileUploadStrategy,
    LLMClient,
    RateLimits,
    SamplingParams,
    Timeouts,
)

PDFS = 5
PDF_BYTES = 1024 * 1024
CONCURRENCY = 64


class Counting(AiohttpTransport):
    """The default transport, counting the request bytes it sends."""

    def __init__(self) -> None:
        super().__init__(max_connections=CONCURRENCY)
        self.bytes = 0

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeouts: Timeouts, *, pool: str
    ) -> Any:
        self.bytes += len(body)
        return await super().send(method, url, headers, body, timeouts, pool=pool)


def run(url: str, prompts: list[Conversation], strategy: FileUploadStrategy) -> tuple[int, float]:
    transport = Counting()
    client = LLMClient(
        "claude-haiku-4-5",
        base_urls={"anthropic": url},
        api_keys={"anthropic": KEY},
        sampling=SamplingParams(max_new_tokens=MAX_TOKENS),
        limits=RateLimits(max_concurrency=CONCURRENCY),
        progress=None,
        transport=transport,
        file_uploads=strategy,
    )

    async def job() -> list[APIResponse]:
        try:
            return await client.run_async(prompts)
        finally:
            await transport.aclose()  # the caller's transport: the client leaves it open

    start = time.perf_counter()
    results = asyncio.run(job())
    elapsed = time.perf_counter() - start
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    return transport.bytes, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 prompts, for a smoke run")
    n = 200 if parser.parse_args().quick else 1_000
    rng = random.Random(0)
    pdfs = [Document(data=b"%PDF-1.4\n" + rng.randbytes(PDF_BYTES), filename=f"report-{i}.pdf") for i in range(PDFS)]
    prompts = [Conversation.user([pdfs[i % PDFS], f"Question {i}: what does page one say?"]) for i in range(n)]
    with simulator() as url:
        off_bytes, off_time = run(url, prompts, FileUploadStrategy(prefer="inline"))
        on_bytes, on_time = run(url, prompts, FileUploadStrategy())
    rows = [
        Row("prompts, PDFs (each)", f"{n:,}, {PDFS} ({PDF_BYTES // 1024:,} KiB)", "", ""),
        Row("bytes sent, uploads off", f"{off_bytes / 1e6:,.1f} MB", "", ""),
        Row("bytes sent, uploads on", f"{on_bytes / 1e6:,.1f} MB", "", ""),
        Row("wall time, off / on", f"{off_time:.2f} s / {on_time:.2f} s", "", ""),
        Row(
            "bytes on / off",
            f"{on_bytes / off_bytes:.4f}",
            f"<= {PDFS * 1.1 / n:.4f}",
            "ok" if on_bytes / off_bytes <= PDFS * 1.1 / n else "SLOW",
        ),
        Row("time on / off", f"{on_time / off_time:.2f}", "< 1", "ok" if on_time < off_time else "SLOW"),
    ]
    print_table(rows)
    if any(row.verdict == "SLOW" for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
