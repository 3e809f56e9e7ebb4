"""Mistral (la Plateforme) as the simulator plays it: chat completions under `/mistral/v1` (its
own path, `/v1/chat/completions`, is OpenAI's here), Bearer auth, `x-ratelimit-limit-*-minute`
and `x-ratelimit-remaining-*-minute` headers (no reset), the gateway's bare `{"message": ...}`
for 401 and 429, the API's `{"object": "error", ...}` otherwise (422 with pydantic's `detail`
list for an invalid body).

Reasoning (a `magistral-*` model, `prompt_mode: reasoning` or a `reasoning_effort` other than
none) answers content as chunks, a thinking chunk then the text, the thinking counting toward
`max_tokens`. Tool calls follow the rule of the other providers (see `answers`). Embeddings answer OpenAI's
shape, quantised per `output_dtype`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from cloudburst._sim import answers
from cloudburst._sim.answers import Draw
from cloudburst._sim.config import SimConfig
from cloudburst._sim.limits import Cost, RateLimiter, Refusal
from cloudburst._sim.openai_chat import char_estimate, last_user_text, message_texts, output_schema, stop_at
from cloudburst._sim.openai_chat_stream import mistral_events
from cloudburst._sim.provider import Answer, Handler, ModelEndpoint, Problem, Refused, SimProvider, StreamPlay
from cloudburst._sim.validation import check
from cloudburst.generated.mistral.models import ChatCompletionRequest, EmbeddingRequest

GATEWAY = "gateway"
"""The type of problems answered by Mistral's gateway, whose bodies are a bare message."""
_HEADERS = {"requests": "req-minute", "tokens": "tokens-minute"}


def _invalid(message: str) -> Refused:
    return Refused(Problem(400, "invalid_request_error", message))


def validate_chat(body: Any) -> None:
    problem = check(ChatCompletionRequest, body)
    if problem is not None:
        detail = {"type": problem.kind, "loc": ["body", *problem.path], "msg": problem.message}
        raise Refused(Problem(422, "invalid_request_error", problem.message, details=(detail,)))
    if not body["messages"]:
        raise _invalid("Invalid request: messages must not be empty")


def chat_cost(body: dict[str, Any]) -> Cost:
    return Cost(tokens=char_estimate(message_texts(body["messages"])) + (body.get("max_tokens") or 0))


def reasons(body: Mapping[str, Any]) -> bool:
    """Whether the answer starts with a thinking chunk."""
    effort = body.get("reasoning_effort")
    return (
        str(body["model"]).startswith("magistral")
        or body.get("prompt_mode") == "reasoning"
        or effort not in (None, "none")
    )


def _forced(choice: Any) -> str | bool | None:
    if choice == "none":
        return None
    if choice in ("any", "required"):
        return True
    if isinstance(choice, dict):
        return str((choice.get("function") or {}).get("name"))
    return False


def _wants_tool(body: Mapping[str, Any]) -> str | None:
    tools = [tool for tool in body.get("tools") or () if tool.get("type", "function") == "function"]
    forced = _forced(body.get("tool_choice", "auto"))
    if not tools or forced is None or body["messages"][-1].get("role") == "tool":
        return None
    return answers.chosen_tool([tool["function"]["name"] for tool in tools], last_user_text(body["messages"]), forced)


