"""Anthropic as the simulator plays it: auth (`x-api-key` or Bearer, plus `anthropic-version`), errors,
requests / input / output token limits and their headers, and the Messages API. Message
batches and files live in anthropic_batches.py.

Tool calls: when tools are offered and `tool_choice` is not `none`, the answer calls a tool if
the choice is `any` or names one, or if the last user message mentions a tool's name; a user
turn that carries tool results gets text. Thinking (`enabled` or `adaptive`) puts a signed
thinking block first, which counts toward `max_tokens`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import orjson

from cloudburst._sim import answers, anthropic_batches, anthropic_messages_stream
from cloudburst._sim.answers import Draw, Text
from cloudburst._sim.config import SimConfig
from cloudburst._sim.limits import Cost, RateLimiter, Refusal, rfc3339
from cloudburst._sim.provider import Answer, MiB, ModelEndpoint, Problem, Refused, SimProvider, StreamPlay, sse_frame
from cloudburst._sim.schema import strict_problem
from cloudburst._sim.store import Store, file_ids
from cloudburst._sim.validation import check
from cloudburst.generated.anthropic.models import MessageCreateParams

VERSION_HEADER = "anthropic-version"
_LIMIT_NAMES = {"requests": "requests", "input_tokens": "input tokens", "output_tokens": "output tokens"}
_HEADER_NAMES = {"requests": "requests", "input_tokens": "input-tokens", "output_tokens": "output-tokens"}


def invalid(message: str) -> Refused:
    return Refused(Problem(400, "invalid_request_error", message))


def validate_messages(body: Any) -> None:
    problem = check(MessageCreateParams, body)
    if problem is not None:
        message = "Extra inputs are not permitted" if problem.kind == "extra_forbidden" else problem.message
        raise invalid(f"{problem.dotted()}: {message}")
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled" and thinking["budget_tokens"] >= body["max_tokens"]:
        raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`")
    if not body["messages"]:
        raise invalid("messages: at least one message is required")
    for index, tool in enumerate(body.get("tools") or ()):
        found = strict_problem(tool.get("input_schema"), openai=False) if tool.get("strict") else None
        if found is not None:
            raise invalid(
                f"tools.{index}.custom: For 'object' type, 'additionalProperties' must be explicitly set to false"
            )


def admit_files(body: dict[str, Any], store: Store, key: str, now: float) -> None:
    """A `file` source must name an uploaded file. The Files API left beta: anthropic 2.15's
    `client.files` and its non-beta FileDocumentSourceParam send no `anthropic-beta`."""
    for file_id in file_ids(body.get("messages")):
        if file_id not in store.files:
            raise Refused(Problem(404, "not_found_error", f"File not found: {file_id}"))


def block_texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
        return
    for block in content or ():
        kind = block.get("type")
        if kind == "text":
            yield block["text"]
        elif kind == "thinking":
            yield block["thinking"]
        elif kind == "tool_use":
            yield block["name"]
            yield orjson.dumps(block.get("input")).decode()
        elif kind == "tool_result":
            yield from block_texts(block.get("content"))


def request_texts(body: Mapping[str, Any]) -> Iterator[str]:
    yield from block_texts(body.get("system"))
    for message in body.get("messages") or ():
        yield from block_texts(message.get("content"))


def messages_cost(body: dict[str, Any]) -> Cost:
    estimate = sum(len(text) for text in request_texts(body)) // 4 + 1
    return Cost(input_tokens=estimate, output_tokens=body.get("max_tokens") or 0)


def _forced(choice: Any) -> str | bool | None:
    kind: str = (choice or {}).get("type", "auto")
    if kind == "none":
        return None
    if kind == "tool":
        return str(choice.get("name"))
    return kind == "any"


def _wants_tool(body: dict[str, Any]) -> str | None:
    tools = [tool for tool in body.get("tools") or () if tool.get("type", "custom") == "custom"]
    forced = _forced(body.get("tool_choice"))
    last = body["messages"][-1]
    if not tools or forced is None or last["role"] != "user":
        return None
    content = last["content"]
    if isinstance(content, list) and any(block.get("type") == "tool_result" for block in content):
        return None
    return answers.chosen_tool([tool["name"] for tool in tools], " ".join(block_texts(content)), forced)


def _stop_sequence(text: Text, stops: Any) -> tuple[Text, str | None]:
    found = [(text.text.find(s), s) for s in stops or () if s and s in text.text]
    if not found:
        return text, None
    cut, sequence = min(found)
    kept: list[str] = []
    length = 0
    for token in text.tokens:
        if length + len(token) > cut:
            break
        kept.append(token)
        length += len(token)
    return Text("".join(kept), tuple(kept), False), sequence


def messages_answer(body: dict[str, Any], draw: Draw) -> Answer:
    input_tokens = answers.prompt_tokens(request_texts(body), len(body["messages"]))
    if body.get("tools"):
        input_tokens += answers.prompt_tokens([str(body["tools"])], 0)
    budget: int = body["max_tokens"]
    rng = draw.rng()
    content: list[dict[str, Any]] = []
    thinking_config = body.get("thinking") or {}
    thought = 0
    if thinking_config.get("type") in ("enabled", "adaptive"):
        limit = thinking_config.get("budget_tokens", budget // 2)
        block = answers.thinking(draw.rng("thinking"), min(limit, budget))
        thought = block.count
        shown = "" if thinking_config.get("display") == "omitted" else block.text
        content.append({"type": "thinking", "thinking": shown, "signature": draw.signature()})
    left = budget - thought
    stop_sequence = None
    name = _wants_tool(body) if left > 0 else None
    if name is not None:
        schema = next(tool["input_schema"] for tool in body["tools"] if tool["name"] == name)
        arguments = answers.tool_arguments(schema, rng)
        content.append({"type": "tool_use", "id": draw.ident("toolu_01", 22), "name": name, "input": arguments})
        used = answers.prompt_tokens([name, orjson.dumps(arguments).decode()], 0)
        stop_reason = "tool_use"
    else:
        output_format = (body.get("output_config") or {}).get("format") or {}
        if output_format.get("type") == "json_schema":
            text = answers.json_text(output_format.get("schema") or {"type": "object"}, rng, left)
        else:
            text = answers.prose(rng, left)
        text, stop_sequence = _stop_sequence(text, body.get("stop_sequences"))
        if text.text or not content:
            content.append({"type": "text", "text": text.text})
        used = text.count
        stop_reason = "stop_sequence" if stop_sequence else "max_tokens" if text.cut or left <= 0 else "end_turn"
    output_tokens = thought + used
    return Answer(
        {
            "id": draw.ident("msg_01", 22),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": output_tokens,
                "service_tier": "standard",
            },
        },
        input_tokens,
        output_tokens,
    )


def stream_error(problem: Problem) -> bytes:
    """An error in a stream, as Anthropic sends it: `event: error` with the error's body."""
    return sse_frame("error", {"type": "error", "error": {"type": problem.type, "message": problem.message}})


