"""What the generated provider modules describe, and the one error classifier they share."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudburst._errors import ERROR_KINDS, ProviderError, ServerError
from cloudburst._headers import retry_after, wait_seconds
from cloudburst._wire import dig, each, header_value

log = logging.getLogger("cloudburst")


@dataclass(frozen=True, slots=True)
class Auth:
    scheme: str
    """`bearer` (Authorization: Bearer), `header` (the key alone in `header`), or `none`."""
    header: str = "Authorization"
    env: str | None = None
    """The variable holding the key, read first (the one the simulator's `env()` sets)."""
    env_fallbacks: tuple[str, ...] = ()
    """Read in turn when `env` is unset, as the official SDK does (Gemini's `GEMINI_API_KEY`)."""
    service: str | None = None
    """The AWS signing name, for `sigv4`."""

    @property
    def names(self) -> tuple[str, ...]:
        """The key's variables, in the order they are read."""
        return tuple(name for name in (self.env, *self.env_fallbacks) if name)

    def key_from_env(self) -> tuple[str | None, str | None]:
        """The key in the first of the variables that is set, and that variable's name (`env`
        when none is). One set after it is ignored with a warning, as the SDK does."""
        found = [name for name in self.names if os.environ.get(name)]
        if len(found) > 1:
            log.warning("%s and %s are both set; using %s, as the provider's SDK does", *found[:2], found[0])
        return (os.environ[found[0]], found[0]) if found else (None, self.env)


@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    requests_limit: str | None = None
    requests_remaining: str | None = None
    requests_reset: str | None = None
    tokens_limit: str | None = None
    tokens_remaining: str | None = None
    tokens_reset: str | None = None
    input_tokens_remaining: str | None = None
    output_tokens_remaining: str | None = None
    retry_after: str | None = None
    retry_after_ms: str | None = None
    reset_format: str = "duration"


@dataclass(frozen=True, slots=True)
class ErrorFields:
    """Where an error answer keeps its type, code and message: a dotted body path, or
    `header:<name>`."""

    type: str | None = None
    code: str | None = None
    message: str | None = None
    retry_delay: str | None = None
    """Body path of the wait a provider asks for (`7s`), when it says so in the body."""


@dataclass(frozen=True, slots=True)
class ErrorRule:
    kind: str
    status: tuple[int, ...] | None = None
    type: str | None = None
    code: str | None = None
    message_contains: str | None = None

    def matches(self, status: int, type_: str | None, code: str | None, message: str) -> bool:
        return (
            (self.status is None or status in self.status)
            and (self.type is None or self.type == type_)
            and (self.code is None or self.code == code)
            and (self.message_contains is None or self.message_contains.lower() in message.lower())
        )


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """The provider's batch API (`_batch`): its protocol and the size of one batch."""

    protocol: str
    max_bytes: int
    max_requests: int | None = None
    inline_max_bytes: int | None = None
    item_error_status: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FileUpload:
    """A provider's Files API, as specs/README.md describes `files.upload`."""

    protocol: str
    url: str
    max_bytes: int
    media_types: Mapping[str, tuple[str, ...]]
    reference: str
    delete_url: str
    purpose: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    resource: str | None = None
    name: str | None = None
    expires: str | None = None
    lifetime_seconds: int | None = None
    state: str | None = None
    ready: str = "ACTIVE"
    failed: str = "FAILED"
    status_url: str | None = None


@dataclass(frozen=True, slots=True)
class FileLimits:
    """What a provider takes as files (`files` in its provider.yaml)."""

    max_request_bytes: int | None = None
    inline_max_bytes: Mapping[str, int] = field(default_factory=dict)
    inline_media_types: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    upload: FileUpload | None = None


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    name: str
    title: str
    base_url: str
    auth: Auth
    base_url_env: str | None = None
    """The variable that overrides `base_url`, read as the official SDK reads it."""
    base_url_env_fallbacks: tuple[str, ...] = ()
    """Read in turn when `base_url_env` is unset (Bedrock's `AWS_ENDPOINT_URL`)."""
    base_url_env_path: str = ""
    """Appended to the variable's value: the version path, where the SDK's variable is the host
    alone (`ANTHROPIC_BASE_URL`, `GOOGLE_GEMINI_BASE_URL`)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    env_headers: Mapping[str, str] = field(default_factory=dict)
    """Header → variable: sent when the variable is set (OpenAI's organisation and project)."""
    request_id_header: str | None = None
    rate_limit_headers: RateLimitHeaders = RateLimitHeaders()
    token_ratio: tuple[float, float] | None = None
    """Low and high ratio of this provider's token counts to cl100k_base's."""
    rate_limit_chars_per_token: float | None = None
    """Set where the provider counts input against its token limits from characters on arrival,
    never corrected by usage: the limiter reserves exactly that count and gives nothing back."""
    error_fields: ErrorFields = ErrorFields()
    error_rules: tuple[ErrorRule, ...] = ()
    batch: BatchInfo | None = None
    files: FileLimits = FileLimits()

    def base_url_from_env(self) -> str | None:
        """The base URL the provider's variable gives (the first set), with the version path."""
        for name in (self.base_url_env, *self.base_url_env_fallbacks):
            value = os.environ.get(name) if name else None
            if value:
                return value.rstrip("/") + self.base_url_env_path
        return None

    def headers_from_env(self) -> dict[str, str]:
        """The headers whose variables are set."""
        return {header: os.environ[name] for header, name in self.env_headers.items() if os.environ.get(name)}

    def classify(self, status: int, headers: Mapping[str, str], body: Any) -> ProviderError:
        """The typed error for a failed answer, by the spec's error table (first match wins), with
        the wait the provider asked for (headers first, else the body)."""
        type_ = _field(self.error_fields.type, headers, body)
        code = _field(self.error_fields.code, headers, body)
        message = _field(self.error_fields.message, headers, body) or (body if isinstance(body, str) else "")
        for rule in self.error_rules:
            if rule.matches(status, type_, code, message):
                cls = ERROR_KINDS[rule.kind]
                break
        else:
            cls = ServerError if status >= 500 else ERROR_KINDS["invalid_request"]
        text = (
            f"{self.title} answered {status}"
            + (f" ({type_ or code})" if type_ or code else "")
            + (f": {message}" if message else "")
        )
        error = cls(text, status=status, provider_type=type_, provider_code=code, body=body)
        error.retry_after = retry_after(headers, self.rate_limit_headers)
        if error.retry_after is None:
            error.retry_after = self._retry_delay(body)
        return error

    def _retry_delay(self, body: Any) -> float | None:
        """Seconds to wait, from the body (`"7s"`, `"1.5s"`), where the spec says it is."""
        if self.error_fields.retry_delay is None:
            return None
        for value in each(body, _path(self.error_fields.retry_delay)):
            if isinstance(value, str) and value.endswith("s"):
                try:
                    return wait_seconds(float(value[:-1]))
                except ValueError:
                    continue
        return None


def _field(where: str | None, headers: Mapping[str, str], body: Any) -> str | None:
    if where is None:
        return None
    if where.startswith("header:"):
        value = header_value(headers, where.removeprefix("header:"))
        # AWS writes `ThrottlingException:http://internal.amazon.com/...`: the type is the first part
        return value.split(":", 1)[0] if value else None
    value = dig(body, _path(where))
    return None if value is None else str(value)


def _path(where: str) -> tuple[str | int, ...]:
    """`error.details.0.type` -> ("error", "details", 0, "type"): numbers index lists."""
    return tuple(int(step) if step.isdigit() else step for step in where.split("."))
