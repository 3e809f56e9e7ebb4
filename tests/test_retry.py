"""The one retry owner: who gets another attempt, after how long, and where it goes."""

from __future__ import annotations

import random

import pytest

from cloudburst._config import RetryPolicy
from cloudburst._errors import (
    AuthError,
    ConfigurationError,
    ConnectionFailedError,
    InvalidOutputError,
    InvalidRequestError,
    InvalidResponseError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
)
from cloudburst._response import APIResponse
from cloudburst._retry import FINAL, decide, invalid_json
from cloudburst.generated import PROVIDERS

POLICY = RetryPolicy(max_attempts=5, backoff_base=1.0, backoff_cap=8.0, retry_after_cap=20.0)


@pytest.mark.parametrize(
    "error", [ServerError, RequestTimeoutError, ConnectionFailedError, InvalidResponseError], ids=lambda e: e.__name__
)
def test_transient_failures_are_retried_after_a_backoff(error: type[ProviderError]) -> None:
    decision = decide(error("x"), 1, POLICY, rng=random.Random(1))
    assert decision.retry
    assert 0 <= decision.delay <= 1.0
    assert decision.cooldown == 0


def test_a_rate_limit_cools_the_bucket_down_instead() -> None:
    decision = decide(RateLimitedError("x"), 2, POLICY, rng=random.Random(1))
    assert decision.retry and decision.delay == 0
    assert 0 <= decision.cooldown <= 2.0


def test_an_overload_backs_off_only_its_own_request() -> None:
    decision = decide(OverloadedError("x"), 2, POLICY, rng=random.Random(1))
    assert decision.retry and decision.cooldown == 0
    assert 0 <= decision.delay <= 2.0


@pytest.mark.parametrize(
    "error",
    [InvalidRequestError, AuthError, PermissionDeniedError, NotFoundError, QuotaExceededError],
    ids=lambda e: e.__name__,
)
def test_caller_side_failures_are_final(error: type[ProviderError]) -> None:
    assert decide(error("x"), 1, POLICY) is FINAL


def test_classification_follows_the_generated_error_tables() -> None:
    openai, anthropic = PROVIDERS["openai"], PROVIDERS["anthropic"]
    overloaded = anthropic.classify(
        529, {}, {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    )
    assert decide(overloaded, 1, POLICY).cooldown >= 0 and decide(overloaded, 1, POLICY).retry
    quota = openai.classify(429, {}, {"error": {"code": "insufficient_quota", "message": "pay up"}})
    assert decide(quota, 1, POLICY) is FINAL
    overflow = openai.classify(400, {}, {"error": {"code": "context_length_exceeded", "message": "too long"}})
    assert decide(overflow, 1, POLICY).move == "bigger"


def test_retry_after_is_honoured_up_to_its_cap() -> None:
    assert decide(RateLimitedError("x"), 1, POLICY, retry_after=7.0).cooldown == 7.0
    assert decide(RateLimitedError("x"), 1, POLICY, retry_after=300.0).cooldown == 20.0
    assert decide(ServerError("x"), 1, POLICY, retry_after=3.0).delay == 3.0


def test_no_attempt_past_the_maximum() -> None:
    assert decide(ServerError("x"), 4, POLICY).retry
    assert decide(ServerError("x"), 5, POLICY) is FINAL
    assert decide(ServerError("x"), 1, RetryPolicy(max_attempts=1)) is FINAL


def test_backoff_is_full_jitter_under_an_exponential_ceiling_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [POLICY.backoff(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not pinned to it


def test_invalid_json_is_retried_only_when_asked() -> None:
    error = InvalidOutputError("not JSON")
    assert decide(error, 1, POLICY) is FINAL
    assert decide(error, 1, RetryPolicy(retry_on_invalid_json=True)).retry


def test_several_models_send_retries_elsewhere_unless_switching_is_off() -> None:
    assert decide(ServerError("x"), 1, POLICY).move == "other"
    assert decide(ServerError("x"), 1, RetryPolicy(switch_models=False)).move == "same"


def test_json_mode_answers_that_do_not_parse_are_invalid_output() -> None:
    assert invalid_json(APIResponse("openai", completion='{"a": 1}')) is None
    error = invalid_json(APIResponse("openai", completion='{"a": ', finish_reason="length"))
    assert isinstance(error, InvalidOutputError) and "length" in error.message


def test_policies_refuse_nonsense() -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ConfigurationError):
        RetryPolicy(backoff_base=-1)


def test_a_last_429_still_cools_its_bucket_down() -> None:
    decision = decide(RateLimitedError("x"), 5, POLICY, retry_after=4.0)
    assert not decision.retry and decision.cooldown == 4.0
    assert decide(OverloadedError("x"), 5, POLICY, rng=random.Random(2)) is FINAL  # only its own request backed off
