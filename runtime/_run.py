"""`cloudburst run`: the main job on the command line. Streams a JSONL of prompts through an
LLMClient and writes each result as one JSONL line the moment it is final.

An input line is a JSON string, or an object with an optional `id`, either `prompt` (a string)
or `messages` (OpenAI chat format), and optional per-line settings (`max_new_tokens`,
`temperature`, `top_p`, `seed`, `stop`, `reasoning_effort`, `json_mode`). A bad line stops the
job with its line number; results already written stay, and prompts already sent finish first.
`--simulate` runs the job against the local provider simulator instead of the real providers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from cloudburst._client import LLMClient
from cloudburst._config import RateLimits, RetryPolicy
from cloudburst._conversation import Conversation
from cloudburst._errors import CloudburstError
from cloudburst._progress import ProgressKind
from cloudburst._prompt import Completed, Prompt
from cloudburst._response import APIResponse
from cloudburst._sampling import SamplingParams
from cloudburst._sim.config import WINDOW_SECONDS
from cloudburst.generated import PROVIDERS

log = logging.getLogger("cloudburst")

LINE_SETTINGS = ("max_new_tokens", "temperature", "top_p", "seed", "stop", "reasoning_effort", "json_mode")
"""SamplingParams fields a line may set for itself."""


class InputError(CloudburstError):
    """A line of the input that is not a prompt; the message names the file and line."""


def count_lines(path: Path) -> int:
    """Non-blank lines, read in large blocks: the bar's total, at a fraction of parsing cost."""
    count = 0
    with path.open("rb") as data:
        for line in data:
            if line.strip():
                count += 1
    return count


class PromptReader:
    """Prompts from a JSONL file, read lazily; identical per-line settings share one
    SamplingParams, so the client checks each distinct combination once."""

    def __init__(self, path: Path, sampling: SamplingParams) -> None:
        self.path = path
        self.sampling = sampling
        self._interned: dict[tuple[Any, ...], SamplingParams] = {}

    def __iter__(self) -> Iterator[Prompt]:
        with self.path.open("rb") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    yield self.prompt(line, number)

    def _fail(self, number: int, message: str) -> InputError:
        return InputError(f"{self.path}:{number}: {message}")

    def prompt(self, line: bytes, number: int) -> Prompt:
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise self._fail(number, f"not JSON ({exc})") from None
        if isinstance(item, str):
            return Prompt(item, id=str(number))
        if not isinstance(item, dict):
            raise self._fail(number, f"expected a string or an object, got {type(item).__name__}")
        content: str | Conversation
        if isinstance(item.get("prompt"), str):
            content = item["prompt"]
        elif isinstance(item.get("messages"), list):
            try:
                content = Conversation.from_openai(item["messages"])
            except (ValueError, KeyError, TypeError) as exc:
                raise self._fail(number, f"messages: {exc}") from None
        else:
            raise self._fail(number, "an object needs 'prompt' (a string) or 'messages' (OpenAI chat format)")
        prompt_id = item.get("id", number)
        return Prompt(content, id=str(prompt_id), sampling=self._sampling(item, number))

    def _sampling(self, item: dict[str, Any], number: int) -> SamplingParams | None:
        settings = {name: item[name] for name in LINE_SETTINGS if name in item}
        if not settings:
            return None
        key = tuple((name, orjson.dumps(value)) for name, value in sorted(settings.items()))
        sampling = self._interned.get(key)
        if sampling is None:
            try:
                sampling = SamplingParams.model_validate({**self.sampling.model_dump(exclude_none=True), **settings})
            except ValueError as exc:
                raise self._fail(number, f"bad setting: {exc}") from None
            self._interned[key] = sampling
        return sampling


def result_line(done: Completed) -> bytes:
    """One result as a JSONL line: what was asked for, what came back, what it cost."""
    response: APIResponse = done.response
    error = response.error
    usage = response.usage
    record = {
        "id": done.id,
        "model": response.model,
        "completion": response.completion,
        "finish_reason": response.finish_reason,
        "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
        "cost": response.total_cost,
        "attempts": response.attempts,
        "error": None if error is None else {"kind": error.kind, "message": error.message},
    }
    return orjson.dumps(record) + b"\n"


