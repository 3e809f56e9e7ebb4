"""Gemini (the Developer API) as the simulator plays it: `models/{model}:generateContent` and
`:streamGenerateContent` (see gemini_stream.py) under `/v1beta`, and `/v1` as google-genai sends
with a custom base URL, with
the key in `x-goog-api-key` (or `?key=`), Google's error body (`{"error": {code, message,
status}}`), limits without rate-limit headers (a 429 says how long to wait in a `RetryInfo`
detail), 503 `UNAVAILABLE` when overloaded. The Files and Batch APIs live in gemini_files.py
and gemini_batches.py.

Thinking: a model thinks when `thinkingConfig` gives a budget above 0 (spent in full), a level,
or a budget of -1, and by default on 2.5 and 3.x models other than 2.5 Flash-Lite; budget 0
turns it off (400 on Pro models, which cannot). Thoughts count toward `maxOutputTokens`, so a
thinking budget at or above it spends the whole of it thinking: `MAX_TOKENS` and no text. Thought
tokens are always in `thoughtsTokenCount`; a thought summary part comes only with
`includeThoughts`. Function calls follow the tool rule of the other providers (see `answers`).
`batchEmbedContents` answers up to 100 texts with unit vectors of `outputDimensionality`.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Iterator, Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel

from cloudburst._sim import answers, gemini_batches, gemini_files, gemini_stream
from cloudburst._sim.answers import Draw, Text
from cloudburst._sim.config import SimConfig
from cloudburst._sim.limits import Cost, RateLimiter, Refusal
from cloudburst._sim.openai_chat import stop_at
from cloudburst._sim.provider import Answer, Handler, MiB, ModelEndpoint, Problem, Refused, SimProvider, StreamPlay
from cloudburst._sim.store import Store
from cloudburst._sim.validation import check
from cloudburst.generated.gemini.models import BatchEmbedContentsRequest, GenerateContentRequest

STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
"""Google's status names by HTTP status, as `error.status` carries them."""
MEDIA_TOKENS = 258
"""What Gemini counts for one image or file part."""
LEVEL_TOKENS = {"minimal": 16, "low": 64, "medium": 192, "high": 512}
"""Thought tokens a thinking level spends, before the hash adds up to half again."""
DYNAMIC_TOKENS = 192
OUTPUT_CONTROLS = frozenset({"maxOutputTokens", "stopSequences", "responseLogprobs", "logprobs"})
"""`generationConfig` fields that cut an answer without changing it (see `answers.OUTPUT_CONTROLS`)."""
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


@cache
def _nested(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """The model's fields that hold messages (or lists of them), by name, with their model."""
    out: dict[str, type[BaseModel]] = {}
    for name, info in model.model_fields.items():
        pending: list[Any] = [info.annotation]
        while pending:
            kind = pending.pop()
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                out[name] = kind
                break
            pending.extend(typing.get_args(kind))
    return out


def proto_names(data: Any, model: type[BaseModel] = GenerateContentRequest) -> Any:
    """`data` with fields named as in JSON (`thinkingBudget`): Google's parser takes the proto
    names (`thinking_budget`) too, and google-genai sends some. Free-form objects (schemas,
    arguments) keep their keys."""
    if isinstance(data, list):
        return [proto_names(item, model) for item in data]
    if not isinstance(data, dict):
        return data
    nested = _nested(model)
    out = {}
    for key, value in data.items():
        name = key if key in model.model_fields or "_" not in key else _camel(key)
        inner = nested.get(name)
        out[name] = proto_names(value, inner) if inner is not None else value
    return out


def invalid(message: str) -> Refused:
    return Refused(Problem(400, "INVALID_ARGUMENT", message))


def _snake(name: str | int) -> str:
    text = str(name)
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in text)


