"""Cohere (API v2) as the simulator plays it: `/v2/chat`, `/v2/embed` and `/v2/rerank` with
Bearer auth, errors as a bare `{"message": ...}`, limits without rate-limit headers (a 429 says
only that the limit was passed: Cohere documents no rate-limit or retry-after header).

Chat thinks (a thinking block before the text, counting toward `max_tokens`) when `thinking` is
enabled, or on a reasoning model unless disabled. Tool calls follow the rule of the other
providers (see `answers`), with a `tool_plan`. Embeddings are drawn per text (an image's from
its data URL, billed as image tokens) and quantised for each asked type; rerank scores mix word
overlap with the query and a hash.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import orjson
from pydantic import BaseModel

from cloudburst._sim import answers, cohere_chat_stream
from cloudburst._sim.answers import Draw
from cloudburst._sim.config import SimConfig
from cloudburst._sim.limits import Cost, RateLimiter, Refusal
from cloudburst._sim.openai_chat import content_texts, stop_at
from cloudburst._sim.provider import Answer, Handler, ModelEndpoint, Problem, Refused, SimProvider, StreamPlay
from cloudburst._sim.validation import check
from cloudburst.generated.cohere.models import ChatRequestV2, EmbedRequestV2, RerankRequestV2

EMBEDDING_DIMENSIONS = {"embed-v4.0": 1536}
"""Vector sizes by model; other models give 1024, as Cohere's v3 embedders do."""
EMBED_IMAGE_BYTES = 20_000_000
"""Embed v4: the images of a request together (the reference's `images`)."""
EMBED_IMAGE_TOKENS = 1_000
"""Image tokens billed an image (`meta.billed_units.image_tokens`; the real count varies with size)."""
TEMPLATE_TOKENS = 64
"""What Cohere's prompt template adds to the input it counts (`usage.tokens`) but does not bill."""
_WORD = re.compile(r"\w+")


def invalid(message: str) -> Refused:
    return Refused(Problem(400, "invalid_request", f"invalid request: {message}"))


def validate_with(model: type[BaseModel]) -> Any:
    def validate(body: Any) -> None:
        problem = check(model, body)
        if problem is not None:
            raise invalid(f"{problem.dotted()}: {problem.message}")

    return validate


def message_texts(messages: list[Any]) -> Iterator[str]:
    for message in messages:
        yield from content_texts(message.get("content"))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            yield function.get("name") or ""
            yield function.get("arguments") or ""


def _estimate(texts: Iterator[str]) -> int:
    return sum(len(text) for text in texts) // 4 + 1


def chat_cost(body: dict[str, Any]) -> Cost:
    return Cost(tokens=_estimate(message_texts(body["messages"])) + (body.get("max_tokens") or 0))


def thinks(body: Mapping[str, Any]) -> bool:
    kind = (body.get("thinking") or {}).get("type")
    return kind == "enabled" or (kind is None and "reasoning" in str(body["model"]))


def _wants_tool(body: Mapping[str, Any]) -> str | None:
    tools = [tool for tool in body.get("tools") or () if tool.get("function")]
    choice = body.get("tool_choice")
    messages = body["messages"]
    if not tools or choice == "NONE" or messages[-1]["role"] == "tool":
        return None
    prompt = next((" ".join(content_texts(m["content"])) for m in reversed(messages) if m["role"] == "user"), "")
    return answers.chosen_tool([tool["function"]["name"] for tool in tools], prompt, choice == "REQUIRED")


