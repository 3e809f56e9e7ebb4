"""`cloudburst embed`: a JSONL of texts through `LLMClient.embed_as_completed`, each text's vector
written as one JSONL line the moment its request is final (so in completion order; `index` is
the line's place among the input's texts, `id` its own when it has one). The input is read as
capacity frees up, so memory stays flat however long the file. A line that is not a text ends as
its own result with an `input` error naming the file and line; nothing is sent for it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from cloudburst._cli_args import input_file, output_file
from cloudburst._client import LLMClient
from cloudburst._config import RetryPolicy
from cloudburst._constants import COST_DECIMALS
from cloudburst._embedding import Embedding, EmbeddingOptions, InputKind, OutputType, Truncation
from cloudburst._errors import ConfigurationError, InputError
from cloudburst._input import count_lines, json_lines
from cloudburst._progress import ProgressKind
from cloudburst.generated import PROVIDERS

log = logging.getLogger("cloudburst")


class TextReader:
    """Texts from a JSONL file: a line is a JSON string, or an object with `text` (and an
    optional `id`); any other line is an InputError in its place. Ids are kept only until
    their text's line is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ids: dict[int, Any] = {}

    def __iter__(self) -> Iterator[str | InputError]:
        for index, (number, item) in enumerate(json_lines(self.path)):
            yield self._text(item, number, index)

    def _text(self, item: Any, number: int, index: int) -> str | InputError:
        if isinstance(item, InputError):
            return item
        if isinstance(item, dict):
            if item.get("id") is not None:
                self.ids[index] = item["id"]
            item = item.get("text")
        if not isinstance(item, str):
            message = f"{self.path}:{number}: expected a JSON string or an object with a 'text' string"
            return InputError(message, path=str(self.path), line=number)
        return item


def embedding_line(embedding: Embedding, text_id: Any) -> bytes:
    """One text's result as a JSONL line."""
    error = embedding.error
    line = {
        "index": embedding.index,
        "id": text_id,
        "model": embedding.model,
        "embedding": embedding.vector,
        "vectors": {kind: v for kind, v in embedding.vectors.items() if kind != "float"} or None,
        "usage": {"input_tokens": embedding.usage.input_tokens},
        "cost": round(embedding.cost, COST_DECIMALS),
        "error": None if error is None else {"kind": error.kind, "message": str(error)},
    }
    return orjson.dumps(line) + b"\n"


async def embed_file(
    client: LLMClient, reader: TextReader, output: Path, options: EmbeddingOptions, started: str | None = None
) -> int:
    """Every text's line written; the number of texts that failed. `started` is logged once the
    loop runs (and Ctrl-C is the loop's to handle), not before."""
    if started is not None:
        log.info("%s", started)
    failed = 0
    with output.open("wb") as out:
        async for embedding in client.embed_as_completed(reader, options=options, total=count_lines(reader.path)):
            out.write(embedding_line(embedding, reader.ids.pop(embedding.index, None)))
            failed += embedding.error is not None
    return failed


def cmd_embed(args: argparse.Namespace) -> int:
    if args.output.exists() and not args.overwrite:
        raise ConfigurationError(f"{args.output} exists; pass --overwrite to replace it, or choose another -o")
    if args.output.resolve() == args.texts.resolve():
        raise ConfigurationError("the output must not be the input")
    options = EmbeddingOptions(
        dimensions=args.dimensions,
        input_kind=args.input_kind,
        truncation=args.truncation,
        output_types=tuple(args.output_type) if args.output_type else None,
    )
    progress: ProgressKind = None if args.progress == "off" else args.progress
    with contextlib.ExitStack() as stack:
        base_urls: dict[str, str] | None = None
        api_keys: dict[str, str] | None = None
        if args.simulate:
            from cloudburst._sim import SimConfig, Simulator

            sim = stack.enter_context(Simulator(SimConfig(latency_ms=args.sim_latency_ms)))
            env, base_urls = sim.env(), sim.base_urls()
            api_keys = {name: env[p.auth.env] for name, p in PROVIDERS.items() if p.auth.env in env}
        client = LLMClient(
            args.model,
            retry=RetryPolicy(max_attempts=args.max_attempts),
            progress=progress,
            api_keys=api_keys,
            base_urls=base_urls,
        )
        started = f"simulating the providers at {sim.url}" if args.simulate else None
        failed = asyncio.run(embed_file(client, TextReader(args.texts), args.output, options, started))
    log.info("%s texts embedded into %s, %s failed", f"{client.tracker.done:,}", args.output, f"{failed:,}")
    return 1 if failed else 0


def add_embed_command(commands: Any) -> None:
    """Add the `embed` subcommand to the CLI's subparsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "embed", help="embed a JSONL of texts, writing each vector as a JSONL line as it completes"
    )
    parser.add_argument("texts", type=input_file, help="JSONL: strings, or objects with text (and id)")
    parser.add_argument("-o", "--output", type=output_file, required=True, help="one JSONL line per text")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--model", required=True, help="an embedding model (cloudburst models --supports embeddings)")
    parser.add_argument("--dimensions", type=int, help="shorter vectors, where the model can cut them")
    parser.add_argument(
        "--input-kind", choices=typing.get_args(InputKind), help="what the texts are for (query, document, ...)"
    )
    parser.add_argument(
        "--truncation", choices=typing.get_args(Truncation), help="what to do with a text longer than the model takes"
    )
    parser.add_argument("--output-type", action="append", choices=typing.get_args(OutputType), help="repeatable")
    parser.add_argument(
        "--max-attempts", type=int, default=RetryPolicy().max_attempts, help="attempts per request, the first included"
    )
    parser.add_argument("--progress", choices=["rich", "tqdm", "off"], default="rich", help="the live display, or off")
    parser.add_argument("--simulate", action="store_true", help="run against the local provider simulator")
    parser.add_argument("--sim-latency-ms", type=float, default=0.0, help="with --simulate: mean answer time")
    parser.set_defaults(handler=cmd_embed)
