"""Embedding jobs: texts packed into requests up to the provider's limits, run by the same engine
as prompts (`Job`: limiter, retries, progress, tracker, cache), and spread back per text.

A pack is one request: as many texts as the API takes (`MAX_TEXTS`) whose counted tokens fit
its per-request limit (`MAX_TOKENS`). Texts are read as packs are pulled, so a generator over a
huge file stays a generator. A text that cannot be sent (empty, not a string, over the model's
token limit and not to be truncated; a reader's InputError in its place) gets its own typed
error and travels with the next pack.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import orjson

from cloudburst._constants import REFUSED_PER_PACK
from cloudburst._direct import DirectJob, FixedRoute, completions, model_of_kind
from cloudburst._embedding import Embedding, EmbeddingOptions, Vectors, numpy_module, with_arrays
from cloudburst._errors import ContextOverflowError, InputError, InvalidResponseError, ProviderError
from cloudburst._job import Pending
from cloudburst._models import ModelInfo
from cloudburst._prompt import Completed
from cloudburst._response import APIResponse, Usage
from cloudburst._status import StatusTracker
from cloudburst._tokens import encoding

if TYPE_CHECKING:
    from cloudburst._client import LLMClient


@dataclass(slots=True)
class Pack:
    """The texts of one request, by their input indices, with their counted tokens; and the
    texts before them that are not sent (their results travel with this pack)."""

    indices: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    refused: list[Embedding] = field(default_factory=list)


def packs(
    texts: Iterable[object],
    model: ModelInfo,
    adapter: ModuleType,
    ratio: tuple[float, float],
    options: EmbeddingOptions,
) -> Iterator[Pack]:
    """The texts in packs, lazily. Sizes are reference tokens scaled by the provider's high ratio,
    so a pack never passes the request's limit; the low ratio decides that a text surely
    passes the model's (exact where the provider tokenizes as cloudburst counts)."""
    limit, max_texts, max_tokens = model.context_window, adapter.MAX_TEXTS, adapter.MAX_TOKENS
    client_cut = adapter.CLIENT_TRUNCATION
    low, high = (1.0, 1.0) if client_cut else ratio
    server_cuts = adapter.SERVER_TRUNCATION and options.truncation != "none"
    hint = " (EmbeddingOptions(truncation='end') cuts it)" if client_cut or "truncation" in adapter.VALUES else ""
    tokenizer = encoding()
    pack, size = Pack(), 0
    for index, text in enumerate(texts):
        if len(pack.refused) >= REFUSED_PER_PACK:  # a long run of bad lines: their results go now
            yield pack
            pack, size = Pack(), 0
        if isinstance(text, ProviderError):  # a reader's verdict on an input line
            pack.refused.append(Embedding(index, model.id, error=text))
            continue
        if not isinstance(text, str) or not text:
            what = "empty" if text == "" else f"a {type(text).__name__}, not a string"
            pack.refused.append(Embedding(index, model.id, error=InputError(f"text {index} is {what}; not sent")))
            continue
        tokens = tokenizer.encode(text, disallowed_special=())
        count = len(tokens)
        if math.floor(count * low) > limit:
            if client_cut and options.truncation in ("start", "end"):
                kept = tokens[:limit] if options.truncation == "end" else tokens[-limit:]
                text, count = tokenizer.decode(kept), limit
            elif not server_cuts:
                error = ContextOverflowError(
                    f"text {index} has {count:,} tokens, over {model.id}'s limit of {limit:,}; not sent{hint}"
                )
                pack.refused.append(Embedding(index, model.id, error=error))
                continue
        need = min(math.ceil(count * high), limit) if server_cuts else math.ceil(count * high)
        if pack.texts and (len(pack.texts) >= max_texts or (max_tokens is not None and size + need > max_tokens)):
            yield pack
            pack, size = Pack(), 0
        pack.indices.append(index)
        pack.texts.append(text)
        pack.tokens.append(need)
        size += need
    if pack.texts or pack.refused:
        yield pack


@dataclass(slots=True)
class PackResponse(APIResponse):
    """A pack's answer: the vectors, beside what every answer has (usage, cost, error)."""

    vectors: Vectors | None = None