MESSAGES = ModelEndpoint(
    validate_messages,
    messages_cost,
    messages_answer,
    admit=admit_files,
    stream=StreamPlay(anthropic_messages_stream.events, request_fields=("stream",), error=stream_error),
)


class Anthropic(SimProvider):
    name = "anthropic"
    request_id_header = "request-id"

    model_routes = MappingProxyType({"/v1/messages": MESSAGES})
    routes = MappingProxyType(anthropic_batches.ROUTES)
    max_body = 32 * MiB
    """Anthropic's API overview, request size limits: 32 MB for the Messages API, 256 MB for
    the Batch API, 500 MB for the Files API; over them Cloudflare answers 413."""
    route_max_body = MappingProxyType({"/v1/messages/batches": 256 * MiB, "/v1/files": 500 * MiB})
    upload_paths = frozenset({"/v1/files"})
    limit_header_names = tuple(
        f"anthropic-ratelimit-{name}-{kind}"
        for name in ("requests", "tokens", "input-tokens", "output-tokens")
        for kind in ("limit", "remaining", "reset")
    )
    reset_format = "rfc3339"

    def claims(self, headers: Mapping[str, str]) -> bool:
        return "x-api-key" in headers or VERSION_HEADER in headers

    def api_key(self, headers: Mapping[str, str]) -> str | None:
        """`x-api-key`, or `Authorization: Bearer` as the newer SDKs send."""
        bearer = headers.get("authorization", "")
        return headers.get("x-api-key") or (bearer[7:].strip() if bearer[:7].lower() == "bearer " else "") or None

    def check_headers(self, headers: Mapping[str, str]) -> Problem | None:
        if VERSION_HEADER not in headers:
            return Problem(400, "invalid_request_error", "anthropic-version: header is required")
        return None

    def unauthorized(self, key: str | None) -> Problem:
        return Problem(401, "authentication_error", "x-api-key header is required" if not key else "invalid x-api-key")

    def too_large(self, limit: int) -> Problem:
        return Problem(413, "request_too_large", "Request exceeds the maximum allowed number of bytes.")

    def error_body(self, problem: Problem) -> dict[str, Any]:
        error: dict[str, Any] = {"type": problem.type, "message": problem.message}
        if problem.code is not None:
            error["details"] = {"error_code": problem.code}
        return {"type": "error", "error": error}

    def not_found(self, method: str, path: str) -> Problem:
        return Problem(404, "not_found_error", "Not Found")

    def limits(self, config: SimConfig) -> dict[str, int | None]:
        return {"requests": config.rpm, "input_tokens": config.input_tpm, "output_tokens": config.output_tpm}

    def rate_limited(self, refusal: Refusal, model: str) -> Problem:
        return Problem(
            429,
            "rate_limit_error",
            f"This request would exceed the rate limit for your organization (org-simulator) of {refusal.limit:,} "
            f"{_LIMIT_NAMES[refusal.cause]} per minute. For details, refer to: "
            "https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. "
            "Please reduce the prompt length or the maximum tokens requested, or try again later.",
            headers={"retry-after": str(max(1, math.ceil(refusal.retry_after)))},
        )

    def limit_headers(self, limiter: RateLimiter, key: str, model: str, now: float) -> dict[str, str]:
        """Per dimension its limit, remaining and reset (RFC 3339, when the bucket is full again);
        token counts rounded to the nearest thousand, as Anthropic documents. `tokens-*` is
        input and output together: the limits and what remains summed, the earlier reset."""
        headers: dict[str, str] = {}
        tokens: list[tuple[int, int, float]] = []
        for dimension in ("requests", "input_tokens", "output_tokens"):
            bucket = limiter.bucket(key, model, dimension, now)
            if bucket is None:
                continue
            name = _HEADER_NAMES[dimension]
            remaining = bucket.remaining
            if dimension != "requests":
                remaining = min(bucket.limit, round(remaining, -3))
                tokens.append((bucket.limit, remaining, now + bucket.seconds_to_full()))
            headers[f"anthropic-ratelimit-{name}-limit"] = str(bucket.limit)
            headers[f"anthropic-ratelimit-{name}-remaining"] = str(remaining)
            headers[f"anthropic-ratelimit-{name}-reset"] = rfc3339(now + bucket.seconds_to_full())
        if tokens:
            headers["anthropic-ratelimit-tokens-limit"] = str(sum(limit for limit, _, _ in tokens))
            headers["anthropic-ratelimit-tokens-remaining"] = str(sum(left for _, left, _ in tokens))
            headers["anthropic-ratelimit-tokens-reset"] = rfc3339(min(reset for _, _, reset in tokens))
        return headers

    def server_error(self, overloaded: bool) -> Problem:
        if overloaded:
            return Problem(529, "overloaded_error", "Overloaded")
        return Problem(500, "api_error", "Internal server error")

    def settle(self, limiter: RateLimiter, key: str, model: str, cost: Cost, answer: Answer, now: float) -> None:
        limiter.refund(key, model, "output_tokens", cost.output_tokens - answer.output_tokens, now)
