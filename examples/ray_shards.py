"""A JSONL of prompts split over four Ray actors that share one rate limit through Redis.

Each actor runs its own LLMClient over its shard; one RedisLimiter makes the four (on one
machine or many) send at the provider's limit together, not four times it. With a local
simulator enforcing 6,000 RPM:

    pip install 'cloudburst[ray]'
    redis-server --port 6379 --save '' --appendonly no &
    cloudburst sim --port 8000 --rpm 6000 --latency-ms 200 &
    OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=sk-sim \\
        python examples/ray_shards.py examples/demo_prompts.jsonl -o build/ray --rpm 6000 \\
        --redis-url redis://127.0.0.1:6379/0

`ray.init()` starts a local cluster; pass `--address auto` to join a running one (every node
must reach the Redis and the provider). Each line of the JSONL is a string or an object with
"prompt" (and optionally "id"); each actor writes `shard-N.jsonl` into the output folder.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import ray

from cloudburst import LLMClient, Prompt, RateLimits, RedisLimiter, SamplingParams

FORWARDED = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY")
"""Provider settings handed to the actors, which may run on machines without them."""


@ray.remote
class Shard:
    """One shard's client. Its limiter is the shared one: every actor's RedisLimiter names the
    same Redis, so they draw from one bucket per (provider, model)."""

    def __init__(self, env: dict[str, str], model: str, rpm: float, redis_url: str, max_new_tokens: int) -> None:
        os.environ.update(env)
        self.client = LLMClient(
            model,
            limits=RateLimits(rpm=rpm),
            limiter=RedisLimiter(redis_url),
            sampling=SamplingParams(max_new_tokens=max_new_tokens),
            progress=None,
        )

    def run(self, lines: list[str], output: str) -> dict[str, int]:
        prompts = [_prompt(line) for line in lines]
        results = self.client.run(prompts)
        failed = 0
        with open(output, "w") as out:
            for prompt, response in zip(prompts, results, strict=True):
                error = response.error
                failed += error is not None
                record = {"id": prompt.id, "completion": response.completion, "error": error and error.message}
                out.write(json.dumps(record) + "\n")
        return {"prompts": len(prompts), "failed": failed}


def _prompt(line: str) -> Prompt:
    item: Any = json.loads(line)
    if isinstance(item, str):
        return Prompt(item)
    return Prompt(item["prompt"], id=None if item.get("id") is None else str(item["id"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("prompts", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True, help="a folder for shard-N.jsonl")
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--model", default="gpt-4.1-mini")
    parser.add_argument("--rpm", type=float, required=True, help="the limit the shards share")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--address", help="a running Ray cluster ('auto'); a local one by default")
    args = parser.parse_args()

    lines = [line for line in args.prompts.read_text().splitlines() if line.strip()]
    args.output.mkdir(parents=True, exist_ok=True)
    ray.init(address=args.address, include_dashboard=False, log_to_driver=False)
    env = {name: os.environ[name] for name in FORWARDED if name in os.environ}
    actors = [
        Shard.remote(env, args.model, args.rpm, args.redis_url, args.max_new_tokens)  # type: ignore[attr-defined]
        for _ in range(args.shards)
    ]
    counts = ray.get(
        [
            actor.run.remote(lines[n :: args.shards], str(args.output / f"shard-{n}.jsonl"))
            for n, actor in enumerate(actors)
        ]
    )
    print(json.dumps({"prompts": sum(c["prompts"] for c in counts), "failed": sum(c["failed"] for c in counts)}))


if __name__ == "__main__":
    main()
