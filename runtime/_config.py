"""The engine's settings as small frozen value objects (after httpx's `_config.py`): RateLimits,
RetryPolicy, Timeouts, FileUploadStrategy. Each is validated when built and passed whole;
defaults live in `_constants.py`; `configure` sets the process-wide ones."""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from cloudburst._constants import (
    DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_CAP,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_FIRST_BYTE_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RETRY_AFTER_CAP,
    DEFAULT_TOTAL_TIMEOUT,
    DEFAULT_UPLOAD_ABOVE_BYTES,
    FIRST_BYTE_FLOOR_SECONDS,
    SLOWEST_OUTPUT_TOKENS_PER_SECOND,
)
from cloudburst._errors import ConfigurationError


def _positive(owner: str, **values: float | None) -> None:
    for name, value in values.items():
        if value is not None and not value > 0:
            raise ConfigurationError(f"{owner}.{name} must be positive, got {value!r}")


@dataclass(frozen=True, slots=True)
class RateLimits:
    """What one (provider, model) bucket may use. None means no limit of that kind.

    Limits always apply per (provider, model), as providers count them. Give `LLMClient(limits=)`
    one RateLimits for every model, or a mapping from a model name, a provider name or
    `"default"` to RateLimits: the most specific entry wins whole. Models without an entry use
    the registry's published tier, when it has one.
    """

    rpm: float | None = None
    """Requests per minute."""
    tpm: float | None = None
    """Tokens (input + output) per minute, as OpenAI counts them."""
    input_tpm: float | None = None
    """Input tokens per minute, as Anthropic counts them."""
    output_tpm: float | None = None
    """Output tokens per minute, as Anthropic counts them."""
    max_concurrency: int | None = None
    """Requests in flight at once; `_constants.DEFAULT_MAX_CONCURRENCY` when None."""

    def __post_init__(self) -> None:
        _positive(
            "RateLimits",
            rpm=self.rpm,
            tpm=self.tpm,
            input_tpm=self.input_tpm,
            output_tpm=self.output_tpm,
            max_concurrency=self.max_concurrency,
        )

    @property
    def counts_tokens(self) -> bool:
        return self.tpm is not None or self.input_tpm is not None or self.output_tpm is not None


LimitsSpec = RateLimits | Mapping[str, RateLimits] | None
"""What `LLMClient(limits=)` takes: one RateLimits for every model, or entries by model name,
provider name or "default"."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Who gets another attempt, and when. The one place retries are decided (`_retry.py`)."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    """Attempts per prompt, the first included; 1 means never retry."""
    backoff_base: float = DEFAULT_BACKOFF_BASE
    """Seconds; before attempt n+1 wait a random time in [0, min(cap, base * 2**(n-1))]."""
    backoff_cap: float = DEFAULT_BACKOFF_CAP
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP
    """A provider's retry-after is honoured up to this many seconds."""
    retry_on_invalid_json: bool = False
    """With json_mode or an output_schema, retry an answer that does not parse or validate."""
    switch_models: bool = True
    """With several models, send a retry to another one (by weight) when there is one; a
    context overflow always moves to a model with a bigger window when there is one."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError(f"RetryPolicy.max_attempts must be at least 1, got {self.max_attempts}")
        _positive(
            "RetryPolicy",
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            retry_after_cap=self.retry_after_cap,
        )

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): full jitter."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** min(attempt - 1, 30))
        return (rng or random).uniform(0, ceiling)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per attempt, in seconds. An attempt that runs out of one is a RequestTimeoutError (a
    stream already under way: a StreamInterruptedError, what arrived billed), and retried."""

    connect: float = DEFAULT_CONNECT_TIMEOUT
    """To open the connection."""
    first_byte: float | None = DEFAULT_FIRST_BYTE_TIMEOUT
    """A non-streaming request: from sending to the answer's first byte (and between its
    bytes), which comes only once the whole answer is generated. None: derived from the
    request's max_new_tokens (see `_constants.DEFAULT_FIRST_BYTE_TIMEOUT`); calls that generate
    nothing (uploads, batch control) are bounded by `total` alone."""
    idle: float = DEFAULT_IDLE_TIMEOUT
    """A streamed request: the longest silence, before the first event and between events."""
    total: float | None = None
    """The whole attempt. None: derived from the request's max_new_tokens (see
    `_constants.SLOWEST_OUTPUT_TOKENS_PER_SECOND`), at least `DEFAULT_TOTAL_TIMEOUT`."""

    def __post_init__(self) -> None:
        _positive("Timeouts", connect=self.connect, first_byte=self.first_byte, idle=self.idle, total=self.total)

    def for_output(self, max_output: int) -> Timeouts:
        """These timeouts with `total` (and, for an answer of up to `max_output` tokens,
        `first_byte`) set where they were left to be derived."""
        writing = max_output / SLOWEST_OUTPUT_TOKENS_PER_SECOND
        total = self.total if self.total is not None else max(DEFAULT_TOTAL_TIMEOUT, writing)
        first_byte = self.first_byte
        if first_byte is None and max_output > 0:
            first_byte = min(total, FIRST_BYTE_FLOOR_SECONDS + writing)
        return _resolved(self, total, first_byte)


