"""Every error cloudburst raises or returns, in one tree.

CloudburstError
├── ConfigurationError ·········· a caller's mistake, raised before anything is sent
│   ├── UnknownModelError ······· a model name the registry lacks (lists the closest names)
│   ├── UnsupportedOptionError ·· a setting the provider, API or model does not accept
│   ├── UnsupportedContentError · a content part (image, PDF, ...) the provider cannot take
│   └── JournalMismatchError ···· the input differs from what the journal recorded for it
├── LimiterUnavailableError ····· the shared limiter's store (Redis) did not answer; raised out
│                                 of the job after the live prompts' results
└── ProviderError ··············· the provider (or the way to it) failed; a value on
    │                             `APIResponse.error`, never raised out of a batch
    ├── RateLimitedError ········ 429: too many requests or tokens             (retry)
    ├── OverloadedError ········· 503 / 529: the provider is busy              (retry)
    ├── ServerError ············· 5xx                                          (retry)
    ├── RequestTimeoutError ····· no answer in time                            (retry)
    ├── ConnectionFailedError ··· connection refused or reset                  (retry)
    ├── StreamInterruptedError ·· a stream cut off (or silent) before its end;
    │                             what arrived is billed                        (retry)
    ├── ResponseTooLargeError ··· an answer over the client's size cap, cut off
    ├── InvalidResponseError ···· a body that is not what the provider promises (retry)
    ├── ContextOverflowError ···· the prompt is longer than the context window
    ├── BlockedError ············ a safety filter blocked the prompt or the answer
    ├── AuthError ··············· a missing or wrong API key
    ├── PermissionDeniedError ··· the key may not use this model or endpoint
    ├── NotFoundError ··········· no such model, file or batch
    ├── QuotaExceededError ······ out of credit or monthly quota
    ├── InvalidRequestError ····· the provider rejected the request as malformed
    ├── BatchExpiredError ······· a batch ended (its window passed) before this request ran
    ├── BatchCancelledError ····· the batch was cancelled before this request ran
    └── InputError ·············· a prompt that cannot become a request (a bad line, a setting
                                  a model refuses): never sent, a result like any other
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, ClassVar


class CloudburstError(Exception):
    """Base of every cloudburst error."""


class ConfigurationError(CloudburstError, ValueError):
    """A mistake in what the caller asked for; raised before any request is sent."""


class UnknownModelError(ConfigurationError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.suggestions = difflib.get_close_matches(name, list(known), n=5, cutoff=0.4)
        hint = f"; closest known: {', '.join(self.suggestions)}" if self.suggestions else ""
        super().__init__(f"unknown model {name!r}{hint}. Register custom models with cloudburst.register_model().")


class UnsupportedOptionError(ConfigurationError):
    """A setting that the chosen provider, API or model does not accept: never silently dropped."""


class UnsupportedContentError(ConfigurationError):
    """A content part the chosen provider or model cannot take."""


class JournalMismatchError(ConfigurationError):
    """A journal holds a result for a prompt whose prompt or settings have changed since: the
    job would mix results of two inputs. Raised before anything is sent."""


class LimiterUnavailableError(CloudburstError):
    """A shared limiter cannot reach its store (Redis down, unreachable or too slow). Sending
    without it could break a limit other processes rely on, so the job stops pulling prompts,
    lets those in flight finish, and raises this after their results: a rerun resumes."""


class ProviderError(CloudburstError):
    """A failed attempt, classified. `kind` comes from the provider spec's error table."""

    kind: ClassVar[str] = "server"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        provider_type: str | None = None,
        provider_code: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.provider_type = provider_type
        self.provider_code = provider_code
        self.body = body
        self.retry_after: float | None = None
        """Seconds the provider asked to wait, when it said so in the body (Gemini)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class RateLimitedError(ProviderError):
    kind = "rate_limited"
    retryable = True


class OverloadedError(ProviderError):
    kind = "overloaded"
    retryable = True


class ServerError(ProviderError):
    kind = "server"
    retryable = True


class RequestTimeoutError(ProviderError):
    kind = "timeout"
    retryable = True


class ConnectionFailedError(ProviderError):
    kind = "connection"
    retryable = True


class StreamInterruptedError(ProviderError):
    """A streamed answer that stopped before its last event: the connection dropped, or no byte
    came for the idle timeout. The provider bills what it generated, so `partial` holds the
    body folded from the events that arrived (usage included), for the attempt's cost."""

    kind = "stream_interrupted"
    retryable = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.partial = b""


class ResponseTooLargeError(ProviderError):
    """An answer bigger than the transport's `max_response_bytes`: cut off rather than held in
    memory. Not retried: the same request would grow as big again."""

    kind = "response_too_large"


class InvalidResponseError(ProviderError):
    kind = "invalid_response"
    retryable = True


class InvalidOutputError(ProviderError):
    kind = "invalid_output"
    retryable = True


class ContextOverflowError(ProviderError):
    kind = "context_overflow"


class BlockedError(ProviderError):
    """The provider's safety system refused the prompt or withheld the answer (Gemini's
    blockReason, a SAFETY finish with nothing kept): not an empty success."""

    kind = "blocked"


class AuthError(ProviderError):
    kind = "auth"


class PermissionDeniedError(ProviderError):
    kind = "permission"


class NotFoundError(ProviderError):
    kind = "not_found"


class QuotaExceededError(ProviderError):
    kind = "quota"


class InvalidRequestError(ProviderError):
    kind = "invalid_request"


class BatchExpiredError(ProviderError):
    """The provider's batch window (24 h) closed before this request ran: not sent, not paid.
    Send it again, in a new batch or online."""

    kind = "batch_expired"


class BatchCancelledError(ProviderError):
    """The batch was cancelled before this request ran: not sent, not paid."""

    kind = "batch_cancelled"


class InputError(ProviderError, ValueError):
    """One input the job could not turn into a request: a line that is not JSON, has no prompt,
    has an unknown key or a bad setting, or a setting one of the job's models refuses. It is
    that prompt's result (nothing was sent, nothing paid) and the job goes on. `path` and `line`
    say where, when the prompt came from a file."""

    kind = "input"

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


ERROR_KINDS: dict[str, type[ProviderError]] = {
    cls.kind: cls
    for cls in (
        RateLimitedError,
        OverloadedError,
        ServerError,
        RequestTimeoutError,
        ConnectionFailedError,
        StreamInterruptedError,
        ResponseTooLargeError,
        InvalidResponseError,
        InvalidOutputError,
        ContextOverflowError,
        BlockedError,
        AuthError,
        PermissionDeniedError,
        NotFoundError,
        QuotaExceededError,
        InvalidRequestError,
        BatchExpiredError,
        BatchCancelledError,
    )
}
"""Error kind (as written in the specs' error tables) -> its class."""
