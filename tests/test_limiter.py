"""The limiter's arithmetic on a fake clock, its FIFO waiting, and the provider headers it reads."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from datetime import datetime, timezone

import pytest

from cloudburst._config import RateLimits
from cloudburst._constants import BURST_SECONDS, RECOVERY_PER_SECOND, TIGHTEN_FACTOR
from cloudburst._headers import ReportedLimits, parse_duration, parse_reset, parse_rfc3339, read_limits, retry_after
from cloudburst._limiter import Bucket, InProcessLimiter, Meter, Need
from cloudburst._response import Usage
from cloudburst.generated import PROVIDERS

REQUESTS, TOKENS, INPUT, OUTPUT = range(4)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def take(bucket: Bucket, need: Need, now: float) -> tuple[float, str | None]:
    wait, factor, ticket = bucket.try_take("k", need, now)
    assert (ticket is not None) == (wait == 0)
    return wait, factor


def pace(bucket: Bucket, dimension: int) -> Meter:
    meter = bucket.pace[dimension]
    assert meter is not None
    return meter


def grant_times(bucket: Bucket, count: int, *, latency: float = 0.2, told: ReportedLimits | None = None) -> list[float]:
    """Drive `bucket` as a job would: `count` requests as fast as it grants them, each settled
    `latency` later with the usage reserved and `told` as the provider's headers."""
    now, granted = 0.0, []
    answers: list[tuple[float, int]] = []
    tickets = {}
    while len(granted) < count:
        while answers and answers[0][0] <= now:
            _, n = heapq.heappop(answers)
            bucket.settle(tickets.pop(n), Usage(), told, now)
        wait, _, ticket = bucket.try_take("k", Need(), now)
        if ticket is None:
            now = min(now + wait, answers[0][0]) if answers else now + wait
            continue
        tickets[len(granted)] = ticket
        heapq.heappush(answers, (now + latency, len(granted)))
        granted.append(now)
    return granted


def test_requests_are_paced_evenly_after_a_quarter_second_burst() -> None:
    bucket = Bucket(RateLimits(rpm=6000), now=0.0)  # 100 a second
    for _ in range(int(100 * BURST_SECONDS)):
        assert take(bucket, Need(), 0.0) == (0.0, None)
    assert take(bucket, Need(), 0.0) == (pytest.approx(0.01), "requests")
    assert take(bucket, Need(), 0.01) == (0.0, None)
    assert take(bucket, Need(), 0.01) == (pytest.approx(0.01), "requests")


def test_a_paced_client_is_never_refused_by_a_one_second_window() -> None:
    """The provider's window: a bucket of one second's share, refilled continuously."""
    times = grant_times(Bucket(RateLimits(rpm=6000), now=0.0), 3000)
    level, stamp = 100.0, 0.0
    for moment in times:
        level = min(100.0, level + (moment - stamp) * 100.0)
        stamp = moment
        assert level >= 1.0, f"the provider's one-second window would refuse the request sent at {moment:.3f}s"
        level -= 1.0
    achieved = (len(times) - 1) / (times[-1] - times[0])
    assert achieved == pytest.approx(100.0, rel=0.01)


def test_a_request_bigger_than_the_burst_borrows_and_the_rate_holds() -> None:
    bucket = Bucket(RateLimits(tpm=60_000), now=0.0)  # 1,000 tokens a second, a burst of 250
    assert take(bucket, Need(400, 400), 0.0) == (0.0, None)
    assert pace(bucket, TOKENS).level == pytest.approx(250 - 800)
    assert take(bucket, Need(400, 400), 0.0) == (pytest.approx(0.8), "tokens")


def test_input_and_output_tpm_are_separate_budgets() -> None:
    bucket = Bucket(RateLimits(input_tpm=60_000, output_tpm=600), now=0.0)
    assert take(bucket, Need(10, 40), 0.0)[0] == 0
    wait, factor = take(bucket, Need(10, 40), 0.0)
    assert factor == "output tokens"
    assert wait == pytest.approx((2.5 + 37.5) / 10)  # 10 a second, a burst of 2.5, 37.5 in debt
    bucket = Bucket(RateLimits(input_tpm=600, output_tpm=60_000), now=0.0)
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


def test_settle_replaces_the_estimate_by_reported_usage() -> None:
    bucket = Bucket(RateLimits(tpm=60_000, input_tpm=60_000, output_tpm=60_000), now=0.0)
    _, _, ticket = bucket.try_take("k", Need(100, 300), 0.0)
    assert ticket is not None
    bucket.settle(ticket, Usage(input_tokens=80, output_tokens=20), None, 0.0)
    assert pace(bucket, INPUT).level == pytest.approx(250 - 80)
    assert pace(bucket, OUTPUT).level == pytest.approx(250 - 20)
    # the combined budget keeps the output reservation whole, as OpenAI counts max_tokens
    assert pace(bucket, TOKENS).level == pytest.approx(250 - 80 - 300)


