"""`cloudburst run`: the main job on the command line. Streams a JSONL of prompts through an
LLMClient and writes each result as one JSONL line the moment it is final.

An input line is a JSON string, or an object with an optional `id`, either `prompt` (a string)
or `messages` (OpenAI chat format), and optional per-line settings (`_input.LINE_SETTINGS`). A
line that cannot become a request ends as its own result with an `input` error naming the file
and line; nothing is sent for it and the job goes on. `--dry-run` checks every line against
every model and prints the estimate, sending nothing. `--cache PATH` answers requests already
answered (by any run, or another process) from a SQLite file, at no cost. `--simulate` runs the
job against the local provider simulator instead of the real providers.

Each result goes to the job's journal first and to the output right after its commit (see
`_output`), so running the same command again resumes the job; SIGINT/SIGTERM let the prompts
in flight finish, and the exit code says how the job ended (`RUN_EPILOG`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from cloudburst._cli_args import (
    EXIT_CODES,
    fraction,
    input_file,
    non_negative_float,
    output_file,
    positive_float,
    positive_int,
)
from cloudburst._client import LLMClient
from cloudburst._config import RateLimits, RetryPolicy, Timeouts
from cloudburst._constants import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    JOURNAL_COMMIT_SECONDS,
    ORDERED_WINDOW,
    SHUTDOWN_GRACE_SECONDS,
    STREAM_ABOVE_TOKENS,
)
from cloudburst._dry_run import dry_run
from cloudburst._errors import ConfigurationError
from cloudburst._input import PromptReader, count_lines
from cloudburst._journal import Journal
from cloudburst._options import RequestOptions
from cloudburst._ordered import ReadAhead
from cloudburst._output import Output, check_paths, has_results
from cloudburst._progress import ProgressKind
from cloudburst._prompt import PromptLike
from cloudburst._sampling import SamplingParams
from cloudburst._sim.config import WINDOW_SECONDS
from cloudburst._tools import Tool
from cloudburst.generated import PROVIDERS

log = logging.getLogger("cloudburst")

INTERRUPTS = (signal.SIGINT, signal.SIGTERM)
RUN_EPILOG = f"""\
Each result is journaled (SQLite, beside the output) the moment it is final, and the output line
written right after. Run the same command again to resume: finished prompts are not sent again,
the output ends with every id exactly once. A kill -9 loses at most the results of the last
journal commit interval ({JOURNAL_COMMIT_SECONDS * 1000:g} ms); they are sent again on resume.

{EXIT_CODES}"""


class Interruptible:
    """The job's prompts until a signal stops the pulling; the job then finishes what it holds.
    Iterable more than once, so a resumed job can check its input against the journal first."""

    def __init__(self, prompts: Iterable[PromptLike]) -> None:
        self.prompts = prompts
        self.signal: int | None = None

    def __iter__(self) -> Iterator[PromptLike]:
        for prompt in self.prompts:
            if self.signal is not None:
                return
            yield prompt


async def run_job(
    client: LLMClient,
    prompts: Interruptible,
    journal: Journal,
    total: int | None,
    grace: float,
    ordered: tuple[ReadAhead, Output] | None = None,
) -> None:
    """The job, until it ends or a signal's grace period is over. SIGINT/SIGTERM stop the
    pulling and give the prompts in flight `grace` seconds; a second signal cancels them at once.
    Every result obtained is in the journal (and so in the output) either way. `ordered`: the
    prompts read ahead of the output's order no further than its window (`_ordered`)."""
    loop = asyncio.get_running_loop()

    async def drain() -> None:
        if ordered is None:
            async for _ in client.as_completed(prompts, total=total, journal=journal):
                pass  # the journal writes each output line once the result is committed
            return
        read_ahead, output = ordered
        async for done in client.as_completed(read_ahead, total=total, journal=journal):
            if done.restored:  # in the output already
                output.skip(done.index)
            read_ahead.done(done.index)

    job = asyncio.ensure_future(drain())

    def interrupt(signum: int) -> None:
        if prompts.signal is not None:
            job.cancel()
            return
        prompts.signal = signum
        log.warning(
            "%s: no new prompts; the ones in flight get %gs to finish (again to stop now)",
            signal.Signals(signum).name,
            grace,
        )
        loop.call_later(grace, job.cancel)

    for signum in INTERRUPTS:
        loop.add_signal_handler(signum, interrupt, signum)
    try:
        await job
    except asyncio.CancelledError:
        if prompts.signal is None:
            raise
    finally:
        for signum in INTERRUPTS:
            loop.remove_signal_handler(signum)


