"""The engine's settings as small frozen value objects (after httpx's `_config.py`): RateLimits,
RetryPolicy, Timeouts. Each is validated when built and passed whole; defaults live in
`_constants.py`."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from cloudburst._constants import (
    DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_CAP,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRY_AFTER_CAP,
    DEFAULT_TOTAL_TIMEOUT,
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
    """Per attempt, in seconds: to connect, between bytes read, and for the whole attempt."""

    connect: float = DEFAULT_CONNECT_TIMEOUT
    read: float | None = DEFAULT_READ_TIMEOUT
    """None: only `total` bounds a silent provider, and aiohttp arms no timer per read (a few
    microseconds a request, which matters at thousands of requests a second)."""
    total: float = DEFAULT_TOTAL_TIMEOUT

    def __post_init__(self) -> None:
        _positive("Timeouts", connect=self.connect, read=self.read, total=self.total)