def validate_generate(body: Any) -> None:
    problem = check(GenerateContentRequest, {k: v for k, v in body.items() if k != "model"})
    if problem is not None:
        path = [_snake(step) for step in problem.path]
        if problem.kind == "extra_forbidden":
            where = f" at '{'.'.join(path[:-1])}'" if len(path) > 1 else ""
            raise invalid(
                f'Invalid JSON payload received. Unknown name "{problem.path[-1]}"{where}: Cannot find field.'
            )
        if problem.kind == "missing":
            raise invalid(f"* GenerateContentRequest.{'.'.join(path)}: {path[-1]} is not specified")
        raise invalid(f"Invalid value at '{'.'.join(path)}': {problem.message}")
    if not body["contents"]:
        raise invalid("* GenerateContentRequest.contents: contents is not specified")
    thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    if thinking.get("thinkingBudget") is not None and thinking.get("thinkingLevel") is not None:
        raise invalid("You can only set only one of thinking budget and thinking level.")
    if thinking.get("thinkingBudget") == 0 and "pro" in body["model"]:
        raise invalid("Budget 0 is invalid. This model only works in thinking mode.")
    if (body.get("generationConfig") or {}).get("responseLogprobs") and body["model"].startswith("gemini-3"):
        raise invalid("Logprobs is not supported for the current model.")
    responses = [part["functionResponse"] for part in gemini_files.media_parts(body) if part.get("functionResponse")]
    if any(response.get("parts") for response in responses) and not body["model"].startswith("gemini-3"):
        raise invalid("Multimodal function responses are not supported for the current model.")


def _part_texts(parts: Any) -> Iterator[str]:
    for part in parts or ():
        if isinstance(part.get("text"), str):
            yield part["text"]
        for key, inner in (("functionCall", "args"), ("functionResponse", "response")):
            call = part.get(key)
            if call:
                yield call["name"]
                yield orjson.dumps(call.get(inner)).decode()


def _texts(body: Mapping[str, Any]) -> Iterator[str]:
    yield from _part_texts((body.get("systemInstruction") or {}).get("parts"))
    for content in body["contents"]:
        yield from _part_texts(content.get("parts"))


def _media(body: Mapping[str, Any]) -> int:
    return sum(
        MEDIA_TOKENS for part in gemini_files.media_parts(body) if part.get("inlineData") or part.get("fileData")
    )


def prompt_tokens(body: Mapping[str, Any]) -> int:
    tokens = answers.prompt_tokens(_texts(body), len(body["contents"])) + _media(body)
    if body.get("tools"):
        tokens += answers.prompt_tokens([orjson.dumps(body["tools"]).decode()], 0)
    return tokens