def json_file(path: Path, kind: type, what: str) -> Any:
    """A JSON file's content, when it is `what`; else a ConfigurationError naming the file."""
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ConfigurationError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, kind):
        raise ConfigurationError(f"{path}: expected {what}, got {type(data).__name__}")
    return data


def tools_from(path: Path) -> list[Tool]:
    """Tools from a JSON list of `{"name", "description", "parameters"}` (OpenAI's
    `{"type": "function", "function": {...}}` too)."""
    tools = []
    for number, item in enumerate(json_file(path, list, "a list of tools"), 1):
        spec = item.get("function", item) if isinstance(item, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ConfigurationError(f"{path}: tool {number} needs a 'name' (and 'description', 'parameters')")
        parameters = spec.get("parameters", {"type": "object", "properties": {}})
        tools.append(Tool(spec["name"], str(spec.get("description", "")), parameters))
    return tools


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
    output_path: Path = args.output
    journal_path: Path = args.journal or output_path.with_name(output_path.name + ".journal")
    check_paths(args.prompts, output_path, journal_path)
    if args.overwrite:
        for path in (output_path, *(journal_path.with_name(journal_path.name + end) for end in ("", "-wal", "-shm"))):
            path.unlink(missing_ok=True)
    had_results = has_results(output_path)
    if had_results and not journal_path.exists():
        raise ConfigurationError(
            f"{output_path} already holds results and there is no journal {journal_path} to resume it from; "
            "pass --overwrite to replace it (or --journal to name its journal), or choose another -o"
        )
    schema = json_file(args.output_schema, dict, "a JSON schema object") if args.output_schema else None
    sampling = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature, output_schema=schema)
    options = RequestOptions(tools=tools_from(args.tools)) if args.tools else None
    if args.dry_run:
        return dry_run(args.prompts, args.model, sampling)
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
        limiter = None
        if args.redis_url:
            from cloudburst._limiter.redis import RedisLimiter

            limiter = RedisLimiter(args.redis_url)
        client = LLMClient(
            args.model,
            weights=args.weights,
            sampling=sampling,
            limits=limits,
            options=options,
            retry=RetryPolicy(max_attempts=args.max_attempts),
            timeouts=Timeouts(
                connect=args.connect_timeout,
                first_byte=args.first_byte_timeout,
                idle=args.idle_timeout,
                total=args.timeout,
            ),
            stream=True if args.stream == "on" else False if args.stream == "off" else "auto",
            progress=progress,
            api_keys=api_keys,
            base_urls=base_urls,
            cache=args.cache,
            limiter=limiter,
        )
        if args.simulate:
            log.info("simulating the providers at %s", sim.url)
        total = count_lines(args.prompts)
        output = Output(output_path, ordered=args.ordered)
        stack.callback(output.close)
        journal = Journal(journal_path, on_commit=output.write)
        stack.callback(journal.close)  # before the output closes: the last lines go there
        output.resume(journal, had_results)
        prompts = Interruptible(PromptReader(args.prompts, sampling, client.models))
        ordered = (ReadAhead(prompts, args.ordered_window), output) if args.ordered else None
        try:
            asyncio.run(run_job(client, prompts, journal, total, args.grace, ordered))
        except KeyboardInterrupt:  # before the job's own handler was in place
            prompts.signal = signal.SIGINT
        output.finish(journal)
    tracker = client.tracker
    restored = f" ({tracker.restored:,} from the journal)" if tracker.restored else ""
    log.info("%s results in %s%s", f"{tracker.done:,}", output_path, restored)
    if prompts.signal is not None:
        log.warning("interrupted by %s; run the same command again to resume", signal.Signals(prompts.signal).name)
        return 128 + prompts.signal
    return 1 if tracker.failed else 0


