"""OpenAI as the simulator plays it: Bearer auth, its error body, requests and tokens per minute
with `x-ratelimit-*` headers, and the routes of its Chat Completions, Embeddings, Responses,
Files and Batch modules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from cloudburst._sim import openai_batches, openai_chat, openai_responses
from cloudburst._sim.config import SimConfig
from cloudburst._sim.limits import RateLimiter, Refusal, go_duration
from cloudburst._sim.provider import MiB, Problem, SimProvider

_LIMITED = {"requests": ("requests", "RPM"), "tokens": ("tokens", "TPM")}


class OpenAI(SimProvider):
    name = "openai"
    request_id_header = "x-request-id"

    model_routes = MappingProxyType(
        {
            "/v1/chat/completions": openai_chat.CHAT,
            "/v1/embeddings": openai_chat.EMBEDDINGS,
            "/v1/responses": openai_responses.RESPONSES,
        }
    )
    routes = MappingProxyType(openai_batches.ROUTES)
    max_body = 50 * MiB
    """OpenAI's images and file-inputs guides: up to 50 MB of payload per request."""
    route_max_body = MappingProxyType({"/v1/files": 512 * MiB})
    upload_paths = frozenset({"/v1/files"})
    """The Files API reference: each file up to 512 MB."""
    limit_header_names = tuple(
        f"x-ratelimit-{kind}-{dimension}" for dimension in _LIMITED for kind in ("limit", "remaining", "reset")
    )

    def claims(self, headers: Mapping[str, str]) -> bool:
        return not any(name in headers for name in ("x-api-key", "anthropic-version", "x-goog-api-key"))

    def api_key(self, headers: Mapping[str, str]) -> str | None:
        value = headers.get("authorization", "")
        return value[7:].strip() or None if value[:7].lower() == "bearer " else None

    def unauthorized(self, key: str | None) -> Problem:
        if not key:
            return Problem(
                401,
                "invalid_request_error",
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        shown = f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 7 else key
        return Problem(
            401,
            "invalid_request_error",
            f"Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )

    def too_large(self, limit: int) -> Problem:
        return Problem(413, "invalid_request_error", "Request Entity Too Large", code="request_too_large")

    def error_body(self, problem: Problem) -> dict[str, Any]:
        return {
            "error": {"message": problem.message, "type": problem.type, "param": problem.param, "code": problem.code}
        }

    def not_found(self, method: str, path: str) -> Problem:
        return Problem(404, "invalid_request_error", f"Invalid URL ({method} {path})")

    def limits(self, config: SimConfig) -> dict[str, int | None]:
        return {"requests": config.rpm, "tokens": config.tpm}

    def rate_limited(self, refusal: Refusal, model: str) -> Problem:
        kind, short = _LIMITED[refusal.cause]
        wait = go_duration(refusal.retry_after)
        if refusal.requested > refusal.limit:
            message = (
                f"Request too large for {model} in organization org-simulator on {kind} per min ({short}): "
                f"Limit {refusal.limit}, Requested {refusal.requested}. The input or output tokens must be reduced "
                "in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more."
            )
        else:
            message = (
                f"Rate limit reached for {model} in organization org-simulator on {kind} per min ({short}): "
                f"Limit {refusal.limit}, Used {refusal.used}, Requested {refusal.requested}. "
                f"Please try again in {wait}. "
                "Visit https://platform.openai.com/account/rate-limits to learn more."
            )
        return Problem(
            429,
            kind,
            message,
            code="rate_limit_exceeded",
            headers={
                "retry-after": str(math.ceil(refusal.retry_after)),
                "retry-after-ms": str(math.ceil(refusal.retry_after * 1000)),
            },
        )

    def limit_headers(self, limiter: RateLimiter, key: str, model: str, now: float) -> dict[str, str]:
        headers: dict[str, str] = {}
        for dimension in ("requests", "tokens"):
            bucket = limiter.bucket(key, model, dimension, now)
            if bucket is not None:
                headers[f"x-ratelimit-limit-{dimension}"] = str(bucket.limit)
                headers[f"x-ratelimit-remaining-{dimension}"] = str(bucket.remaining)
                headers[f"x-ratelimit-reset-{dimension}"] = go_duration(bucket.seconds_to_full())
        return headers

    def server_error(self, overloaded: bool) -> Problem:
        if overloaded:
            return Problem(503, "server_error", "The server is overloaded or not ready yet.", code="overloaded")
        return Problem(
            500,
            "server_error",
            "The server had an error while processing your request. Sorry about that!",
            code="server_error",
        )