def generate_cost(body: dict[str, Any]) -> Cost:
    """Gemini's tokens per minute count the input only."""
    return Cost(tokens=sum(len(text) for text in _texts(body)) // 4 + 1 + _media(body))


def _thinks_by_default(model: str) -> bool:
    return model.startswith(("gemini-2.5", "gemini-3")) and not model.startswith("gemini-2.5-flash-lite")


def thought_tokens(config: Mapping[str, Any], model: str, draw: Draw) -> int:
    """How many tokens the model thinks, before `maxOutputTokens` cuts them."""
    thinking = config.get("thinkingConfig") or {}
    budget = thinking.get("thinkingBudget")
    level = thinking.get("thinkingLevel")
    rng = draw.rng("thinking")
    if budget is not None and budget >= 0:
        return int(budget)
    if level is not None:
        base = LEVEL_TOKENS.get(str(level).lower(), DYNAMIC_TOKENS)
        return base + rng.randint(0, base // 2)
    if budget == -1 or _thinks_by_default(model):
        return DYNAMIC_TOKENS + rng.randint(0, DYNAMIC_TOKENS // 2)
    return 0


def _lowered(schema: Any) -> Any:
    """An OpenAPI-style `responseSchema` (`type: OBJECT`) as JSON Schema (`type: object`)."""
    if isinstance(schema, dict):
        return {k: v.lower() if k == "type" and isinstance(v, str) else _lowered(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_lowered(item) for item in schema]
    return schema


def _declarations(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [declaration for tool in body.get("tools") or () for declaration in tool.get("functionDeclarations") or ()]


def _wants_tool(body: Mapping[str, Any]) -> str | None:
    declarations = _declarations(body)
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    mode = calling.get("mode") or "AUTO"
    last = body["contents"][-1]
    if not declarations or mode == "NONE" or last.get("role", "user") != "user":
        return None
    if any(part.get("functionResponse") for part in last.get("parts") or ()):
        return None
    names = [declaration["name"] for declaration in declarations]
    allowed = calling.get("allowedFunctionNames")
    if mode == "ANY" and allowed:
        names = [name for name in names if name in allowed]
    forced: str | bool = names[0] if mode == "ANY" and len(names) == 1 else mode == "ANY"
    prompt = " ".join(part["text"] for part in last.get("parts") or () if isinstance(part.get("text"), str))
    return answers.chosen_tool(names, prompt, forced)


def _output(body: Mapping[str, Any], config: Mapping[str, Any], draw: Draw, index: int, left: int | None) -> Text:
    rng = draw.rng(str(index))
    if config.get("responseMimeType") == "application/json":
        schema = config.get("responseJsonSchema") or _lowered(config.get("responseSchema"))
        return answers.json_text(schema, rng, left)
    return stop_at(answers.prose(rng, left), config.get("stopSequences"))


def _candidate(body: Mapping[str, Any], draw: Draw, index: int) -> tuple[dict[str, Any], int, int]:
    """One candidate, its answer tokens and its thought tokens."""
    config = body.get("generationConfig") or {}
    budget = config.get("maxOutputTokens")
    planned = thought_tokens(config, body["model"], draw)
    thoughts = planned if budget is None else min(planned, budget)
    left = None if budget is None else budget - thoughts
    parts: list[dict[str, Any]] = []
    if thoughts and (config.get("thinkingConfig") or {}).get("includeThoughts"):
        parts.append({"text": answers.thinking(draw.rng(f"summary{index}"), None).text, "thought": True})
    used = 0
    finish = "MAX_TOKENS"
    name = _wants_tool(body) if left is None or left > 0 else None
    if name is not None:
        declaration = next(d for d in _declarations(body) if d["name"] == name)
        schema = declaration.get("parametersJsonSchema") or _lowered(declaration.get("parameters"))
        arguments = answers.tool_arguments(schema, draw.rng(f"call{index}"))
        call: dict[str, Any] = {"functionCall": {"name": name, "args": arguments}}
        if thoughts:
            call["thoughtSignature"] = draw.signature()
        parts.append(call)
        used = answers.prompt_tokens([name, orjson.dumps(arguments).decode()], 0)
        finish = "STOP"
    elif left is None or left > 0:
        text = _output(body, config, draw, index, left)
        if text.text:
            parts.append({"text": text.text})
        used = text.count
        finish = "MAX_TOKENS" if text.cut else "STOP"
    content: dict[str, Any] = {"parts": parts, "role": "model"} if parts else {"role": "model"}
    candidate: dict[str, Any] = {"content": content, "finishReason": finish, "index": index}
    if config.get("responseLogprobs") and name is None and used:
        candidate.update(_logprobs(text.tokens, draw.rng(f"logprobs{index}"), config.get("logprobs") or 0))
    return candidate, used, thoughts


def _logprobs(tokens: tuple[str, ...], rng: Any, top: int) -> dict[str, Any]:
    """`avgLogprobs` and `logprobsResult` as Gemini sends them: the chosen token of each step,
    and beside it a list as long of the `top` likeliest, most likely first."""
    steps = answers.logprobs(tokens, rng, top)
    chosen = [{"token": token, "logProbability": logprob} for token, logprob, _ in steps]
    tops = [{"candidates": [{"token": t, "logProbability": lp} for t, lp in alts]} for _, _, alts in steps]
    total = sum(logprob for _, logprob, _ in steps)
    result = {"topCandidates": tops, "chosenCandidates": chosen, "logProbabilitySum": round(total, 6)}
    return {"avgLogprobs": total / len(steps) if steps else 0.0, "logprobsResult": result}


def _usage(prompt: int, candidates: int, thoughts: int) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": prompt}
    if candidates:
        usage["candidatesTokenCount"] = candidates
    usage["totalTokenCount"] = prompt + candidates + thoughts
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def generate_answer(body: dict[str, Any], draw: Draw) -> Answer:
    prompt = prompt_tokens(body)
    draw = draw.uncut(body, "generationConfig", OUTPUT_CONTROLS)
    candidates = []
    used = thought = 0
    for index in range((body.get("generationConfig") or {}).get("candidateCount") or 1):
        candidate, tokens, thoughts = _candidate(body, draw, index)
        candidates.append(candidate)
        used += tokens
        thought += thoughts
    return Answer(
        {
            "candidates": candidates,
            "usageMetadata": _usage(prompt, used, thought),
            "modelVersion": body["model"],
            "responseId": draw.ident("", 23),
        },
        prompt,
        used + thought,
    )


def blocked(body: dict[str, Any], draw: Draw, config: SimConfig) -> Answer | None:
    """The configured share of prompts, blocked for safety: feedback and no candidates."""
    if answers.fraction(draw.content.hex() + "blocked") >= config.blocked_fraction:
        return None
    prompt = prompt_tokens(body)
    ratings: list[dict[str, Any]] = [
        {"category": category, "probability": "NEGLIGIBLE"}
        for category in ("HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_SEXUALLY_EXPLICIT")
    ]
    ratings.append({"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True})
    return Answer(
        {
            "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": ratings},
            "usageMetadata": _usage(prompt, 0, 0),
            "modelVersion": body["model"],
            "responseId": draw.ident("", 23),
        },
        prompt,
        0,
    )


GENERATE = ModelEndpoint(
    validate_generate, generate_cost, generate_answer, blocked, proto_names, gemini_files.admit_files
)
STREAM_GENERATE = dataclasses.replace(GENERATE, stream=StreamPlay(gemini_stream.events, flag=None))
"""`:streamGenerateContent`: the same answer, streamed (as SSE; the simulator sends no JSON array)."""


EMBED_MAX_REQUESTS = 100
EMBED_INPUT_TOKENS = {"gemini-embedding-001": 2048}
"""Each text's limit by model; others take 8,192."""
EMBEDDING_DIMENSIONS = 3072
EMBEDS_IMAGES = frozenset({"gemini-embedding-2"})
"""Models whose entries may carry images (`inlineData` parts)."""


def validate_embed(body: Any) -> None:
    problem = check(BatchEmbedContentsRequest, {k: v for k, v in body.items() if k != "model"})
    if problem is not None:
        raise invalid(f"Invalid value at '{'.'.join(map(str, problem.path))}': {problem.message}")
    requests = body["requests"]
    if len(requests) > EMBED_MAX_REQUESTS:
        raise invalid(
            f"* BatchEmbedContentsRequest.requests: at most {EMBED_MAX_REQUESTS} requests can be in one batch"
        )
    limit = EMBED_INPUT_TOKENS.get(body["model"], 8192)
    for index, request in enumerate(requests):
        if request["model"] != f"models/{body['model']}":
            raise invalid(f"* BatchEmbedContentsRequest.requests[{index}].model: the model must match the URL's")
        parts = request["content"].get("parts") or ()
        if body["model"] not in EMBEDS_IMAGES and any("inlineData" in part for part in parts):
            raise invalid(f"* BatchEmbedContentsRequest.requests[{index}]: {body['model']} embeds text only")
        tokens = answers.prompt_tokens(_part_texts(parts), 0) - 3
        if tokens > limit:
            raise invalid(f"The input token count ({tokens}) exceeds the maximum number of tokens allowed ({limit}).")


def embed_cost(body: dict[str, Any]) -> Cost:
    return Cost(tokens=_embed_tokens(body) + 3)


def _embed_parts(body: Mapping[str, Any]) -> list[Any]:
    return [request["content"].get("parts") or () for request in body["requests"]]


def _embed_texts(body: Mapping[str, Any]) -> list[str]:
    """What each entry is embedded from: its texts, and its images' base64."""
    return [
        " ".join([*_part_texts(parts), *(part["inlineData"]["data"] for part in parts if "inlineData" in part)])
        for parts in _embed_parts(body)
    ]


def _embed_tokens(body: Mapping[str, Any]) -> int:
    """The entries' text tokens, and MEDIA_TOKENS an image."""
    parts = [part for entry in _embed_parts(body) for part in entry]
    return answers.prompt_tokens(_part_texts(parts), 0) - 3 + MEDIA_TOKENS * sum("inlineData" in p for p in parts)


def embed_answer(body: dict[str, Any], draw: Draw) -> Answer:
    texts = _embed_texts(body)
    embeddings = [
        {"values": answers.embedding(text, request.get("outputDimensionality") or EMBEDDING_DIMENSIONS)}
        for text, request in zip(texts, body["requests"], strict=True)
    ]
    tokens = _embed_tokens(body)
    usage = {"promptTokenCount": tokens, "totalTokenCount": tokens}
    return Answer({"embeddings": embeddings, "usageMetadata": usage}, tokens, 0)


EMBED = ModelEndpoint(validate_embed, embed_cost, embed_answer)


class Gemini(SimProvider):
    name = "gemini"
    request_id_header = None
    model_routes = MappingProxyType(
        {
            "/v1beta/models/{}:generateContent": GENERATE,
            "/v1/models/{}:generateContent": GENERATE,
            "/v1beta/models/{}:streamGenerateContent": STREAM_GENERATE,
            "/v1/models/{}:streamGenerateContent": STREAM_GENERATE,
            "/v1beta/models/{}:batchEmbedContents": EMBED,
        }
    )
    routes: Mapping[tuple[str, str], Handler] = MappingProxyType({**gemini_files.ROUTES, **gemini_batches.ROUTES})
    prefixes = ("/v1beta/", "/upload/", "/download/")
    base_path = "/v1beta"
    route_max_body = MappingProxyType({f"/upload/{version}/files": 2048 * MiB for version in gemini_files.VERSIONS})
    """The files guide: up to 2 GB a file."""
    upload_paths = frozenset(route_max_body)
    max_body = 100 * MiB
    """Google's "Increased file size limits" post (January 2026): inline payloads up to 100 MB,
    base64 included (20 MB before; its errors wrote that as 20971520 bytes)."""

    def claims(self, headers: Mapping[str, str]) -> bool:
        return "x-goog-api-key" in headers

    def api_key(self, headers: Mapping[str, str]) -> str | None:
        return headers.get("x-goog-api-key") or None

    def request_key(self, request: web.BaseRequest, store: Store) -> str | None:
        upload = store.uploads.get(request.query.get("upload_id", ""))
        return self.api_key(request.headers) or request.query.get("key") or (upload.owner if upload else None)

    def unauthorized(self, key: str | None) -> Problem:
        if not key:
            return Problem(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        return Problem(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            details=(
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                },
            ),
        )

    def too_large(self, limit: int) -> Problem:
        """Google's front end answers 400, not 413, for a body over the limit."""
        return Problem(400, "INVALID_ARGUMENT", f"Request payload size exceeds the limit: {limit} bytes.")

    def error_body(self, problem: Problem) -> dict[str, Any]:
        status = problem.type if problem.type.isupper() else STATUSES.get(problem.status, "UNKNOWN")
        error: dict[str, Any] = {"code": problem.status, "message": problem.message, "status": status}
        if problem.details:
            error["details"] = list(problem.details)
        return {"error": error}

    def not_found(self, method: str, path: str) -> Problem:
        return Problem(404, "NOT_FOUND", f"The requested URL {path} was not found on this server.")

    def limits(self, config: SimConfig) -> dict[str, int | None]:
        return {"requests": config.rpm, "tokens": config.tpm}

    def rate_limited(self, refusal: Refusal, model: str) -> Problem:
        quota = "GenerateRequestsPerMinutePerProjectPerModel"
        metric = "generate_content_requests"
        if refusal.cause == "tokens":
            quota, metric = "GenerateContentInputTokensPerModelPerMinute", "generate_content_input_token_count"
        return Problem(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details. For more information "
            "on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
            details=(
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": f"generativelanguage.googleapis.com/{metric}",
                            "quotaId": quota,
                            "quotaDimensions": {"location": "global", "model": model},
                            "quotaValue": str(refusal.limit),
                        }
                    ],
                },
                {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [
                        {
                            "description": "Learn more about Gemini API quotas",
                            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                        }
                    ],
                },
                {"@type": _RETRY_INFO, "retryDelay": f"{max(1, math.ceil(refusal.retry_after))}s"},
            ),
        )

    def limit_headers(self, limiter: RateLimiter, key: str, model: str, now: float) -> dict[str, str]:
        return {}

    def server_error(self, overloaded: bool) -> Problem:
        if overloaded:
            return Problem(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
        return Problem(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
        )