def add_run_command(commands: Any) -> None:
    """Add the `run` subcommand to the CLI's subparsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "run",
        help="run a JSONL of prompts, writing each result as a JSONL line as it completes",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("prompts", type=input_file, help="JSONL: strings, or objects with prompt or messages")
    parser.add_argument(
        "-o", "--output", type=output_file, required=True, help="results, one JSONL line per prompt (see README)"
    )
    parser.add_argument("--journal", type=output_file, help="the job's journal (default: the output's path + .journal)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output and its journal instead of resuming"
    )
    parser.add_argument(
        "--grace",
        type=non_negative_float,
        default=SHUTDOWN_GRACE_SECONDS,
        help="seconds the prompts in flight get to finish after SIGINT/SIGTERM (default %(default)g)",
    )
    parser.add_argument(
        "--model", action="append", required=True, help="a model id (cloudburst models); repeat for several"
    )
    parser.add_argument(
        "--weights", type=non_negative_float, nargs="+", help="one per --model: the share of first attempts"
    )
    parser.add_argument("--rpm", type=positive_int, help="requests per minute, per model")
    parser.add_argument("--tpm", type=positive_int, help="tokens per minute (input + max output), per model")
    parser.add_argument("--input-tpm", type=positive_int, help="input tokens per minute, per model (Anthropic)")
    parser.add_argument("--output-tpm", type=positive_int, help="output tokens per minute, per model (Anthropic)")
    parser.add_argument("--concurrency", type=positive_int, help="requests in flight, per model")
    parser.add_argument(
        "--max-attempts",
        type=positive_int,
        default=RetryPolicy().max_attempts,
        help="attempts per prompt, the first included (default %(default)s)",
    )
    parser.add_argument("--max-new-tokens", type=positive_int, help="most tokens to generate per answer")
    parser.add_argument("--temperature", type=non_negative_float, help="sampling temperature (0: most likely)")
    parser.add_argument(
        "--progress",
        choices=["rich", "tqdm", "off"],
        default="rich",
        help="the live display: rich (default), tqdm (pip install 'cloudburst[tqdm]'), or off (summary only)",
    )
    parser.add_argument(
        "--stream",
        choices=["auto", "on", "off"],
        default="auto",
        help=f"stream answers: always, never, or (auto) when --max-new-tokens is over {STREAM_ABOVE_TOKENS:,}",
    )
    parser.add_argument(
        "--timeout", type=positive_float, metavar="SECONDS", help="per attempt, in all (default: from --max-new-tokens)"
    )
    parser.add_argument(
        "--idle-timeout",
        type=positive_float,
        default=DEFAULT_IDLE_TIMEOUT,
        metavar="SECONDS",
        help="a stream silent this long is cut off and retried (default %(default)g)",
    )
    parser.add_argument(
        "--first-byte-timeout",
        type=positive_float,
        metavar="SECONDS",
        help="an unstreamed answer's longest wait for a byte",
    )
    parser.add_argument(
        "--connect-timeout",
        type=positive_float,
        default=DEFAULT_CONNECT_TIMEOUT,
        metavar="SECONDS",
        help="to open a connection (default %(default)g)",
    )
    parser.add_argument(
        "--ordered",
        action="store_true",
        help="write results in input order: a slow prompt holds back at most --ordered-window later ones",
    )
    parser.add_argument(
        "--ordered-window",
        type=positive_int,
        default=ORDERED_WINDOW,
        help="with --ordered: results held at most, waiting for an earlier one (default %(default)s)",
    )
    parser.add_argument(
        "--output-schema",
        type=input_file,
        help="a JSON schema file: answers follow it, and each result's parsed holds the answer as JSON",
    )
    parser.add_argument(
        "--tools", type=input_file, help="a JSON file listing tools (name, description, parameters) the model may call"
    )
    parser.add_argument("--cache", type=output_file, help="a SQLite response cache: answers in it cost nothing")
    parser.add_argument(
        "--dry-run", action="store_true", help="check every line against every model, estimate, send nothing"
    )
    parser.add_argument(
        "--redis-url", help="share the limits with every process using this Redis (redis://host:port/db)"
    )
    parser.add_argument("--simulate", action="store_true", help="run against the local provider simulator")
    parser.add_argument(
        "--sim-latency-ms", type=non_negative_float, default=0.0, help="with --simulate: mean answer time"
    )
    parser.add_argument(
        "--sim-fault-rate", type=fraction, default=0.0, help="with --simulate: share of faulty answers (0 to 1)"
    )
    parser.add_argument(
        "--sim-window-seconds",
        type=positive_float,
        default=WINDOW_SECONDS,
        help="with --simulate: limit windows (60: whole)",
    )
    parser.set_defaults(handler=cmd_run)
