"""The limiter's arithmetic on a fake clock, its FIFO waiting, and the provider headers it reads."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from cloudburst._config import RateLimits
from cloudburst._constants import FIRST_ARRIVAL_MARGIN_SECONDS
from cloudburst._headers import ReportedLimits, parse_duration, parse_reset, parse_rfc3339, read_limits, retry_after
from cloudburst._limiter import Bucket, InProcessLimiter, Need
from cloudburst._response import Usage
from cloudburst.generated import PROVIDERS


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def take(bucket: Bucket, need: Need, now: float) -> tuple[float, str | None]:
    wait, factor, ticket = bucket.try_take("k", need, now)
    assert (ticket is not None) == (wait == 0)
    return wait, factor


def test_rpm_grants_a_minute_of_requests_then_one_per_interval() -> None:
    bucket = Bucket(RateLimits(rpm=60), now=0.0)
    for _ in range(60):
        assert take(bucket, Need(), 0.0) == (0.0, None)
    # refilling starts a margin after the first send, when the provider's bucket starts draining
    margin = FIRST_ARRIVAL_MARGIN_SECONDS
    assert take(bucket, Need(), 0.0) == (pytest.approx(margin + 1.0), "requests")
    assert take(bucket, Need(), margin + 0.5) == (pytest.approx(0.5), "requests")
    assert take(bucket, Need(), margin + 1.0) == (0.0, None)
    assert take(bucket, Need(), margin + 1.5) == (pytest.approx(0.5), "requests")  # then one a second


def test_tpm_counts_prompt_and_output_reservation() -> None:
    bucket = Bucket(RateLimits(tpm=600), now=0.0)
    for _ in range(3):
        assert take(bucket, Need(100, 100), 0.0)[0] == 0
    wait, factor = take(bucket, Need(100, 100), 0.0)
    assert factor == "tokens"
    assert wait == pytest.approx(FIRST_ARRIVAL_MARGIN_SECONDS + 200 / 10)  # 600 per minute is 10 a second


def test_input_and_output_tpm_are_separate_budgets() -> None:
    bucket = Bucket(RateLimits(input_tpm=6000, output_tpm=60), now=0.0)
    assert take(bucket, Need(10, 40), 0.0)[0] == 0
    wait, factor = take(bucket, Need(10, 40), 0.0)
    assert factor == "output tokens"
    assert wait == pytest.approx(FIRST_ARRIVAL_MARGIN_SECONDS + (40 - 20) / 1.0)
    bucket = Bucket(RateLimits(input_tpm=60, output_tpm=6000), now=0.0)
    assert take(bucket, Need(50, 40), 0.0)[0] == 0
    assert take(bucket, Need(50, 40), 0.0)[1] == "input tokens"


def test_concurrency_cap_waits_for_a_request_to_finish() -> None:
    bucket = Bucket(RateLimits(max_concurrency=2), now=0.0)
    tickets = [bucket.try_take("k", Need(), 0.0)[2] for _ in range(2)]
    assert take(bucket, Need(), 0.0) == (float("inf"), "concurrency")
    ticket = tickets[0]
    assert ticket is not None
    bucket.settle(ticket, Usage(), None, 0.0)
    assert take(bucket, Need(), 0.0) == (0.0, None)


def test_a_request_over_the_whole_budget_is_refused_at_once() -> None:
    bucket = Bucket(RateLimits(tpm=1000, output_tpm=500), now=0.0)
    assert bucket.too_large(Need(100, 200)) is None
    reason = bucket.too_large(Need(900, 200))
    assert reason is not None and "1,100 tokens" in reason and "1,000" in reason
    assert "output tokens" in (bucket.too_large(Need(0, 600)) or "")


def test_settle_replaces_the_estimate_by_reported_usage_without_headers() -> None:
    bucket = Bucket(RateLimits(tpm=1000, input_tpm=1000, output_tpm=1000), now=0.0)
    _, _, ticket = bucket.try_take("k", Need(100, 300), 0.0)
    assert ticket is not None
    bucket.settle(ticket, Usage(input_tokens=80, output_tokens=20), None, 0.0)
    assert bucket.input_tokens is not None and bucket.input_tokens.level == pytest.approx(1000 - 80)
    assert bucket.output_tokens is not None and bucket.output_tokens.level == pytest.approx(1000 - 20)
    # the combined budget keeps the output reservation whole, as OpenAI counts max_tokens
    assert bucket.tokens is not None and bucket.tokens.level == pytest.approx(1000 - 80 - 300)


def test_settle_without_usage_keeps_the_reservation() -> None:
    bucket = Bucket(RateLimits(tpm=1000), now=0.0)
    _, _, ticket = bucket.try_take("k", Need(100, 300), 0.0)
    assert ticket is not None
    bucket.settle(ticket, None, None, 0.0)
    assert bucket.tokens is not None and bucket.tokens.level == pytest.approx(600)
    assert bucket.in_flight == 0


def test_resync_lowers_to_what_the_provider_says_minus_what_was_sent_since() -> None:
    bucket = Bucket(RateLimits(rpm=100), now=0.0)
    first = bucket.try_take("k", Need(), 0.0)[2]
    for _ in range(9):
        bucket.try_take("k", Need(), 0.0)
    assert first is not None
    bucket.settle(first, Usage(), ReportedLimits(requests_remaining=50), 0.0)
    assert bucket.requests is not None and bucket.requests.level == pytest.approx(50 - 9)


def test_resync_raises_an_overestimate_back_up_to_the_provider_figure() -> None:
    bucket = Bucket(RateLimits(tpm=10_000), now=0.0)
    ticket = bucket.try_take("k", Need(3000, 1000), 0.0)[2]
    assert ticket is not None
    bucket.settle(ticket, Usage(input_tokens=100, output_tokens=5), ReportedLimits(tokens_remaining=8900), 0.0)
    assert bucket.tokens is not None and bucket.tokens.level == pytest.approx(8900)


def test_limits_the_caller_did_not_set_are_learned_from_headers() -> None:
    bucket = Bucket(RateLimits(), now=0.0)
    ticket = bucket.try_take("k", Need(), 0.0)[2]
    assert ticket is not None
    bucket.settle(ticket, Usage(), ReportedLimits(requests_limit=120, requests_remaining=1), 0.0)
    assert bucket.requests is not None and bucket.requests.capacity == 120
    assert take(bucket, Need(), 0.0) == (0.0, None)
    assert take(bucket, Need(), 0.0) == (pytest.approx(0.5), "requests")


def test_cooldown_holds_the_bucket_until_it_ends() -> None:
    bucket = Bucket(RateLimits(rpm=1000), now=0.0)
    bucket.cool_down(5.0, 0.0)
    bucket.cool_down(2.0, 0.0)  # a shorter cooldown does not cut a longer one
    assert take(bucket, Need(), 1.0) == (pytest.approx(4.0), "cooldown")
    assert take(bucket, Need(), 5.0) == (0.0, None)


def test_a_cooldown_on_one_model_does_not_slow_another() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        limiter = InProcessLimiter(clock)
        limiter.configure("openai/a", RateLimits(rpm=600))
        limiter.configure("openai/b", RateLimits(rpm=600))
        limiter.cool_down("openai/a", 30.0)
        held = asyncio.ensure_future(limiter.acquire("openai/a", Need()))
        ticket = await limiter.acquire("openai/b", Need())
        await asyncio.sleep(0)
        assert not held.done()
        assert ticket.key == "openai/b"
        assert limiter.limiting_factor() == "cooldown"
        held.cancel()

    asyncio.run(scenario())


def test_waiters_are_granted_in_arrival_order_as_slots_free() -> None:
    async def scenario() -> None:
        limiter = InProcessLimiter(FakeClock())
        limiter.configure("k", RateLimits(max_concurrency=1))
        first = await limiter.acquire("k", Need())
        granted: list[int] = []

        async def wait(n: int) -> None:
            ticket = await limiter.acquire("k", Need())
            granted.append(n)
            limiter.settle(ticket, Usage(), None)

        waiters = [asyncio.ensure_future(wait(n)) for n in range(5)]
        await asyncio.sleep(0)
        assert granted == []
        assert limiter.limiting_factor() == "concurrency"
        limiter.settle(first, Usage(), None)
        await asyncio.gather(*waiters)
        assert granted == [0, 1, 2, 3, 4]
        assert limiter.buckets["k"].in_flight == 0

    asyncio.run(scenario())


def test_a_cancelled_waiter_gives_nothing_away() -> None:
    async def scenario() -> None:
        limiter = InProcessLimiter(FakeClock())
        limiter.configure("k", RateLimits(max_concurrency=1, rpm=60))
        first = await limiter.acquire("k", Need())
        waiting = asyncio.ensure_future(limiter.acquire("k", Need()))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        limiter.release_unsent(first)
        bucket = limiter.buckets["k"]
        assert bucket.in_flight == 0
        assert bucket.requests is not None and bucket.requests.level == pytest.approx(60)

    asyncio.run(scenario())


# headers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6m0s", 360.0), ("1.5s", 1.5), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0s", 0.0), ("12", 12.0), ("soon", None)],
)
def test_openai_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_anthropic_rfc3339_resets() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()
    assert parse_rfc3339("2026-01-01T12:00:30Z", now) == pytest.approx(30)
    assert parse_rfc3339("2026-01-01T11:59:00Z", now) == 0.0
    assert parse_rfc3339("not a time", now) is None
    assert parse_reset("2026-01-01T12:01:00+00:00", "rfc3339", now) == pytest.approx(60)
    assert parse_reset("1m", "duration", now) == pytest.approx(60)


def test_retry_after_prefers_milliseconds_then_seconds_then_a_date() -> None:
    names = PROVIDERS["openai"].rate_limit_headers
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}, names) == pytest.approx(0.25)
    assert retry_after({"retry-after": "3"}, names) == pytest.approx(3)
    assert retry_after({"retry-after": "Thu, 01 Jan 2026 12:00:10 GMT"}, names, now=1767268800.0) == pytest.approx(10)
    assert retry_after({}, names) is None


def test_openai_rate_limit_headers_are_read() -> None:
    headers = {
        "x-ratelimit-limit-requests": "5000",
        "x-ratelimit-remaining-requests": "4999",
        "x-ratelimit-reset-requests": "12ms",
        "x-ratelimit-limit-tokens": "2000000",
        "x-ratelimit-remaining-tokens": "1999000",
        "x-ratelimit-reset-tokens": "30ms",
    }
    reported = read_limits(headers, PROVIDERS["openai"].rate_limit_headers)
    assert reported == ReportedLimits(
        requests_limit=5000,
        requests_remaining=4999,
        requests_reset=pytest.approx(0.012),
        tokens_limit=2_000_000,
        tokens_remaining=1_999_000,
        tokens_reset=pytest.approx(0.03),
    )


def test_anthropic_rate_limit_headers_are_read() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()
    headers = {
        "anthropic-ratelimit-requests-limit": "4000",
        "anthropic-ratelimit-requests-remaining": "3999",
        "anthropic-ratelimit-requests-reset": "2026-01-01T12:00:01Z",
        "anthropic-ratelimit-input-tokens-remaining": "399000",
        "anthropic-ratelimit-output-tokens-remaining": "79000",
    }
    reported = read_limits(headers, PROVIDERS["anthropic"].rate_limit_headers, now)
    assert reported is not None
    assert reported.requests_remaining == 3999
    assert reported.requests_reset == pytest.approx(1.0)
    assert reported.input_tokens_remaining == 399000
    assert reported.output_tokens_remaining == 79000
    assert read_limits({"content-type": "application/json"}, PROVIDERS["anthropic"].rate_limit_headers) is None


def test_a_provider_limit_below_the_callers_lowers_the_bucket() -> None:
    bucket = Bucket(RateLimits(rpm=1200), now=0.0)
    ticket = bucket.try_take("k", Need(), 0.0)[2]
    assert ticket is not None
    bucket.settle(ticket, Usage(), ReportedLimits(requests_limit=600, requests_remaining=10), 0.0)
    assert bucket.requests is not None and bucket.requests.capacity == 600 and bucket.requests.rate == 10
    ticket = bucket.try_take("k", Need(), 0.0)[2]
    assert ticket is not None
    bucket.settle(ticket, Usage(), ReportedLimits(requests_limit=2400, requests_remaining=10), 0.0)
    assert bucket.requests.capacity == 600  # a higher provider limit never raises the caller's


def test_without_a_remaining_header_what_is_left_is_read_off_the_reset() -> None:
    names = PROVIDERS["openai"].rate_limit_headers
    reported = read_limits({"x-ratelimit-limit-requests": "600", "x-ratelimit-reset-requests": "6s"}, names)
    assert reported is not None and reported.requests_remaining == pytest.approx(540)
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()
    anthropic = PROVIDERS["anthropic"].rate_limit_headers
    headers = {"anthropic-ratelimit-tokens-limit": "60000", "anthropic-ratelimit-tokens-reset": "2026-01-01T12:00:30Z"}
    reported = read_limits(headers, anthropic, now)
    assert reported is not None and reported.tokens_remaining == pytest.approx(30000)


def test_a_token_budget_learned_from_headers_makes_requests_carry_estimates() -> None:
    async def scenario() -> None:
        limiter = InProcessLimiter(FakeClock())
        limiter.configure("k", RateLimits())
        assert not limiter.counts_tokens("k")
        ticket = await limiter.acquire("k", Need())
        limiter.settle(ticket, Usage(), ReportedLimits(tokens_limit=90_000, tokens_remaining=80_000))
        assert limiter.counts_tokens("k")
        assert limiter.buckets["k"].tokens is not None and limiter.buckets["k"].tokens.level == 80_000

    asyncio.run(scenario())


def test_the_limiting_factor_names_what_holds_requests_back() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        limiter = InProcessLimiter(clock)
        limiter.configure("k", RateLimits(max_concurrency=1, rpm=60))
        assert limiter.limiting_factor() is None
        ticket = await limiter.acquire("k", Need())
        assert limiter.limiting_factor() == "concurrency"  # full, though nobody waits yet
        limiter.settle(ticket, Usage(), None)
        limiter.buckets["k"].requests.level = 0  # type: ignore[union-attr]
        waiting = asyncio.ensure_future(limiter.acquire("k", Need()))
        await asyncio.sleep(0)
        assert limiter.limiting_factor() == "requests"
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)

    asyncio.run(scenario())
