"""Embeddings through the engine against the simulator: 100,000 short texts, texts/s and client
CPU per text, against a floor measured in the same run: a bare aiohttp loop sending the same
packed requests (the packs cloudburst makes, each body serialised with orjson, posted, its
answer parsed with orjson), with as many requests in flight.

The simulator runs as `python -m cloudburst sim` in its own process, so it has a core of its own.
Vectors are 16 floats wide, so the simulator's drawing of them does not hide the client's work.

    python bench/embed.py            # 100,000 texts on OpenAI and Cohere
    python bench/embed.py --quick    # 20,000
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterator

import aiohttp
import orjson
from engine import simulator  # bench/ is the script's own folder, first on sys.path

from cloudburst import EmbeddingOptions, LLMClient, RateLimits
from cloudburst._direct import direct_adapter
from cloudburst._embed import packs
from cloudburst._registry import get_model

KEY = "sk-bench"
DIMENSIONS = 16
CONCURRENCY = 64
MODELS = {"text-embedding-3-small": "/v1", "embed-v4.0": ""}
"""Model -> its provider's base path on the simulator."""


def texts(n: int) -> list[str]:
    return [f"A short text to embed, number {i:07d}." for i in range(n)]


def bodies(model: str, n: int) -> Iterator[bytes]:
    """The requests cloudburst sends for `texts(n)`, packed and built the same way, lazily."""
    info = get_model(model)
    provider, adapter = direct_adapter(info)
    options = EmbeddingOptions(dimensions=DIMENSIONS)
    ratio = provider.token_ratio or (1.0, 1.0)
    for pack in packs(texts(n), info, adapter, ratio, options):
        yield orjson.dumps(adapter.build_body(info.name, pack.texts, options))


async def floor(url: str, model: str, n: int) -> float:
    """Wall seconds for the packed requests from a bare aiohttp worker pool (packing included,
    as the client packs as it goes)."""
    _, adapter = direct_adapter(get_model(model))
    headers = {"content-type": "application/json", "authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        started = time.perf_counter()
        todo = bodies(model, n)

        async def worker() -> None:
            for body in todo:
                async with session.post(url + adapter.PATH, data=body, headers=headers) as response:
                    assert response.status == 200, await response.text()
                    orjson.loads(await response.read())

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - started


def measure(root: str, model: str, n: int) -> str:
    url = root.removesuffix("/v1") + MODELS[model]
    provider = get_model(model).provider
    cpu = time.process_time()
    floor_wall = asyncio.run(floor(url, model, n))
    floor_cpu = time.process_time() - cpu
    client = LLMClient(
        model,
        base_urls={provider: url},
        api_keys={provider: KEY},
        limits=RateLimits(max_concurrency=CONCURRENCY),
        progress="rich",
    )
    cpu, started = time.process_time(), time.perf_counter()
    results = client.embed(texts(n), options=EmbeddingOptions(dimensions=DIMENSIONS))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    ok = sum(r.ok for r in results)
    requests = client.tracker.attempts
    return (
        f"{model}: {n:,} texts in {requests:,} requests ({ok:,} ok): {n / wall:,.0f} texts/s vs floor "
        f"{n / floor_wall:,.0f} = {floor_wall / wall:.2f}x; client CPU {cpu / n * 1e6:.1f} µs/text vs floor "
        f"{floor_cpu / n * 1e6:.1f} = {cpu / floor_cpu:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    n = 20_000 if parser.parse_args().quick else 100_000
    with simulator() as root:
        measure(root, "text-embedding-3-small", 5_000)  # warm both sides up
        rows = [measure(root, model, n) for model in MODELS]
    print("\nembeddings, concurrency", CONCURRENCY)
    for row in rows:
        print("  " + row)


if __name__ == "__main__":
    main()
