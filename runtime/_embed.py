"""Embedding jobs: texts packed into requests up to the provider's limits, run by the same engine
as prompts (`Job`: limiter, retries, progress, tracker, cache), and spread back per text.

A pack is one request: as many texts as the API takes (`MAX_TEXTS`) whose counted tokens fit
its per-request limit (`MAX_TOKENS`). Texts are read as packs are pulled, so a generator over a
huge file stays a generator. A text that cannot be sent (empty, not a string, over the model's
token limit and not to be truncated; a reader's InputError in its place) gets its own typed
error and travels with the next pack. An `Image` in a text's place goes inline where the model
embeds images (its `images` capability), up to the API's `IMAGE_BYTES` a request; to another
model it is an InputError on its own result.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import orjson

from cloudburst._constants import REFUSED_PER_PACK
from cloudburst._conversation import Image
from cloudburst._direct import DirectJob, FixedRoute, completions, model_of_kind
from cloudburst._embedding import Embedding, EmbeddingOptions, InlineImage, Vectors, numpy_module, with_arrays
from cloudburst._errors import ContextOverflowError, InputError, InvalidResponseError, ProviderError
from cloudburst._job import Pending
from cloudburst._models import ModelInfo
from cloudburst._prompt import Completed
from cloudburst._response import APIResponse, Usage
from cloudburst._status import StatusTracker
from cloudburst._tokens import IMAGE_TOKENS, encoding

if TYPE_CHECKING:
    from cloudburst._client import LLMClient


@dataclass(slots=True)
class Pack:
    """The texts of one request, by their input indices, with their counted tokens; and the
    texts before them that are not sent (their results travel with this pack)."""

    indices: list[int] = field(default_factory=list)
    texts: list[str | InlineImage] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    refused: list[Embedding] = field(default_factory=list)
    size: int = 0
    """Its tokens, as `tokens` add up."""
    image_bytes: int = 0
    """Its images' base64 bytes."""


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
    pack = Pack()
    for index, text in enumerate(texts):
        if len(pack.refused) >= REFUSED_PER_PACK:  # a long run of bad lines: their results go now
            yield pack
            pack = Pack()
        if isinstance(text, ProviderError):  # a reader's verdict on an input line
            pack.refused.append(Embedding(index, model.id, error=text))
            continue
        entry: str | InlineImage
        if isinstance(text, Image):
            image = _inline(text, index, model, adapter)
            if isinstance(image, InputError):
                pack.refused.append(Embedding(index, model.id, error=image))
                continue
            entry, need, image_bytes = image, IMAGE_TOKENS[1], len(image.data)
        else:
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
            entry, image_bytes = text, 0
        full = (
            len(pack.texts) >= max_texts
            or (max_tokens is not None and pack.size + need > max_tokens)
            or (image_bytes and pack.image_bytes + image_bytes > adapter.IMAGE_BYTES)
        )
        if pack.texts and full:
            yield pack
            pack = Pack()
        pack.indices.append(index)
        pack.texts.append(entry)
        pack.tokens.append(need)
        pack.size += need
        pack.image_bytes += image_bytes
    if pack.texts or pack.refused:
        yield pack


def _inline(image: Image, index: int, model: ModelInfo, adapter: ModuleType) -> InlineImage | InputError:
    """The image as the API takes it (inline, in base64), or why it cannot be sent."""
    limit = adapter.IMAGE_BYTES
    if limit is None or not model.supports("images"):
        return InputError(f"text {index} is an image; {model.id} does not embed images (it has no `images` capability)")
    try:
        kind, wire = image.wire()
    except ValueError as error:
        return InputError(f"text {index}: {error}")
    if kind != "image_base64":
        how = "a link" if kind == "image_url" else "a file id"
        return InputError(
            f"text {index} is an image by {how}; {model.id} embeds images sent inline: Image(data=...), "
            "Image.from_path(...) or a data: URL"
        )
    if wire["media_type"] not in adapter.IMAGE_TYPES:
        return InputError(
            f"text {index} is an image of type {wire['media_type']}; {model.id} takes {', '.join(adapter.IMAGE_TYPES)}"
        )
    if len(wire["data"]) > limit:
        return InputError(
            f"text {index} is an image of {len(wire['data']):,} bytes in base64, over the {limit:,} a request takes"
        )
    return InlineImage(wire["data"], wire["media_type"])


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
        chars = sum(len(text) if isinstance(text, str) else len(text.data) for text in pack.texts)
        return route.sized(pack.size, chars, body, index)

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
        tally = tracker.models.get(completed.response.model)
        for each in errors:
            if each is None:
                tracker.succeeded += 1
            else:
                tracker.failed += 1
                tracker.errors[each.kind] += 1
            if tally is not None:
                tally.succeeded += each is None
                tally.failed += each is not None
        return completed

    def answer(
        self, data: dict[str, Any], status: int, headers: Mapping[str, str], pending: Pending | None
    ) -> APIResponse:
        """The pack's vectors; where the answer reports no usage (Gemini's API may not), the
        tokens counted here for it stand in, so cost and the token limit still count them."""
        model = self.fixed.model
        vectors = self.fixed.adapter.parse_body(data, headers)
        counted = getattr(pending.estimate, "tokens", 0) if pending is not None else 0
        text = Usage(input_tokens=vectors.input_tokens or counted)
        cost = model.cost(text) + vectors.image_tokens * _image_price(model) / 1_000_000
        usage = Usage(input_tokens=text.input_tokens + vectors.image_tokens)
        return PackResponse(self.fixed.provider.name, model.id, status=status, usage=usage, cost=cost, vectors=vectors)

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


def _image_price(model: ModelInfo) -> float:
    """USD per million image tokens: the model's own price for them, else its input price."""
    prices = model.prices
    return prices.image_input if prices.image_input is not None else prices.input or 0.0


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
