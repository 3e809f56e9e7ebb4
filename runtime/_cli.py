"""The `cloudburst` command: list models, render a payload, estimate a job, run a job, embed texts,
serve the simulator."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from importlib.metadata import version as _version

from cloudburst._batch.cli import add_batch_command
from cloudburst._cli_args import (
    EXIT_CODES,
    EXIT_SIGINT,
    EXIT_USAGE,
    Parser,
    input_file,
    non_negative_float,
    positive_int,
    report,
)
from cloudburst._conversation import Conversation
from cloudburst._embed_cli import add_embed_command
from cloudburst._errors import CloudburstError, ConfigurationError
from cloudburst._estimate import estimate
from cloudburst._input import PromptReader
from cloudburst._prompt import InvalidPrompt, Prompt
from cloudburst._registry import REGISTRY, get_model
from cloudburst._render import render
from cloudburst._run import add_run_command
from cloudburst._sampling import SamplingParams
from cloudburst._sim.cli import add_sim_command

log = logging.getLogger("cloudburst")


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _check_models_filter(provider: str | None, supports: Sequence[str]) -> None:
    """An unknown provider or capability is a mistake, not an empty table."""
    providers = sorted({model.provider for model in REGISTRY})
    if provider is not None and provider not in providers:
        close = difflib.get_close_matches(provider, providers, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigurationError(f"no provider {provider!r}; {hint}known: {', '.join(providers)}")
    capabilities = sorted({capability for model in REGISTRY for capability in model.capabilities})
    unknown = [capability for capability in supports if capability not in capabilities]
    if unknown:
        close = difflib.get_close_matches(unknown[0], capabilities, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigurationError(f"no capability {unknown[0]!r}; {hint}known: {', '.join(capabilities)}")


def cmd_models(args: argparse.Namespace) -> int:
    _check_models_filter(args.provider, args.supports)
    rows = []
    for model in REGISTRY:
        if args.provider and model.provider != args.provider:
            continue
        if not all(model.supports(capability) for capability in args.supports):
            continue
        rows.append(
            [
                model.id,
                model.provider,
                model.api,
                f"{model.context_window:,}",
                f"{model.max_output_tokens:,}" if model.max_output_tokens else "-",
                _price(model.prices.input),
                _price(model.prices.output),
                model.reasoning.control if model.reasoning else "-",
                ",".join(model.capabilities),
            ]
        )
    header = ["model", "provider", "api", "context", "max out", "$/M in", "$/M out", "reasoning", "capabilities"]
    print(_table(rows, header))
    print(f"\n{len(rows)} model(s)")
    return 0


def _sampling(args: argparse.Namespace) -> SamplingParams:
    return SamplingParams(
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        reasoning_effort=args.reasoning_effort,
        thinking_budget=args.thinking_budget,
    )


def cmd_render(args: argparse.Namespace) -> int:
    conversation = Conversation.system(args.system).user(args.prompt) if args.system else Conversation.of(args.prompt)
    request = render(args.model, conversation, _sampling(args))
    print(
        json.dumps(
            {"method": request.method, "url": request.url, "headers": request.headers, "body": request.body}, indent=2
        )
    )
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    """The estimate of the file's good lines; each bad line is listed as `file:line: what is
    wrong`, left out and counted, and makes the exit status 2 (as `run --dry-run` does)."""
    model, sampling = get_model(args.model), _sampling(args)
    bad = 0

    def good() -> Iterator[Prompt]:
        nonlocal bad
        for item in PromptReader(args.prompts, sampling, [model]):
            if isinstance(item, InvalidPrompt):
                bad += 1
                print(item.error, file=sys.stderr)
            else:
                yield item

    print(estimate(model, good(), sampling, batch=args.batch))
    if bad:
        print(f"{bad:,} bad line(s) left out of the estimate", file=sys.stderr)
    return 2 if bad else 0


def _sampling_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--temperature", type=non_negative_float, help="sampling temperature (0: most likely)")
    parser.add_argument("--max-new-tokens", type=positive_int, help="most tokens to generate per answer")
    parser.add_argument("--reasoning-effort", help="e.g. none, minimal, low, medium, high (mapped per model)")
    parser.add_argument("--thinking-budget", type=int, help="thinking tokens, for models that take a budget")


def build_parser() -> Parser:
    """Every subcommand and flag (each with its help)."""
    parser = Parser(
        prog="cloudburst",
        description="Run very many LLM requests across providers.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cloudburst {_version('cloudburst')}")
    commands = parser.add_subparsers(dest="command", required=True)

    models = commands.add_parser("models", help="list the model registry")
    models.add_argument("--provider", help="only this provider's models (openai, anthropic, gemini, ...)")
    models.add_argument(
        "--supports",
        action="append",
        default=[],
        metavar="CAPABILITY",
        help="only models with this capability (repeat for several; a wrong one lists them all)",
    )
    models.set_defaults(handler=cmd_models)

    render_cmd = commands.add_parser("render", help="print the exact request a prompt becomes")
    render_cmd.add_argument("model", help="a model id (cloudburst models lists them)")
    render_cmd.add_argument("prompt", help="the user message")
    render_cmd.add_argument("--system", help="a system prompt before it")
    _sampling_flags(render_cmd)
    render_cmd.set_defaults(handler=cmd_render)

    estimate_cmd = commands.add_parser("estimate", help="token and cost ranges for a JSONL of prompts")
    estimate_cmd.add_argument("model", help="a model id (cloudburst models lists them)")
    estimate_cmd.add_argument("prompts", type=input_file, help="JSONL: strings, or objects with prompt or messages")
    estimate_cmd.add_argument("--batch", action="store_true", help="price with the batch API's discount")
    _sampling_flags(estimate_cmd)
    estimate_cmd.set_defaults(handler=cmd_estimate)

    add_sim_command(commands)
    add_run_command(commands)
    add_batch_command(commands)
    add_embed_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line; the exit code says how it ended (`EXIT_CODES`): a person's mistake is
    one line on stderr, never a traceback."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return int(args.handler(args))
    except CloudburstError as exc:
        report(f"error: {exc}")
        return EXIT_USAGE
    except OSError as exc:  # a file that went away or filled its disk on the way
        where = f"{exc.filename}: " if exc.filename else ""
        report(f"error: {where}{exc.strerror or exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        report("interrupted")
        return EXIT_SIGINT


if __name__ == "__main__":
    sys.exit(main())