def chat_answer(body: dict[str, Any], draw: Draw) -> Answer:
    messages = body["messages"]
    prompt = answers.prompt_tokens(message_texts(messages), len(messages))
    if body.get("tools"):
        prompt += answers.prompt_tokens([orjson.dumps(body["tools"]).decode()], 0)
    budget: int | None = body.get("max_tokens")
    rng = draw.rng()
    message: dict[str, Any] = {"role": "assistant"}
    content: list[dict[str, Any]] = []
    thought = 0
    if thinks(body):
        limit = (body.get("thinking") or {}).get("token_budget")
        caps = [cap for cap in (limit, budget) if cap is not None]
        block = answers.thinking(draw.rng("thinking"), min(caps) if caps else None)
        thought = block.count
        content.append({"type": "thinking", "thinking": block.text})
    left = None if budget is None else budget - thought
    name = _wants_tool(body) if left is None or left > 0 else None
    if name is not None:
        tool = next(tool for tool in body["tools"] if tool["function"]["name"] == name)
        arguments = answers.json_text(tool["function"].get("parameters"), rng, None).text
        plan = f"I will use the {name} tool to answer."
        message["tool_plan"] = plan
        message["tool_calls"] = [
            {
                "id": f"{name}_{draw.ident('', 12, 'call').lower()}",
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
        ]
        used = answers.prompt_tokens([plan, name, arguments], 0)
        finish = "TOOL_CALL"
    else:
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_object":
            text = answers.json_text(response_format.get("json_schema"), rng, left)
        else:
            text = answers.prose(rng, left)
        stopped = stop_at(text, body.get("stop_sequences"))
        content.append({"type": "text", "text": stopped.text})
        used = stopped.count
        finish = (
            "STOP_SEQUENCE"
            if stopped is not text
            else "MAX_TOKENS"
            if text.cut or (left is not None and left <= 0)
            else "COMPLETE"
        )
    if content:
        message["content"] = content
    output = used + thought
    return Answer(
        {
            "id": _uuid(draw),
            "message": message,
            "finish_reason": finish,
            "usage": {
                "billed_units": {"input_tokens": prompt, "output_tokens": output},
                "tokens": {"input_tokens": prompt + TEMPLATE_TOKENS, "output_tokens": output},
            },
        },
        prompt,
        output,
    )


def _uuid(draw: Draw) -> str:
    hexed = draw.digest.hex()
    return f"{hexed[:8]}-{hexed[8:12]}-4{hexed[13:16]}-8{hexed[17:20]}-{hexed[20:32]}"


def _meta(**billed: int) -> dict[str, Any]:
    return {"api_version": {"version": "2"}, "billed_units": billed}


def _embed_texts(body: Mapping[str, Any]) -> list[str]:
    if body.get("texts"):
        return list(body["texts"])
    return [" ".join(map(_content_text, entry.get("content") or ())) for entry in body.get("inputs") or ()] or [
        str(image) for image in body.get("images") or ()
    ]


def _content_text(item: Mapping[str, Any]) -> str:
    """What an input's content part is embedded from: its text, or an image's data URL."""
    return str(item.get("text") if item.get("type") == "text" else (item.get("image_url") or {}).get("url"))


def _embed_split(body: Mapping[str, Any]) -> tuple[list[str], list[str], int]:
    """Each input's key (its text, or an image's data URL), the texts, and how many images."""
    keys = _embed_texts(body)
    texts = [key for key in keys if not key.startswith("data:")]
    return keys, texts, len(keys) - len(texts)


def embed_cost(body: dict[str, Any]) -> Cost:
    _, texts, images = _embed_split(body)
    return Cost(tokens=_estimate(iter(texts)) + EMBED_IMAGE_TOKENS * images)


def embed_answer(body: dict[str, Any], draw: Draw) -> Answer:
    keys, texts, images = _embed_split(body)
    size = body.get("output_dimension") or EMBEDDING_DIMENSIONS.get(body["model"], 1024)
    vectors = [answers.embedding(key, size) for key in keys]
    kinds = body.get("embedding_types") or ["float"]
    embeddings = {kind: [answers.quantised(vector, kind) for vector in vectors] for kind in kinds}
    tokens = answers.prompt_tokens(texts, 0) - 3
    billed = {"images": images, "image_tokens": EMBED_IMAGE_TOKENS * images} if images else {}
    return Answer(
        {
            "id": _uuid(draw),
            "texts": texts,
            "embeddings": embeddings,
            "meta": _meta(input_tokens=tokens, **billed),
            "response_type": "embeddings_by_type",
        },
        tokens + EMBED_IMAGE_TOKENS * images,
        0,
    )


def rerank_cost(body: dict[str, Any]) -> Cost:
    return Cost(tokens=_estimate(iter([body["query"], *body["documents"]])))


def relevance(query: str, document: str) -> float:
    """Half the share of the query's words the document holds, half a hash of the pair."""
    wanted = set(_WORD.findall(query.lower()))
    found = len(wanted & set(_WORD.findall(document.lower()))) / len(wanted) if wanted else 0.0
    return round(0.5 * found + 0.5 * answers.fraction(query + "\0" + document), 8)


def rerank_answer(body: dict[str, Any], draw: Draw) -> Answer:
    scores = [(relevance(body["query"], document), index) for index, document in enumerate(body["documents"])]
    ranked = sorted(scores, key=lambda pair: (-pair[0], pair[1]))[: body.get("top_n") or len(scores)]
    tokens = answers.prompt_tokens([body["query"], *body["documents"]], 0)
    return Answer(
        {
            "id": _uuid(draw),
            "results": [{"index": index, "relevance_score": score} for score, index in ranked],
            "meta": _meta(search_units=max(1, math.ceil(len(body["documents"]) / 100))),
        },
        tokens,
        0,
    )


_validate_embed_body = validate_with(EmbedRequestV2)


def _validate_embed(body: Any) -> None:
    _validate_embed_body(body)
    if not (body.get("texts") or body.get("images") or body.get("inputs")):
        raise invalid("one of texts, images or inputs must be given")
    images = sum(len(key) for key in _embed_texts(body) if key.startswith("data:"))
    if images > EMBED_IMAGE_BYTES:
        raise invalid(f"the images of one request may add up to {EMBED_IMAGE_BYTES:,} bytes; these are {images:,}")


CHAT = ModelEndpoint(validate_with(ChatRequestV2), chat_cost, chat_answer, stream=StreamPlay(cohere_chat_stream.events))
EMBED = ModelEndpoint(_validate_embed, embed_cost, embed_answer)
RERANK_MAX_DOCUMENTS = 1000
_validate_rerank_body = validate_with(RerankRequestV2)


def _validate_rerank(body: Any) -> None:
    _validate_rerank_body(body)
    if len(body["documents"]) > RERANK_MAX_DOCUMENTS:
        raise invalid(f"too many documents: {len(body['documents'])}, the maximum is {RERANK_MAX_DOCUMENTS}")


RERANK = ModelEndpoint(_validate_rerank, rerank_cost, rerank_answer)


class Cohere(SimProvider):
    name = "cohere"
    request_id_header = "x-request-id"
    model_routes = MappingProxyType({"/v2/chat": CHAT, "/v2/embed": EMBED, "/v2/rerank": RERANK})
    routes: Mapping[tuple[str, str], Handler] = MappingProxyType({})
    base_path = ""
    prefixes = ("/v2/",)

    def claims(self, headers: Mapping[str, str]) -> bool:
        return False

    def api_key(self, headers: Mapping[str, str]) -> str | None:
        value = headers.get("authorization", "")
        return value[7:].strip() or None if value[:7].lower() == "bearer " else None

    def unauthorized(self, key: str | None) -> Problem:
        return Problem(401, "unauthorized", "no api key supplied" if not key else "invalid api token")

    def error_body(self, problem: Problem) -> dict[str, Any]:
        return {"message": problem.message}

    def not_found(self, method: str, path: str) -> Problem:
        return Problem(404, "not_found", f"{method} {path}: not found")

    def limits(self, config: SimConfig) -> dict[str, int | None]:
        return {"requests": config.rpm, "tokens": config.tpm}

    def rate_limited(self, refusal: Refusal, model: str) -> Problem:
        unit = "requests" if refusal.cause == "requests" else "tokens"
        return Problem(
            429,
            "too_many_requests",
            f"You are past the per minute {unit} limit of {refusal.limit} for {model}; please slow down and "
            "retry later, or contact support to raise your limits.",
        )

    def limit_headers(self, limiter: RateLimiter, key: str, model: str, now: float) -> dict[str, str]:
        return {}

    def server_error(self, overloaded: bool) -> Problem:
        if overloaded:
            return Problem(503, "service_unavailable", "The service is overloaded, please try again later.")
        return Problem(500, "internal", "internal server error, this has been reported to our developers")