def _choice(body: dict[str, Any], draw: Draw, index: int) -> tuple[dict[str, Any], int]:
    budget: int | None = body.get("max_tokens")
    rng = draw.rng(str(index))
    message: dict[str, Any] = {"role": "assistant", "content": "", "tool_calls": None, "prefix": False}
    chunks: list[dict[str, Any]] = []
    thought = 0
    if reasons(body):
        thinking = answers.thinking(draw.rng(f"thinking{index}"), budget)
        thought = thinking.count
        chunks.append({"type": "thinking", "thinking": [{"type": "text", "text": thinking.text}]})
    left = None if budget is None else budget - thought
    name = _wants_tool(body) if left is None or left > 0 else None
    if name is not None:
        tool = next(tool for tool in body["tools"] if tool["function"]["name"] == name)
        arguments = answers.json_text(tool["function"].get("parameters"), rng, None).text
        call = {
            "id": draw.ident("", 9, f"call{index}"),
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        message["tool_calls"] = [{**call, "index": 0}]
        used = answers.prompt_tokens([name, arguments], 0)
        finish = "tool_calls"
    else:
        wants_json, schema = output_schema(body.get("response_format"))
        text = answers.json_text(schema, rng, left) if wants_json else answers.prose(rng, left)
        text = stop_at(text, body.get("stop"))
        if chunks:
            chunks.append({"type": "text", "text": text.text})
        else:
            message["content"] = text.text
        used = text.count
        finish = "length" if text.cut or (left is not None and left <= 0) else "stop"
    if chunks:
        message["content"] = chunks
    return {"index": index, "message": message, "finish_reason": finish}, used + thought


def chat_answer(body: dict[str, Any], draw: Draw) -> Answer:
    prompt = answers.prompt_tokens(message_texts(body["messages"]), len(body["messages"]))
    if body.get("tools"):
        prompt += answers.prompt_tokens([str(body["tools"])], 0)
    choices = []
    completion = 0
    for index in range(body.get("n") or 1):
        choice, used = _choice(body, draw, index)
        choices.append(choice)
        completion += used
    return Answer(
        {
            "id": draw.digest.hex(),
            "object": "chat.completion",
            "model": body["model"],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
            "created": draw.created(),
            "choices": choices,
        },
        prompt,
        completion,
    )


EMBED_MAX_INPUTS = 512
EMBED_MAX_TOKENS = 16_384
"""What one embeddings request may carry here (Mistral documents neither; its answer to more
is a 400 "Too many inputs in request, split into more batches.")."""
EMBEDDING_DIMENSIONS = 1024


def validate_embeddings(body: Any) -> None:
    problem = check(EmbeddingRequest, body)
    if problem is not None:
        detail = {"type": problem.kind, "loc": ["body", *problem.path], "msg": problem.message}
        raise Refused(Problem(422, "invalid_request_error", problem.message, details=(detail,)))
    texts = _embedding_texts(body)
    if len(texts) > EMBED_MAX_INPUTS:
        raise _invalid("Too many inputs in request, split into more batches.")
    if answers.prompt_tokens(texts, 0) > EMBED_MAX_TOKENS:
        raise _invalid("Too many tokens in request, split into more batches.")
    if body.get("output_dimension") is not None and body["model"] == "mistral-embed":
        raise _invalid("output_dimension is not supported for mistral-embed")


def _embedding_texts(body: Mapping[str, Any]) -> list[str]:
    raw = body["input"]
    return [raw] if isinstance(raw, str) else list(raw)


def embeddings_cost(body: dict[str, Any]) -> Cost:
    return Cost(tokens=char_estimate(iter(_embedding_texts(body))))


def embeddings_answer(body: dict[str, Any], draw: Draw) -> Answer:
    texts = _embedding_texts(body)
    size = body.get("output_dimension") or EMBEDDING_DIMENSIONS
    kind = body.get("output_dtype") or "float"
    data = [
        {"object": "embedding", "index": index, "embedding": answers.quantised(answers.embedding(text, size), kind)}
        for index, text in enumerate(texts)
    ]
    tokens = answers.prompt_tokens(texts, 0) - 3
    return Answer(
        {
            "id": draw.digest.hex(),
            "object": "list",
            "model": body["model"],
            "data": data,
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
        },
        tokens,
        0,
    )


CHAT = ModelEndpoint(validate_chat, chat_cost, chat_answer, stream=StreamPlay(mistral_events))
EMBEDDINGS = ModelEndpoint(validate_embeddings, embeddings_cost, embeddings_answer)


class Mistral(SimProvider):
    name = "mistral"
    request_id_header = "mistral-correlation-id"
    model_routes = MappingProxyType({"/mistral/v1/chat/completions": CHAT, "/mistral/v1/embeddings": EMBEDDINGS})
    routes: Mapping[tuple[str, str], Handler] = MappingProxyType({})
    prefixes = ("/mistral/",)
    base_path = "/mistral/v1"
    limit_header_names = tuple(
        f"x-ratelimit-{kind}-{suffix}" for suffix in _HEADERS.values() for kind in ("limit", "remaining")
    )

    def claims(self, headers: Mapping[str, str]) -> bool:
        return False

    def api_key(self, headers: Mapping[str, str]) -> str | None:
        value = headers.get("authorization", "")
        return value[7:].strip() or None if value[:7].lower() == "bearer " else None

    def unauthorized(self, key: str | None) -> Problem:
        return Problem(401, GATEWAY, "Unauthorized")

    def error_body(self, problem: Problem) -> dict[str, Any]:
        if problem.type == GATEWAY:
            return {"message": problem.message}
        message: Any = {"detail": list(problem.details)} if problem.details else problem.message
        return {
            "object": "error",
            "message": message,
            "type": problem.type,
            "param": problem.param,
            "code": problem.code,
        }

    def not_found(self, method: str, path: str) -> Problem:
        return Problem(404, GATEWAY, "no Route matched with those values")

    def limits(self, config: SimConfig) -> dict[str, int | None]:
        return {"requests": config.rpm, "tokens": config.tpm}

    def rate_limited(self, refusal: Refusal, model: str) -> Problem:
        kind = "Requests" if refusal.cause == "requests" else "Tokens per minute"
        return Problem(
            429,
            GATEWAY,
            f"{kind} rate limit exceeded",
            headers={"retry-after": str(max(1, math.ceil(refusal.retry_after)))},
        )

    def limit_headers(self, limiter: RateLimiter, key: str, model: str, now: float) -> dict[str, str]:
        headers: dict[str, str] = {}
        for dimension, suffix in _HEADERS.items():
            bucket = limiter.bucket(key, model, dimension, now)
            if bucket is not None:
                headers[f"x-ratelimit-limit-{suffix}"] = str(bucket.limit)
                headers[f"x-ratelimit-remaining-{suffix}"] = str(bucket.remaining)
        return headers

    def server_error(self, overloaded: bool) -> Problem:
        if overloaded:
            return Problem(503, "service_unavailable", "Service unavailable, please retry later.", code="3505")
        return Problem(500, "internal_server_error", "Internal server error", code="3000")
