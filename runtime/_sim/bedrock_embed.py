"""Bedrock's InvokeModel with an embedding model's body, as the simulator plays it: Amazon Titan
Text Embeddings V2 (one `inputText`, `dimensions` 1024, 512 or 256, the token count in
the body) and Cohere Embed (Cohere's v2
embed body without `model`, up to 96 texts, quantised per `embedding_types`; the token count
only in Bedrock's header)."""

from __future__ import annotations

from typing import Any

from cloudburst._sim import answers
from cloudburst._sim.answers import Draw
from cloudburst._sim.bedrock_converse import validation
from cloudburst._sim.limits import Cost
from cloudburst._sim.provider import Answer, ModelEndpoint
from cloudburst._sim.validation import check
from cloudburst.generated.bedrock.models import CohereEmbedRequest, TitanEmbedRequest

TITAN_INPUT_TOKENS = 8192
COHERE_MAX_TEXTS = 96
COHERE_DIMENSIONS = {"cohere.embed-v4:0": 1536}
"""Vector sizes by model; Cohere's v3 embedders give 1024."""


def _body(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "model"}


def _tokens(texts: list[str]) -> dict[str, str]:
    return {"x-amzn-bedrock-input-token-count": str(answers.prompt_tokens(texts, 0) - 3)}


def validate_titan(body: Any) -> None:
    problem = check(TitanEmbedRequest, _body(body))
    if problem is not None:
        raise validation(f"Malformed input request: #/{'/'.join(map(str, problem.path))}: {problem.message}")
    tokens = answers.prompt_tokens([body["inputText"]], 0) - 3
    if tokens > TITAN_INPUT_TOKENS:
        raise validation(
            f"400 Bad Request: Too many input tokens. Max input tokens: {TITAN_INPUT_TOKENS}, request input token "
            f"count: {tokens}"
        )


def titan_answer(body: dict[str, Any], draw: Draw) -> Answer:
    text = body["inputText"]
    vector = answers.embedding(text, body.get("dimensions") or 1024)
    tokens = answers.prompt_tokens([text], 0) - 3
    answer = {"embedding": vector, "inputTextTokenCount": tokens, "embeddingsByType": {"float": vector}}
    return Answer(answer, tokens, 0, _tokens([text]))


def validate_cohere(body: Any) -> None:
    problem = check(CohereEmbedRequest, _body(body))
    if problem is not None:
        raise validation(f"Malformed input request: #/{'/'.join(map(str, problem.path))}: {problem.message}")
    if not body.get("texts"):
        raise validation("Malformed input request: #: texts or images must be given")


def cohere_answer(body: dict[str, Any], draw: Draw) -> Answer:
    texts = body["texts"]
    size = body.get("output_dimension") or COHERE_DIMENSIONS.get(body["model"], 1024)
    vectors = [answers.embedding(text, size) for text in texts]
    kinds = body.get("embedding_types")
    embeddings: Any = (
        {kind: [answers.quantised(vector, kind) for vector in vectors] for kind in kinds} if kinds else vectors
    )
    answer = {
        "id": draw.digest.hex(),
        "texts": texts,
        "embeddings": embeddings,
        "response_type": "embeddings_by_type" if kinds else "embeddings_floats",
    }
    return Answer(answer, answers.prompt_tokens(texts, 0) - 3, 0, _tokens(texts))


def titan_cost(body: dict[str, Any]) -> Cost:
    return Cost(tokens=answers.prompt_tokens([body["inputText"]], 0))


def cohere_cost(body: dict[str, Any]) -> Cost:
    return Cost(tokens=answers.prompt_tokens(body["texts"], 0))


TITAN = ModelEndpoint(validate_titan, titan_cost, titan_answer)
COHERE = ModelEndpoint(validate_cohere, cohere_cost, cohere_answer)


def endpoint_for(model: str) -> ModelEndpoint | None:
    """The embedding endpoint InvokeModel plays for `model`, if it is an embedding model."""
    if "amazon.titan-embed" in model:
        return TITAN
    if "cohere.embed" in model:
        return COHERE
    return None
