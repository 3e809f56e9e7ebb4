"""Amazon Bedrock's runtime as the simulator plays it: Converse (`bedrock_converse`) and
InvokeModel with Anthropic's messages body (`anthropic_version: bedrock-2023-05-31`, answered with
an Anthropic message) or an embedding model's (`bedrock_embed`), under `/model/{modelId}/…` at
the server's root.

Auth is a Bedrock API key as `Authorization: Bearer`, or SigV4: the header's structure, its
scope (service `bedrock`, the date of `x-amz-date`) and its signed headers are checked, and the
signature itself when `SimConfig.aws_secret_access_key` is set (see `sigv4`). Errors are Bedrock's: the status, the exception name in
`x-amzn-ErrorType` and `{"message": ...}`. Limits send no headers; a 429 says only
ThrottlingException.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from aiohttp import web

from cloudburst._sim import anthropic, bedrock_converse_stream, bedrock_embed, bedrock_invoke_stream, eventstream, sigv4
from cloudburst._sim.answers import Draw
from cloudburst._sim.bedrock_converse import CONVERSE, validation
from cloudburst._sim.config import SimConfig
from cloudburst._sim.limits import Cost, RateLimiter, Refusal
from cloudburst._sim.provider import Answer, Events, Handler, ModelEndpoint, Problem, Refused, SimProvider, StreamPlay

VERSION = "bedrock-2023-05-31"
ERROR_TYPE = "x-amzn-ErrorType"
_CORAL = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
_EXCEPTIONS = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
"""The exception a problem that names none is reported as, by status."""
_VERSIONED = re.compile(r"^(?:[a-z]{2,6}\.)?anthropic\.(?P<name>.+?)(?:-v\d+(?::\d+)?)?$")


def _anthropic_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body as Anthropic's Messages API takes it: without Bedrock's version and beta fields."""
    return {k: v for k, v in body.items() if k not in ("anthropic_version", "anthropic_beta")}


def validate_invoke(body: Any) -> None:
    embedder = bedrock_embed.endpoint_for(body["model"])
    if embedder is not None:
        embedder.validate(body)
        return
    if "anthropic." not in body["model"]:
        raise validation(
            "The simulator's InvokeModel speaks Anthropic's messages body and Titan's and Cohere's embedding "
            "bodies; use Converse for other models."
        )
    if body.get("anthropic_version") != VERSION:
        raise validation(
            f"Malformed input request: #/anthropic_version: expected {VERSION!r}, please reformat your input and try again."
        )
    try:
        anthropic.validate_messages(_anthropic_body(body))
    except Refused as refused:
        raise validation(
            f"Malformed input request: {refused.problem.message}, please reformat your input and try again."
        ) from None


def invoke_cost(body: dict[str, Any]) -> Cost:
    embedder = bedrock_embed.endpoint_for(body["model"])
    if embedder is not None:
        return embedder.cost(body)
    cost = anthropic.messages_cost(_anthropic_body(body))
    return Cost(tokens=cost.input_tokens + cost.output_tokens)


def invoke_answer(body: dict[str, Any], draw: Draw) -> Answer:
    embedder = bedrock_embed.endpoint_for(body["model"])
    if embedder is not None:
        return embedder.answer(body, draw)
    answer = anthropic.messages_answer(_anthropic_body(body), draw)
    named = _VERSIONED.match(body["model"])
    message = {**answer.body, "id": "msg_bdrk_" + answer.body["id"].removeprefix("msg_")}
    message["model"] = named["name"] if named else body["model"]
    return Answer(
        message,
        answer.input_tokens,
        answer.output_tokens,
        {
            "x-amzn-bedrock-input-token-count": str(answer.input_tokens),
            "x-amzn-bedrock-output-token-count": str(answer.output_tokens),
            "x-amzn-bedrock-invocation-latency": str(120 + 8 * answer.output_tokens),
        },
    )


def _validate_converse(body: Any) -> None:
    _check_model(body["model"])
    CONVERSE.validate(body)


def _check_model(model: str) -> None:
    if "." not in model and not model.startswith("arn:"):
        raise validation("The provided model identifier is invalid.")