def test_settle_without_usage_keeps_the_reservation() -> None:
    bucket = Bucket(RateLimits(tpm=60_000), now=0.0)
    _, _, ticket = bucket.try_take("k", Need(100, 300), 0.0)
    assert ticket is not None
    bucket.settle(ticket, None, None, 0.0)
    assert pace(bucket, TOKENS).level == pytest.approx(250 - 400)
    assert bucket.in_flight == 0


def test_requests_in_flight_are_not_subtracted_twice_from_what_the_provider_reports() -> None:
    """The provider counts on arrival: its `remaining` already holds what is in flight."""
    bucket = Bucket(RateLimits(rpm=6000), now=0.0)
    tickets = [bucket.try_take("k", Need(), 0.0)[2] for _ in range(20)]
    first = tickets[0]
    assert first is not None
    bucket.settle(first, Usage(), ReportedLimits(requests_limit=6000, requests_remaining=5980), 0.0)
    reported = bucket.reported[REQUESTS]
    assert reported is not None and reported.level == pytest.approx(5980)
    assert take(bucket, Need(), 0.0) == (0.0, None)  # the pace's last five of its burst, not a debt
    # somebody else drained the key: what the provider says is left holds requests back
    bucket.settle(tickets[1], Usage(), ReportedLimits(requests_limit=6000, requests_remaining=2), 0.0)  # type: ignore[arg-type]
    assert take(bucket, Need(), 0.0) == (0.0, None)
    assert take(bucket, Need(), 0.0) == (0.0, None)
    assert take(bucket, Need(), 0.0)[1] == "requests"


def test_an_overestimate_is_brought_back_to_the_provider_figure() -> None:
    bucket = Bucket(RateLimits(tpm=600_000), now=0.0)
    ticket = bucket.try_take("k", Need(3000, 1000), 0.0)[2]
    assert ticket is not None
    bucket.settle(ticket, Usage(input_tokens=100, output_tokens=5), ReportedLimits(tokens_remaining=598_900), 0.0)
    reported = bucket.reported[TOKENS]
    assert reported is not None and reported.level == pytest.approx(598_900)
    assert pace(bucket, TOKENS).level == pytest.approx(2500 - 1100)  # the unused input estimate came back


def test_the_callers_lower_limit_is_the_ceiling_with_nothing_idle() -> None:
    """The provider allows 3,000 a minute and says so on every answer; the caller asked for 1,500."""
    told = ReportedLimits(requests_limit=3000, requests_remaining=2990)
    bucket = Bucket(RateLimits(rpm=1500), now=0.0)
    times = grant_times(bucket, 10_000, told=told)
    achieved = (len(times) - 1) / (times[-1] - times[0]) * 60
    assert achieved == pytest.approx(1500, rel=0.01)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert max(gaps) <= 60 / 1500 * 1.001  # never a stall
    assert pace(bucket, REQUESTS).limit == 1500


def test_a_provider_limit_below_the_callers_lowers_the_pace_and_a_higher_one_never_raises_it() -> None:
    bucket = Bucket(RateLimits(rpm=1200), now=0.0)
    ticket = bucket.try_take("k", Need(), 0.0)[2]
    assert ticket is not None
    bucket.settle(ticket, Usage(), ReportedLimits(requests_limit=600, requests_remaining=590), 0.0)
    assert pace(bucket, REQUESTS).limit == 600 and pace(bucket, REQUESTS).rate == 10
    ticket = bucket.try_take("k", Need(), 0.0)[2]
    assert ticket is not None
    bucket.settle(ticket, Usage(), ReportedLimits(requests_limit=2400, requests_remaining=2390), 0.0)
    assert pace(bucket, REQUESTS).limit == 600


def test_limits_the_caller_did_not_set_are_learned_without_a_second_burst() -> None:
    bucket = Bucket(RateLimits(), now=0.0)
    tickets = [bucket.try_take("k", Need(), 0.0)[2] for _ in range(100)]  # no limit known yet
    ticket = tickets[0]
    assert ticket is not None
    bucket.settle(ticket, Usage(), ReportedLimits(requests_limit=6000, requests_remaining=5900), 0.0)
    learned = pace(bucket, REQUESTS)
    assert learned.limit == 6000 and not learned.ceiling
    assert learned.level == pytest.approx(-25)  # a burst's worth of debt: the window had just been spent
    assert take(bucket, Need(), 0.0) == (pytest.approx(0.26), "requests")


def test_a_token_budget_learned_from_headers_makes_requests_carry_estimates() -> None:
    async def scenario() -> None:
        limiter = InProcessLimiter(FakeClock())
        limiter.configure("k", RateLimits())
        assert not limiter.counts_tokens("k")
        ticket = await limiter.acquire("k", Need())
        limiter.settle(ticket, Usage(), ReportedLimits(tokens_limit=90_000, tokens_remaining=80_000))
        assert limiter.counts_tokens("k")

    asyncio.run(scenario())