@functools.lru_cache(maxsize=256)
def _resolved(timeouts: Timeouts, total: float, first_byte: float | None) -> Timeouts:
    """One object for equal resolved timeouts: the transport knows its default ones by identity
    (and then sets no timer of its own per request)."""
    if (total, first_byte) == (timeouts.total, timeouts.first_byte):
        return timeouts
    return Timeouts(timeouts.connect, first_byte, timeouts.idle, total)


FilePreference = Literal["auto", "inline", "upload"]


@dataclass(frozen=True, slots=True)
class FileUploadStrategy:
    """How an Image or Document given by its bytes reaches each provider: inline (base64 in the
    request), or uploaded once through the provider's Files API and then named by id in every
    request that carries it. A file given by URL is sent as the URL, for the provider to fetch,
    wherever its API takes one. Every limit comes from the provider's spec (`files` in its
    provider.yaml); a file that fits no way the provider takes it is an InputError for its
    prompt before anything is sent.

    Set it for the process with `cloudburst.configure(file_uploads=...)`, or per client with
    `LLMClient(file_uploads=...)`.
    """

    prefer: FilePreference = "auto"
    """`auto`: upload files of `upload_above` bytes or more, and any file too big to go inline;
    `inline`: inline whenever the file fits; `upload`: upload whenever the provider can. Where
    the preferred way cannot take the file, the other one is used."""
    providers: Mapping[str, FilePreference] = field(default_factory=dict)
    """`prefer` for one provider by name (`{"gemini": "upload"}`), over the one above."""
    upload_above: int = DEFAULT_UPLOAD_ABOVE_BYTES
    """Bytes; with `auto`, the smallest file that is uploaded."""
    store: str | Path | None = None
    """A SQLite file remembering uploads (content hash -> the provider's file id and expiry)
    across runs and processes; None remembers them for the client's lifetime only."""
    delete_after: bool = False
    """Delete what a job uploaded when it ends (and forget it in `store`)."""
    fallback_inline: bool = True
    """A file whose upload failed (after the retry policy's attempts) goes inline where it
    fits; otherwise the prompts that need it fail with the upload's error."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "providers", MappingProxyType(dict(self.providers)))
        for name, preference in (("prefer", self.prefer), *self.providers.items()):
            if preference not in ("auto", "inline", "upload"):
                raise ConfigurationError(
                    f"FileUploadStrategy: {name} must be 'auto', 'inline' or 'upload', got {preference!r}"
                )
        if self.upload_above < 0:
            raise ConfigurationError(f"FileUploadStrategy.upload_above must be >= 0, got {self.upload_above}")

    def preference(self, provider: str) -> FilePreference:
        return self.providers.get(provider, self.prefer)


_file_uploads = FileUploadStrategy()


def configure(*, file_uploads: FileUploadStrategy | None = None) -> None:
    """Process-wide defaults, for clients built afterwards (a client's own argument wins)."""
    global _file_uploads
    if file_uploads is not None:
        _file_uploads = file_uploads


def default_file_uploads() -> FileUploadStrategy:
    return _file_uploads