async def run_job(client: LLMClient, reader: PromptReader, output: IO[bytes], total: int | None) -> None:
    async for done in client.as_completed(reader, total=total):
        output.write(result_line(done))


def limits_from(args: argparse.Namespace) -> RateLimits | None:
    given = {
        "rpm": args.rpm,
        "tpm": args.tpm,
        "input_tpm": args.input_tpm,
        "output_tpm": args.output_tpm,
        "max_concurrency": args.concurrency,
    }
    return RateLimits(**given) if any(v is not None for v in given.values()) else None


def cmd_run(args: argparse.Namespace) -> int:
    sampling = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature)
    progress: ProgressKind = None if args.progress == "off" else args.progress
    limits = limits_from(args)
    with contextlib.ExitStack() as stack:
        base_urls: dict[str, str] | None = None
        api_keys: dict[str, str] | None = None
        if args.simulate:
            from cloudburst._sim import SimConfig, Simulator

            config = SimConfig(
                rpm=args.rpm,
                tpm=args.tpm,
                input_tpm=args.input_tpm,
                output_tpm=args.output_tpm,
                window_seconds=args.sim_window_seconds,
                latency_ms=args.sim_latency_ms,
                latency_spread_ms=args.sim_latency_ms / 2,
                faults=SimConfig.spread_faults(args.sim_fault_rate),
            )
            sim = stack.enter_context(Simulator(config))
            env = sim.env()
            base_urls = sim.base_urls()
            api_keys = {
                name: env[provider.auth.env]
                for name, provider in PROVIDERS.items()
                if name in base_urls and provider.auth.env in env
            }
            log.info("simulating the providers at %s", sim.url)
        limiter = None
        if args.redis_url:
            from cloudburst._limiter.redis import RedisLimiter

            limiter = RedisLimiter(args.redis_url)
        client = LLMClient(
            args.model,
            weights=args.weights,
            sampling=sampling,
            limits=limits,
            retry=RetryPolicy(max_attempts=args.max_attempts),
            progress=progress,
            api_keys=api_keys,
            base_urls=base_urls,
            limiter=limiter,
        )
        total = count_lines(args.prompts)
        output = stack.enter_context(args.output.open("wb"))
        asyncio.run(run_job(client, PromptReader(args.prompts, sampling), output, total))
    tracker = client.tracker
    log.info("wrote %s results to %s", f"{tracker.done:,}", args.output)
    return 0


def add_run_command(commands: Any) -> None:
    """Add the `run` subcommand to the CLI's subparsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "run", help="run a JSONL of prompts, writing each result as a JSONL line as it completes"
    )
    parser.add_argument("prompts", type=Path, help="JSONL: strings, or objects with prompt or messages")
    parser.add_argument("-o", "--output", type=Path, required=True, help="results, one JSONL line per prompt")
    parser.add_argument("--model", action="append", required=True, help="repeat for several models")
    parser.add_argument("--weights", type=float, nargs="+", help="one per --model: the share of first attempts")
    parser.add_argument("--rpm", type=int, help="requests per minute, per model")
    parser.add_argument("--tpm", type=int, help="tokens per minute (input + max output), per model")
    parser.add_argument("--input-tpm", type=int, help="input tokens per minute, per model (Anthropic)")
    parser.add_argument("--output-tpm", type=int, help="output tokens per minute, per model (Anthropic)")
    parser.add_argument("--concurrency", type=int, help="requests in flight, per model")
    parser.add_argument("--max-attempts", type=int, default=RetryPolicy().max_attempts)
    parser.add_argument("--max-new-tokens", type=int)
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--progress", choices=["rich", "tqdm", "off"], default="rich")
    parser.add_argument(
        "--redis-url", help="share the limits with every process using this Redis (redis://host:port/db)"
    )
    parser.add_argument("--simulate", action="store_true", help="run against the local provider simulator")
    parser.add_argument("--sim-latency-ms", type=float, default=0.0, help="with --simulate: mean answer time")
    parser.add_argument("--sim-fault-rate", type=float, default=0.0, help="with --simulate: share of faulty answers")
    parser.add_argument(
        "--sim-window-seconds", type=float, default=WINDOW_SECONDS, help="with --simulate: limit windows (60: whole)"
    )
    parser.set_defaults(handler=cmd_run)
