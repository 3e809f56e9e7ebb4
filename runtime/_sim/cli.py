"""`cloudburst sim`: serve the provider simulator in the foreground until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
from typing import Any

from cloudburst._sim.config import FAULT_KINDS, WINDOW_SECONDS, SimConfig
from cloudburst._sim.runner import default_providers, environment, serve


def add_sim_command(commands: Any) -> None:
    """Add the `sim` subcommand to the CLI's subparsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "sim", help="serve a local provider simulator (OpenAI, Anthropic, Gemini, Mistral… APIs, limits, faults)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--rpm", type=int, help="requests per minute per key and model")
    parser.add_argument("--tpm", type=int, help="OpenAI tokens per minute per key and model")
    parser.add_argument("--input-tpm", type=int, help="Anthropic input tokens per minute per key and model")
    parser.add_argument("--output-tpm", type=int, help="Anthropic output tokens per minute per key and model")
    parser.add_argument(
        "--window-seconds",
        type=float,
        default=WINDOW_SECONDS,
        help="limits are enforced over windows this long (0 < s <= 60; 60 lets a minute's budget burst)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="mean answer time")
    parser.add_argument("--latency-spread-ms", type=float, default=0.0, help="lognormal spread; 0 is fixed")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests that fault")
    parser.add_argument(
        "--faults", default=",".join(FAULT_KINDS), help=f"kinds sharing --fault-rate: {','.join(FAULT_KINDS)}"
    )
    parser.add_argument("--hang-s", type=float, default=30.0, help="how long a hang lasts")
    parser.add_argument("--stream-gap-s", type=float, default=0.5, help="seconds between a slow_stream's events")
    parser.add_argument("--overload-spikes", type=float, default=0.0, help="share of time each provider is overloaded")
    parser.add_argument("--overload-spike-seconds", type=float, default=2.0, help="how long one overload spike lasts")
    parser.add_argument(
        "--absurd-headers", action="store_true", help="send nonsense rate-limit headers (limits still enforced)"
    )
    parser.add_argument("--batch-seconds", type=float, default=0.0, help="how long a batch takes to end")
    parser.add_argument(
        "--batch-error-fraction", type=float, default=0.0, help="share of batch requests that end in an error"
    )
    parser.add_argument(
        "--batch-expired-fraction", type=float, default=0.0, help="share of batch requests that expire unrun"
    )
    parser.add_argument("--batch-max-requests", type=int, help="most requests a batch may hold; each provider's own")
    parser.add_argument("--batch-max-bytes", type=int, help="most bytes a batch's input may have; each provider's own")
    parser.add_argument(
        "--file-processing-seconds", type=float, default=0.0, help="how long a Gemini upload stays PROCESSING"
    )
    parser.add_argument("--blocked-fraction", type=float, default=0.0, help="share of Gemini prompts safety-blocked")
    parser.add_argument("--seed", type=int, default=0, help="seeds answers, faults and spikes (same seed, same run)")
    parser.add_argument("--keys", help="comma-separated valid API keys; any key by default")
    parser.set_defaults(handler=cmd_sim)


def config_from_args(args: argparse.Namespace) -> SimConfig:
    kinds = [kind.strip() for kind in args.faults.split(",") if kind.strip()]
    return SimConfig(
        rpm=args.rpm,
        tpm=args.tpm,
        input_tpm=args.input_tpm,
        output_tpm=args.output_tpm,
        window_seconds=args.window_seconds,
        latency_ms=args.latency_ms,
        latency_spread_ms=args.latency_spread_ms,
        faults=SimConfig.spread_faults(args.fault_rate, kinds),
        hang_s=args.hang_s,
        stream_gap_s=args.stream_gap_s,
        overload_spikes=args.overload_spikes,
        overload_spike_seconds=args.overload_spike_seconds,
        absurd_headers=args.absurd_headers,
        batch_seconds=args.batch_seconds,
        batch_error_fraction=args.batch_error_fraction,
        batch_expired_fraction=args.batch_expired_fraction,
        batch_max_requests=args.batch_max_requests,
        batch_max_bytes=args.batch_max_bytes,
        file_processing_seconds=args.file_processing_seconds,
        blocked_fraction=args.blocked_fraction,
        seed=args.seed,
        keys=frozenset(key.strip() for key in args.keys.split(",") if key.strip()) if args.keys else None,
    )


def export_lines(env: dict[str, str]) -> str:
    """`export NAME=value` lines a POSIX shell takes as they are (values quoted)."""
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in env.items())


def cmd_sim(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None

    def ready(port: int) -> None:
        url = f"http://{args.host}:{port}"
        print(
            f"cloudburst simulator listening on {url} (to use it from another shell, paste the lines below)", flush=True
        )
        print(export_lines(environment(url, default_providers())) + "\n", flush=True)  # a blank line ends it

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config, args.host, args.port, on_ready=ready))
    return 0