def test_an_unexpected_429_tightens_the_pace_once_per_burst_then_it_recovers() -> None:
    bucket = Bucket(RateLimits(rpm=6000), now=0.0)
    bucket.rate_limited(0.0, 0.0)
    bucket.rate_limited(0.0, 0.5)  # the same burst's 429s tighten once
    meter = pace(bucket, REQUESTS)
    assert meter.factor == pytest.approx(TIGHTEN_FACTOR) and meter.level <= 0
    assert meter.rate == pytest.approx(100 * TIGHTEN_FACTOR)
    meter.refill(5.0)
    assert meter.factor == pytest.approx(TIGHTEN_FACTOR + 5 * RECOVERY_PER_SECOND)
    meter.refill(60.0)
    assert meter.factor == 1.0 and meter.rate == pytest.approx(100)


def test_after_a_cooldown_the_waiters_go_at_the_pace_not_all_at_once() -> None:
    bucket = Bucket(RateLimits(rpm=6000), now=0.0)
    bucket.rate_limited(2.0, 0.0)
    assert take(bucket, Need(), 1.0) == (pytest.approx(1.0), "cooldown")
    granted = 0
    now = 2.0
    while now < 2.2:
        wait, _ = take(bucket, Need(), now)
        granted += wait == 0
        now += 0.001
    assert 12 <= granted <= 22  # 0.2 s at the tightened pace, without a burst


def test_overloaded_answers_halve_the_window_and_successes_widen_it() -> None:
    bucket = Bucket(RateLimits(max_concurrency=64), now=0.0)
    tickets = [bucket.try_take("k", Need(), 0.0)[2] for _ in range(40)]
    bucket.narrow(0.0)
    bucket.narrow(0.5)  # once a second at most
    assert bucket.window == 20
    assert take(bucket, Need(), 0.5) == (float("inf"), "overloaded")
    for ticket in tickets[:25]:
        bucket.settle(ticket, Usage(), None, 1.0)  # type: ignore[arg-type]
    assert bucket.window == 45
    bucket.narrow(1.0)
    assert bucket.window == 8  # half of what was in flight, not of the window


def test_a_rate_limit_without_a_pace_narrows_the_window_so_the_herd_is_staggered() -> None:
    bucket = Bucket(RateLimits(max_concurrency=100), now=0.0)
    for _ in range(60):
        bucket.try_take("k", Need(), 0.0)
    bucket.rate_limited(1.0, 0.0)
    assert bucket.window == 30


def test_a_cooldown_on_one_model_does_not_slow_another() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        limiter = InProcessLimiter(clock)
        limiter.configure("openai/a", RateLimits(rpm=600))
        limiter.configure("openai/b", RateLimits(rpm=600))
        limiter.rate_limited("openai/a", 30.0)
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
        assert pace(bucket, REQUESTS).level == pytest.approx(0.25)

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
        waiting = asyncio.ensure_future(limiter.acquire("k", Need()))
        await asyncio.sleep(0)
        assert limiter.limiting_factor() == "requests"
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)

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
    assert parse_rfc3339("2026-01-01T11:59:00Z", now) == pytest.approx(-60)
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


def test_without_a_remaining_header_what_is_left_is_read_off_the_reset() -> None:
    names = PROVIDERS["openai"].rate_limit_headers
    reported = read_limits({"x-ratelimit-limit-requests": "600", "x-ratelimit-reset-requests": "6s"}, names)
    assert reported is not None and reported.requests_remaining == pytest.approx(540)
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()
    anthropic = PROVIDERS["anthropic"].rate_limit_headers
    headers = {"anthropic-ratelimit-tokens-limit": "60000", "anthropic-ratelimit-tokens-reset": "2026-01-01T12:00:30Z"}
    reported = read_limits(headers, anthropic, now)
    assert reported is not None and reported.tokens_remaining == pytest.approx(30000)


def test_headers_that_cannot_be_true_are_ignored_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    names = PROVIDERS["openai"].rate_limit_headers
    nonsense = [
        {"x-ratelimit-remaining-requests": "-1000000000"},
        {"x-ratelimit-limit-requests": "0.01", "x-ratelimit-remaining-requests": "5"},
        {"x-ratelimit-limit-requests": "nan"},
        {"x-ratelimit-limit-requests": "lots", "x-ratelimit-remaining-requests": "inf"},
    ]
    with caplog.at_level(logging.WARNING, logger="cloudburst"):
        for headers in nonsense:
            assert read_limits(headers, names, provider="openai-test") is None, headers
        more_than_the_limit = {"x-ratelimit-limit-tokens": "1000", "x-ratelimit-remaining-tokens": "5000"}
        reported = read_limits(more_than_the_limit, names, provider="openai-test")
        assert reported is not None and reported.tokens_limit == 1000 and reported.tokens_remaining is None
    assert len(caplog.records) == 1 and "openai-test" in caplog.text
    years = read_limits(
        {"x-ratelimit-limit-requests": "600", "x-ratelimit-reset-requests": "87600h"}, names, provider="openai-test"
    )
    assert years is not None and years.requests_reset is None and years.requests_remaining is None
    anthropic = PROVIDERS["anthropic"].rate_limit_headers
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()
    past = {"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-reset": "2019-01-01T00:00:00Z"}
    reported = read_limits(past, anthropic, now, provider="anthropic-test")
    assert reported is not None and reported.requests_reset is None and reported.requests_limit == 50
