"""client.rerank against the simulator: Cohere's body, the ranking in order of relevance, more
documents than a request takes ranked in parts and merged, cost per search from the registry."""

from __future__ import annotations

import typing

import pytest

from cloudburst import LLMClient, Ranked, Simulator
from cloudburst._errors import ConfigurationError
from cloudburst._sim.cohere import relevance
from cloudburst.generated.cohere import rerank as cohere_rerank
from tests.official_types import problems


def client_on(sim: Simulator, models: list[str]) -> LLMClient:
    return LLMClient(models, base_urls=sim.base_urls(), api_keys={"cohere": "co-test"}, progress=None)


def expected(query: str, documents: list[str]) -> list[Ranked]:
    scored = [Ranked(i, relevance(query, document)) for i, document in enumerate(documents)]
    return sorted(scored, key=lambda r: (-r.score, r.index))


def test_the_body_takes_the_sdks_rerank_arguments() -> None:
    import cohere

    body = cohere_rerank.build_body("rerank-v3.5", "q", ["a", "b"], 1)
    assert body == {"model": "rerank-v3.5", "query": "q", "documents": ["a", "b"], "top_n": 1}
    hints = typing.get_type_hints(cohere.ClientV2.rerank)
    for key, value in body.items():
        assert problems(value, hints[key], key) == []


def test_documents_come_back_ranked_with_the_cost_of_the_search(sim: Simulator) -> None:
    documents = ["the cat sat", "dogs bark loudly", "a cat and a dog", "nothing here"]
    result = client_on(sim, ["rerank-v3.5"]).rerank("cat dog", documents)
    assert result.ok
    assert result.results == expected("cat dog", documents)
    assert result.searches == 1 and result.cost == pytest.approx(2.00 / 1000)


def test_more_documents_than_a_request_takes_are_ranked_in_parts_and_merged(sim: Simulator) -> None:
    documents = [f"document {i} on {'cats' if i % 7 else 'dogs'}" for i in range(2500)]
    result = client_on(sim, ["rerank-v4.0-pro"]).rerank("dogs", documents, top_n=10)
    assert sim.stats()["requests"] == 3  # 1,000 documents a request
    assert result.results == expected("dogs", documents)[:10]
    assert result.searches == 25 and result.cost == pytest.approx(25 * 2.50 / 1000)


def test_a_bad_call_is_refused_before_sending(sim: Simulator) -> None:
    client = client_on(sim, ["rerank-v3.5"])
    with pytest.raises(ConfigurationError, match="no documents"):
        client.rerank("q", [])
    with pytest.raises(ConfigurationError, match="not strings"):
        client.rerank("q", ["a", 3])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="top_n"):
        client.rerank("q", ["a"], top_n=0)
    with pytest.raises(ConfigurationError, match="rerank models"):
        client.rerank("q", ["a"], model="embed-v4.0")
    assert sim.stats()["requests"] == 0