def _validate_invoke_stream(body: Any) -> None:
    if bedrock_embed.endpoint_for(body["model"]) is not None:
        raise validation("The model is unsupported for streaming.")
    validate_invoke(body)


def _exception(problem: Problem) -> bytes:
    return eventstream.exception(problem.type, problem.message)


INVOKE = ModelEndpoint(validate_invoke, invoke_cost, invoke_answer)


def _streamed(events: Events) -> StreamPlay:
    """A streaming route's play: every request to it streams, in AWS's event stream."""
    return StreamPlay(
        events, flag=None, frame=eventstream.event, content_type=eventstream.CONTENT_TYPE, error=_exception
    )


class Bedrock(SimProvider):
    name = "bedrock"
    request_id_header = "x-amzn-RequestId"
    model_routes = MappingProxyType(
        {
            "/model/{}/converse": ModelEndpoint(_validate_converse, CONVERSE.cost, CONVERSE.answer),
            "/model/{}/converse-stream": ModelEndpoint(
                _validate_converse,
                CONVERSE.cost,
                CONVERSE.answer,
                stream=_streamed(bedrock_converse_stream.events),
            ),
            "/model/{}/invoke": INVOKE,
            "/model/{}/invoke-with-response-stream": ModelEndpoint(
                _validate_invoke_stream,
                invoke_cost,
                invoke_answer,
                stream=_streamed(bedrock_invoke_stream.events),
            ),
        }
    )
    routes: Mapping[tuple[str, str], Handler] = MappingProxyType({})
    base_path = ""
    prefixes = ("/model/",)

    def claims(self, headers: Mapping[str, str]) -> bool:
        return "x-amz-date" in headers or headers.get("authorization", "").startswith("AWS4-")

    def check_headers(self, headers: Mapping[str, str]) -> Problem | None:
        value = headers.get("authorization", "")
        if value.startswith("AWS4-"):
            return sigv4.form_problem(value, headers.get("x-amz-date"))
        return None

    def api_key(self, headers: Mapping[str, str]) -> str | None:
        """The Bedrock API key, or the access key id of a SigV4 signature."""
        value = headers.get("authorization", "")
        if value[:7].lower() == "bearer ":
            return value[7:].strip() or None
        return sigv4.access_key(value)

    def verify(self, request: web.BaseRequest, body: bytes, config: SimConfig) -> Problem | None:
        """The SigV4 signature, recomputed when the config holds the secret."""
        value = request.headers.get("authorization", "")
        if config.aws_secret_access_key is None or not value.startswith("AWS4-"):
            return None
        url = request.rel_url
        return sigv4.verify(
            config.aws_secret_access_key, request.method, url.raw_path, url.raw_query_string, request.headers, body
        )

    def unauthorized(self, key: str | None) -> Problem:
        if not key:
            return Problem(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        return Problem(403, "UnrecognizedClientException", "The security token included in the request is invalid.")

    def error_body(self, problem: Problem) -> dict[str, Any]:
        return {"message": problem.message}

    def error_headers(self, problem: Problem) -> dict[str, str]:
        kind = (
            problem.type
            if problem.type.endswith("Exception")
            else _EXCEPTIONS.get(problem.status, "ValidationException")
        )
        return {ERROR_TYPE: kind + _CORAL}

    def not_found(self, method: str, path: str) -> Problem:
        return Problem(404, "UnknownOperationException", f"Unknown operation {method} {path}")

    def limits(self, config: SimConfig) -> dict[str, int | None]:
        return {"requests": config.rpm, "tokens": config.tpm}

    def rate_limited(self, refusal: Refusal, model: str) -> Problem:
        unit = "requests" if refusal.cause == "requests" else "tokens"
        return Problem(429, "ThrottlingException", f"Too many {unit}, please wait before trying again.")

    def limit_headers(self, limiter: RateLimiter, key: str, model: str, now: float) -> dict[str, str]:
        return {}

    def server_error(self, overloaded: bool) -> Problem:
        if overloaded:
            return Problem(503, "ServiceUnavailableException", "Bedrock is unable to process your request.")
        return Problem(
            500,
            "InternalServerException",
            "The system encountered an unexpected error during processing. Try your request again.",
        )
