"""The one owner of retries: given an attempt's outcome, decide whether there is another
attempt, how long to wait first, whether the bucket cools down, and on which model.

Classification comes from the generated error tables (`ProviderError.retryable` and `kind`):
rate limited, overloaded, server errors, timeouts, connection failures and invalid bodies are
retried; invalid requests, auth, permission, not found and quota are final; a context overflow
moves to a model with a bigger window when the client has one. An answer whose JSON does not
parse or validate is retried only when `RetryPolicy.retry_on_invalid_json` asks for it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

import orjson

from cloudburst._config import RetryPolicy
from cloudburst._errors import (
    ContextOverflowError,
    InvalidOutputError,
    ProviderError,
    RateLimitedError,
)
from cloudburst._response import APIResponse

Move = Literal["same", "other", "bigger"]
"""Where the next attempt goes: the same model, another one by weight (when there is one),
or one with a bigger context window (else give up)."""


@dataclass(frozen=True, slots=True)
class Decision:
    retry: bool
    delay: float = 0.0
    """Seconds this prompt waits before its next attempt."""
    cooldown: float = 0.0
    """Seconds the bucket that answered holds every request (after a 429). An overloaded answer
    backs off only its own request (`delay`); the limiter narrows the bucket's window."""
    move: Move = "same"


FINAL = Decision(retry=False)


def decide(
    error: ProviderError | None,
    attempt: int,
    policy: RetryPolicy,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> Decision:
    """What follows failed attempt number `attempt` (1-based) that ended in `error`;
    `retry_after` is the provider's requested wait in seconds, when it sent one."""
    if error is None:
        return FINAL
    cooldown = 0.0
    if isinstance(error, RateLimitedError):  # the bucket backs off, retry or not
        cooldown = min(retry_after, policy.retry_after_cap) if retry_after is not None else policy.backoff(attempt, rng)
    if attempt >= policy.max_attempts:
        return Decision(retry=False, cooldown=cooldown) if cooldown else FINAL
    if isinstance(error, ContextOverflowError):
        return Decision(retry=True, move="bigger")
    if isinstance(error, InvalidOutputError):
        return Decision(retry=True, move="same") if policy.retry_on_invalid_json else FINAL
    if not error.retryable:
        return FINAL
    move: Move = "other" if policy.switch_models else "same"
    if cooldown:
        return Decision(retry=True, cooldown=cooldown, move=move)
    wait = min(retry_after, policy.retry_after_cap) if retry_after is not None else policy.backoff(attempt, rng)
    return Decision(retry=True, delay=wait, move=move)


def invalid_json(response: APIResponse) -> InvalidOutputError | None:
    """For a JSON-mode answer without a schema: the error when its text is not JSON. (Answers
    with an output_schema are validated by `parse` already.)"""
    if response.error is not None or response.finish_reason == "tool_calls":
        return None
    try:
        orjson.loads(response.completion or "")
    except orjson.JSONDecodeError as exc:
        return InvalidOutputError(
            f"the answer is not valid JSON ({exc}); finish_reason={response.finish_reason}", status=response.status
        )
    return None
