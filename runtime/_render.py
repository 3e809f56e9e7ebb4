"""From a model name and a prompt to the exact HTTP request, and from an answer to an APIResponse.

`render` and `parse` are public so users can snapshot-test their own payloads; the client uses
the same two steps on every attempt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import quote

import orjson

from cloudburst._aws import aws_region
from cloudburst._capabilities import check_request
from cloudburst._conversation import Conversation
from cloudburst._errors import (
    BlockedError,
    ConfigurationError,
    InvalidOutputError,
    InvalidResponseError,
    MalformedResponseError,
    ProviderError,
    UnsupportedOptionError,
)
from cloudburst._models import ModelInfo
from cloudburst._options import RequestOptions
from cloudburst._providers import ProviderInfo
from cloudburst._read import consistent
from cloudburst._reasoning import for_model
from cloudburst._registry import get_model
from cloudburst._response import APIResponse
from cloudburst._sampling import SamplingParams
from cloudburst._structured import parse_output
from cloudburst._wire import check_sampling, header_value
from cloudburst.generated import APIS, PROVIDERS

REDACTED = "<redacted>"
AUTH_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key"})
"""Headers that carry credentials whoever the provider is (with its own auth header besides)."""
SHORTEST_SECRET = 8
"""A credential shorter than this is not looked for in answers: it would match ordinary text."""


@dataclass(frozen=True, slots=True)
class RenderedRequest:
    """One request exactly as it would be sent."""

    method: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)

    def content(self) -> bytes:
        """The body serialised once, as sent on the wire."""
        return orjson.dumps(self.body)


def adapter_for(
    model: ModelInfo, table: Mapping[tuple[str, str], ModuleType] = APIS
) -> tuple[ProviderInfo, ModuleType]:
    """The provider and generated adapter of `model`'s API, from `table` (chat APIs by default;
    the embedding and rerank tables for those models)."""
    adapter = table.get((model.provider, model.api))
    if adapter is None:
        raise ConfigurationError(
            f"{model.id} is a {model.kind} model of {model.provider}'s {model.api!r} API, which has no adapter "
            f"yet; available: {', '.join(f'{p}/{a}' for p, a in sorted(table))}"
        )
    return PROVIDERS[model.provider], adapter


def base_url(provider: ProviderInfo, model: ModelInfo) -> str:
    """The model's own endpoint, else the provider's URL variable (as its official SDK reads
    it), else the public URL (in the model's region, where the URL names one)."""
    url = model.base_url or provider.base_url_from_env() or provider.base_url
    if "{region}" in url:
        url = url.replace("{region}", aws_region(model.region))
    return url.rstrip("/")


def endpoint_path(adapter: ModuleType, model: ModelInfo) -> str:
    """The adapter's path, with the model's name (quoted, as AWS signs it) where it goes."""
    return str(adapter.PATH).replace("{model}", quote(model.name, safe=""))


def build_request(
    model: ModelInfo,
    prompt: str | Conversation,
    sampling: SamplingParams,
    options: RequestOptions,
    *,
    url: str,
    api_key: str | None,
) -> RenderedRequest:
    """The request to send: checks, the generated adapter's body, then URL and headers."""
    provider, adapter = adapter_for(model)
    conversation = Conversation.of(prompt)
    check_request(model, conversation, sampling, options)
    if not isinstance(options.provider, tuple):  # several: a spray's, the others for other models
        check_provider_options([model], options)
    sampling = for_model(model, sampling)[0]
    options = options.for_api(adapter.Options, strict_tools=model.supports("structured_output"))
    body = adapter.build_body(model.name, conversation, sampling, options, reasoning=model.reasoning is not None)
    body.update(options.extra_body)
    return RenderedRequest(
        adapter.METHOD, url + endpoint_path(adapter, model), request_headers(provider, options, api_key), body
    )


def check_options(
    model: ModelInfo, sampling: SamplingParams, options: RequestOptions
) -> tuple[ProviderInfo, ModuleType]:
    """The checks of `build_request` that depend only on (model, sampling, options), so a
    client runs them once per combination (when it is built, for its own settings); content
    checks stay per prompt. The adapter's own refusals (a setting its API has no place for)
    are among them, so none first shows when a body is built, after other requests went out.
    `sampling` is checked as the model gets it (its reasoning intent mapped by `_reasoning`)."""
    provider, adapter = adapter_for(model)
    check_request(model, Conversation(), sampling, options)
    try:
        check_sampling(for_model(model, sampling)[0], adapter.SAMPLING, f"{provider.title} {adapter.API}")
    except UnsupportedOptionError as exc:
        raise UnsupportedOptionError(f"{model.id}: {exc}") from None
    return provider, adapter


def check_provider_options(models: Sequence[ModelInfo], options: RequestOptions) -> None:
    """Refuse provider options that apply to none of `models` (AnthropicOptions on a job of
    GPT models only): they would change nothing."""
    for given in options.providers():
        takers = [m for m in models if isinstance(given, adapter_for(m)[1].Options or ())]
        if not takers:
            wanted = sorted({_takes(m) for m in models})
            raise UnsupportedOptionError(
                f"{type(given).__name__} applies to none of {', '.join(m.id for m in models)}; "
                f"{'it takes' if len(models) == 1 else 'they take'} {', '.join(wanted)}"
            )


def _takes(model: ModelInfo) -> str:
    options = adapter_for(model)[1].Options
    return options.__name__ if options else f"no provider options ({model.id})"


def request_headers(provider: ProviderInfo, options: RequestOptions, api_key: str | None) -> dict[str, str]:
    """Content type, the provider's fixed headers, authentication, then the caller's extras."""
    headers = {"content-type": "application/json", **provider.headers, **provider.headers_from_env()}
    if api_key is not None and provider.auth.scheme in ("bearer", "sigv4"):  # sigv4 with a key: a bearer token
        headers[provider.auth.header] = f"Bearer {api_key}"
    elif api_key is not None and provider.auth.scheme == "header":
        headers[provider.auth.header] = api_key
    headers.update(options.extra_headers)
    return headers


def secrets_of(headers: Mapping[str, str], auth_header: str | None = None) -> tuple[bytes, ...]:
    """The credentials `headers` carry (each value, and the key after `Bearer `), longest first:
    what an answer echoing them (a proxy's error page, say) must not keep."""
    names = (AUTH_HEADERS | {auth_header.lower()}) if auth_header else AUTH_HEADERS
    found = {
        part for name, value in headers.items() if name.lower() in names for part in (value, value.partition(" ")[2])
    }
    return tuple(sorted((s.encode() for s in found if len(s) >= SHORTEST_SECRET), key=len, reverse=True))


def redact(content: bytes, secrets: tuple[bytes, ...]) -> bytes:
    """`content` with each of `secrets` replaced by <redacted>, before anything reads or stores it."""
    for secret in secrets:
        if secret in content:
            content = content.replace(secret, REDACTED.encode())
    return content


def render(
    model: str,
    prompt: str | Conversation,
    sampling: SamplingParams | None = None,
    options: RequestOptions | None = None,
) -> RenderedRequest:
    """The request cloudburst would send for this prompt, API key redacted. Raises
    ConfigurationError (unknown model, unsupported option or content) as sending would."""
    info = get_model(model)
    provider, _ = adapter_for(info)
    key = REDACTED if provider.auth.scheme != "none" else None
    return build_request(
        info,
        prompt,
        sampling or SamplingParams(),
        options or RequestOptions(),
        url=base_url(provider, info),
        api_key=key,
    )


def parse(
    model: str | ModelInfo,
    status: int,
    headers: Mapping[str, str],
    body: bytes | str | Mapping[str, Any],
    *,
    output_schema: Any = None,
    batch: bool = False,
) -> APIResponse:
    """An APIResponse from a provider's answer: the completion, usage and cost, or a typed and
    classified error. With `output_schema` the answer is parsed into `parsed`, or the error is
    an InvalidOutputError. Never raises for what the provider said."""
    info = model if isinstance(model, ModelInfo) else get_model(model)
    provider, adapter = adapter_for(info)
    request_id = header_value(headers, provider.request_id_header) if provider.request_id_header else None
    data: Any
    try:
        data = orjson.loads(body) if isinstance(body, (bytes, str)) else body
    except orjson.JSONDecodeError:
        data = body.decode(errors="replace") if isinstance(body, bytes) else body
    error: ProviderError | None = None
    if status >= 400:
        error = provider.classify(status, headers, data)
    elif not isinstance(data, Mapping):
        error = InvalidResponseError(
            f"{provider.title} answered {status} with a body that is not a JSON object", status=status, body=data
        )
    else:
        try:
            response: APIResponse = adapter.parse_body(data)
            consistent(response.usage)
        except MalformedResponseError as exc:
            error = malformed_answer(provider, status, data, exc)
    if error is not None:
        return APIResponse(provider.name, info.id, status=status, request_id=request_id, error=error, raw=data)
    response.model = info.id
    response.status = status
    response.request_id = request_id
    response.raw = data
    response.cost = info.cost(response.usage, batch=batch, service_tier=response.service_tier)
    if response.error is None:
        response.error = _not_an_answer(response, provider.title)
    if output_schema is not None and response.error is None:
        try:
            response.parsed = parse_output(response.completion, output_schema)
        except InvalidOutputError as exc:
            exc.status = status
            response.error = exc
    return response


def malformed_answer(
    provider: ProviderInfo, status: int, data: Any, exc: MalformedResponseError
) -> MalformedResponseError:
    """The error of a success whose body is not the provider's shape (what is wrong in `exc`)."""
    return MalformedResponseError(
        f"{provider.title} answered {status} with a malformed body: {exc}", status=status, body=data
    )


def _not_an_answer(response: APIResponse, provider: str) -> ProviderError | None:
    """A success status on an answer that holds none: withheld by a content filter (any part of
    it kept on the response), or with nothing in it at all. An empty answer cut by the output
    budget (`length`, all of it spent thinking, say) is an answer: the budget is the caller's."""
    if response.finish_reason == "content_filter":
        return BlockedError(
            f"{provider}'s content filter withheld the answer ({response.raw_finish_reason})", status=200
        )
    nothing = not response.completion and not response.tool_calls and response.refusal is None
    if nothing and response.finish_reason != "length":
        reason = response.raw_finish_reason
        return InvalidResponseError(
            f"{provider} answered 200 with no content, no tool call and no refusal (finish reason {reason!r})",
            status=200,
            body=response.raw,
        )
    return None