class EmbedJob(DirectJob):
    """A DirectJob whose requests are packs of texts, its progress counted in texts."""

    def __init__(
        self, client: LLMClient, route: FixedRoute, options: EmbeddingOptions, items: Iterator[Pack], total: int | None
    ) -> None:
        super().__init__(client, route, items, StatusTracker(total))
        self.options = options
        self.packs: dict[int, Pack] = {}

    def pending(self, index: int, item: Any) -> Pending | Completed:
        pack: Pack = item
        self.packs[index] = pack
        route = self.fixed
        if not pack.texts:
            return Completed(index, None, APIResponse(route.provider.name, route.model.id, error=pack.refused[0].error))
        body = orjson.dumps(route.adapter.build_body(route.model.name, pack.texts, self.options))
        return route.sized(sum(pack.tokens), sum(len(text) for text in pack.texts), body, index)

    async def _final(self, pending: Pending | Completed) -> Completed:
        """The pack's result, counted by the tracker as its texts' (the job's progress is in
        texts, not requests): each text sent succeeds or fails with the pack, each refused
        one fails with its own error."""
        completed = await super()._final(pending)
        pack, tracker = self.packs[completed.index], self.tracker
        error = completed.response.error
        errors = [error] * len(pack.texts) + [text.error for text in pack.refused]
        errors.remove(error if pack.texts else pack.refused[0].error)  # the one counted already
        tracker.done += len(errors)
        for each in errors:
            if each is None:
                tracker.succeeded += 1
            else:
                tracker.failed += 1
                tracker.errors[each.kind] += 1
        return completed

    def answer(
        self, data: dict[str, Any], status: int, headers: Mapping[str, str], pending: Pending | None
    ) -> APIResponse:
        """The pack's vectors; where the answer reports no usage (Gemini's API may not), the
        tokens counted here for it stand in, so cost and the token limit still count them."""
        model = self.fixed.model
        vectors = self.fixed.adapter.parse_body(data, headers)
        counted = getattr(pending.estimate, "tokens", 0) if pending is not None else 0
        usage = Usage(input_tokens=vectors.input_tokens or counted)
        return PackResponse(
            self.fixed.provider.name, model.id, status=status, usage=usage, cost=model.cost(usage), vectors=vectors
        )

    def spread(self, completed: Completed) -> list[Embedding]:
        """The results of a finished pack's texts (and of the refused texts it carried)."""
        pack = self.packs.pop(completed.index)
        response, model = completed.response, self.fixed.model.id
        results = list(pack.refused)
        if not pack.texts:
            return results
        asked = self.options.output_types or ("float",)
        vectors = response.vectors if isinstance(response, PackResponse) else None
        error = response.error
        found = {kind: (vectors.by_type.get(kind) if vectors else None) for kind in asked}
        if error is None and any(v is None or len(v) != len(pack.texts) for v in found.values()):
            counts = {kind: None if v is None else len(v) for kind, v in found.items()}
            error = InvalidResponseError(f"{len(pack.texts)} texts sent, vectors back by type: {counts}")
        if error is not None:
            results += [Embedding(i, model, error=error, attempts=response.attempts) for i in pack.indices]
            return results
        billed = response.usage.input_tokens
        per_token = response.cost / billed if billed else 0.0  # embeddings bill input tokens only, flat
        for k, (index, share) in enumerate(zip(pack.indices, _shares(billed, pack.tokens), strict=True)):
            each: dict[str, Any] = {kind: found[kind][k] for kind in asked}  # type: ignore[index]
            vector = each.get("float", each.get("base64"))
            embedding = Embedding(index, model, vector, each, Usage(share), share * per_token)
            embedding.attempts = response.attempts
            results.append(embedding)
        return results


def _shares(total: int, sizes: list[int]) -> list[int]:
    """`total` split in proportion to `sizes`, in whole tokens that add up to it exactly."""
    whole = sum(sizes) or 1
    exact = [total * size / whole for size in sizes]
    shares = [math.floor(x) for x in exact]
    for k in sorted(range(len(sizes)), key=lambda k: shares[k] - exact[k])[: total - sum(shares)]:
        shares[k] += 1
    return shares


async def embed_as_completed(
    client: LLMClient,
    texts: Iterable[object],
    model: str | None,
    options: EmbeddingOptions | None,
    total: int | None = None,
    as_numpy: bool = False,
) -> AsyncIterator[Embedding]:
    """Each text's result as soon as its request is final (`Embedding.index` says which).
    `total` (texts) sizes the progress bar when `texts` has no len(); `as_numpy` makes the
    vectors numpy arrays (numpy missing is an error before anything is sent)."""
    numpy = numpy_module() if as_numpy else None
    route = FixedRoute(client, model_of_kind(client, model, "embedding"))
    options = options or EmbeddingOptions()
    route.adapter.check(options)
    items = packs(texts, route.model, route.adapter, route.ratio, options)
    job = EmbedJob(client, route, options, items, len(texts) if isinstance(texts, Sized) else total)
    async for completed in completions(client, job):
        for embedding in job.spread(completed):
            yield embedding if numpy is None else with_arrays(embedding, numpy)


async def embed_all(
    client: LLMClient, texts: Iterable[object], model: str | None, options: EmbeddingOptions | None, as_numpy: bool
) -> list[Embedding]:
    """Every text's result, in input order."""
    results: list[Embedding | None] = [None] * len(texts) if isinstance(texts, Sized) else []
    async for embedding in embed_as_completed(client, texts, model, options, as_numpy=as_numpy):
        if embedding.index >= len(results):
            results.extend([None] * (embedding.index + 1 - len(results)))
        results[embedding.index] = embedding
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        raise RuntimeError(f"cloudburst lost the results of texts {missing[:10]}")
    return results  # type: ignore[return-value]
