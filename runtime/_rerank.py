"""Rerank: one query, many documents, their indices back ranked by relevance. More documents than
one request takes are ranked in parts (relevance scores are absolute, so the parts merge by
score), each part a request under the same limiter and retries as prompts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from cloudburst._direct import DirectJob, FixedRoute, completions, model_of_kind
from cloudburst._errors import ConfigurationError, MalformedResponseError, ProviderError
from cloudburst._job import Pending
from cloudburst._prompt import Completed
from cloudburst._response import APIResponse
from cloudburst._status import StatusTracker
from cloudburst._tokens import count_text

if TYPE_CHECKING:
    from cloudburst._client import LLMClient


@dataclass(frozen=True, slots=True)
class Ranked:
    """One document's place: its index in the documents given, and its relevance score."""

    index: int
    score: float


@dataclass(slots=True)
class Reranking:
    """The documents ranked best first (the `top_n` best, when asked), what it cost, or `error`
    (with the ranking of the parts that did succeed, when the documents took several)."""

    model: str
    results: list[Ranked] = field(default_factory=list)
    searches: int = 0
    """Searches billed (Cohere: one per query and up to 100 documents)."""
    cost: float = 0.0
    """USD: searches at the registry's price per 1,000."""
    error: ProviderError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class PartResponse(APIResponse):
    ranked: list[tuple[int, float]] = field(default_factory=list)
    searches: int = 0


class RerankJob(DirectJob):
    """A DirectJob whose requests are parts of the documents, one query each."""

    def __init__(self, client: LLMClient, route: FixedRoute, query: str, parts: list[list[str]], top_n: int | None):
        super().__init__(client, route, iter(parts), StatusTracker(len(parts)))
        self.query, self.top_n = query, top_n

    def pending(self, index: int, item: Any) -> Pending | Completed:
        documents: list[str] = item
        route = self.fixed
        body = orjson.dumps(route.adapter.build_body(route.model.name, self.query, documents, self.top_n))
        tokens = sum(count_text(text) for text in (self.query, *documents))
        return route.sized(math.ceil(tokens * route.ratio[1]), len(body), body, index)

    def answer(
        self, data: dict[str, Any], status: int, headers: Mapping[str, str], pending: Pending | None
    ) -> APIResponse:
        model = self.fixed.model
        ranked, searches = self.fixed.adapter.parse_body(data)
        cost = searches * (model.prices.per_search or 0.0) / 1000
        return PartResponse(
            self.fixed.provider.name, model.id, status=status, cost=cost, ranked=ranked, searches=searches
        )


async def rerank(
    client: LLMClient, query: str, documents: Sequence[str], model: str | None, top_n: int | None
) -> Reranking:
    route = FixedRoute(client, model_of_kind(client, model, "rerank"))
    bad = [i for i, document in enumerate(documents) if not isinstance(document, str)]
    problem = (
        "the query is empty or not a string"
        if not isinstance(query, str) or not query
        else "no documents"
        if not documents
        else f"documents {bad[:5]} are not strings"
        if bad
        else f"top_n is {top_n}, under 1"
        if top_n is not None and top_n < 1
        else None
    )
    if problem is not None:
        raise ConfigurationError(f"rerank on {route.model.id}: {problem}; nothing sent")
    size = route.adapter.MAX_DOCUMENTS
    parts = [list(documents[start : start + size]) for start in range(0, len(documents), size)]
    job = RerankJob(client, route, query, parts, top_n)
    result = Reranking(route.model.id)
    ranked: list[Ranked] = []
    async for completed in completions(client, job):
        response = completed.response
        result.cost += response.cost
        if not isinstance(response, PartResponse) or response.error is not None:
            result.error = result.error or response.error
            continue
        offset = completed.index * size
        beyond = [index for index, _ in response.ranked if index >= len(parts[completed.index])]
        if beyond:
            result.error = result.error or MalformedResponseError(
                f"{route.provider.title} ranked document {beyond[0]} of a request of {len(parts[completed.index])}",
                status=response.status,
            )
            continue
        ranked += [Ranked(offset + index, score) for index, score in response.ranked]
        result.searches += response.searches
    ranked.sort(key=lambda r: (-r.score, r.index))
    result.results = ranked[:top_n] if top_n is not None else ranked
    return result
