"""`cloudburst batch`: a JSONL of prompts through a provider's batch API, from the shell.

    cloudburst batch submit prompts.jsonl --model claude-haiku-4-5 -o results.jsonl
    cloudburst batch status JOB       # JOB: the id submit printed, or the job's directory
    cloudburst batch wait JOB -o results.jsonl
    cloudburst batch results JOB -o results.jsonl
    cloudburst batch cancel JOB

The input is what `cloudburst run` reads (a bad line is its own result); the output has the same
lines, in input order, written aside and renamed once complete. With `-o`, the job lives beside
the output (`results.jsonl.batch/`), else in the batch home; either way it survives the process,
so any command can be run again, or from another shell, to go on.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from cloudburst._batch.job import BatchJob
from cloudburst._cli_args import input_file, output_file
from cloudburst._client import LLMClient
from cloudburst._constants import BATCH_POLL_SECONDS
from cloudburst._errors import ConfigurationError
from cloudburst._input import PromptReader
from cloudburst._journal import encode
from cloudburst._output import result_line
from cloudburst._progress import ProgressKind
from cloudburst._sampling import SamplingParams
from cloudburst.generated import PROVIDERS

log = logging.getLogger("cloudburst")
EPILOG = """\
exit codes:
  0    every prompt succeeded (status, submit, cancel: the command did what it said)
  1    some prompts ended in errors (the summary counts them by kind)
  2    a usage or input mistake, found before anything was sent
  3    wait: the job was still running after --timeout (run it again to go on)
"""


def _progress(args: argparse.Namespace) -> ProgressKind:
    return None if args.progress == "off" else args.progress


def cmd_submit(args: argparse.Namespace) -> int:
    if args.simulate and not (args.wait and args.output):
        raise ConfigurationError("--simulate runs the simulator in this process only: add --wait and -o")
    directory: Path | None = args.dir
    if directory is None and args.output is not None:
        directory = args.output.with_name(args.output.name + ".batch")
    sampling = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature)
    with contextlib.ExitStack() as stack:
        urls: dict[str, str] | None = None
        keys: dict[str, str] | None = None
        if args.simulate:
            from cloudburst._sim import SimConfig, Simulator

            sim = stack.enter_context(Simulator(SimConfig(batch_seconds=args.sim_batch_seconds)))
            env = sim.env()
            urls = sim.base_urls()
            keys = {name: env[p.auth.env] for name, p in PROVIDERS.items() if p.auth.env in env}
        client = LLMClient(args.model, sampling=sampling, progress=_progress(args), api_keys=keys, base_urls=urls)
        prompts = PromptReader(args.prompts, sampling, client.models)
        job = client.submit_batch(prompts, directory=directory, part_requests=args.part_requests)
        print(f"{job.id} {job.directory}")
        if not args.wait:
            return 0
        job.wait(poll=args.poll)
        return _write(job, args.output) if args.output else 0


def _load(args: argparse.Namespace) -> BatchJob:
    return BatchJob.load(args.job, progress=_progress(args))


def cmd_status(args: argparse.Namespace) -> int:
    status = _load(args).status()
    print(status)
    for part in status.parts:
        print(
            f"  part {part.number}: {part.provider_id or '-'} {part.state}"
            + (f" ({part.outcome})" if part.outcome else "")
            + f", {part.requests:,} requests: {part.succeeded:,} succeeded, {part.errored:,} errored,"
            f" {part.pending:,} pending" + (f"; {part.error}" if part.error else "")
        )
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    job = _load(args)
    try:
        print(job.wait(poll=args.poll, timeout=args.timeout))
    except TimeoutError as exc:
        print(exc)
        return 3
    return _write(job, args.output) if args.output else 0


def cmd_results(args: argparse.Namespace) -> int:
    return _write(_load(args), args.output)


def cmd_cancel(args: argparse.Namespace) -> int:
    print(_load(args).cancel())
    return 0


def _write(job: BatchJob, output: Path) -> int:
    """Every result into `output`, one line each in input order; 1 when any failed."""
    aside = output.with_name(output.name + ".partial")
    failed = 0
    with aside.open("wb") as out:
        for done in job.results():
            failed += done.response.error is not None
            out.write(result_line(encode(done.index, done.id, done.response)))
    os.replace(aside, output)
    log.info("%d results in %s (%d failed)", job.manifest.total, output, failed)
    return 1 if failed else 0


def add_batch_command(commands: Any) -> None:
    """Add `batch` and its subcommands to the CLI's subparsers."""
    batch = commands.add_parser("batch", help="run prompts through a provider's batch API (half price, no rate limit)")
    steps = batch.add_subparsers(dest="step", required=True)

    def step(name: str, help: str, handler: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = steps.add_parser(
            name, help=help, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        parser.add_argument(
            "--progress", choices=["rich", "tqdm", "off"], default="rich", help="the live display, or off"
        )
        parser.set_defaults(handler=handler)
        return parser

    submit = step(
        "submit", "render, split and submit a JSONL of prompts; prints the job's id and directory", cmd_submit
    )
    submit.add_argument("prompts", type=input_file, help="JSONL: strings, or objects with prompt or messages")
    submit.add_argument("--model", required=True, help="a model whose provider has a batch API")
    submit.add_argument("-o", "--output", type=output_file, help="with --wait: the results, one JSONL line per prompt")
    submit.add_argument("--dir", type=Path, help="where the job lives (default: beside -o, else the batch home)")
    submit.add_argument("--part-requests", type=int, help="at most this many requests a part")
    submit.add_argument("--wait", action="store_true", help="then wait for the job (and write -o)")
    submit.add_argument("--poll", type=float, default=BATCH_POLL_SECONDS, help="seconds between polls, at most")
    submit.add_argument("--max-new-tokens", type=int, help="most tokens to generate per answer")
    submit.add_argument("--temperature", type=float, help="sampling temperature")
    submit.add_argument("--simulate", action="store_true", help="against the local provider simulator (with --wait)")
    submit.add_argument("--sim-batch-seconds", type=float, default=2.0, help="with --simulate: how long a batch runs")

    for name, help, handler in (
        ("status", "poll the job once and show its parts", cmd_status),
        ("wait", "submit what is not submitted, then poll until every part has ended", cmd_wait),
        ("results", "wait, download what is not downloaded, write every result", cmd_results),
        ("cancel", "cancel every part still running", cmd_cancel),
    ):
        parser = step(name, help, handler)
        parser.add_argument("job", help="the job's id, or its directory")
        if name in ("wait", "results"):
            parser.add_argument("-o", "--output", type=output_file, required=name == "results", help="the results file")
        if name == "wait":
            parser.add_argument("--poll", type=float, default=BATCH_POLL_SECONDS, help="seconds between polls")
            parser.add_argument("--timeout", type=float, help="give up waiting after this many seconds")
