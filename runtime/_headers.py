"""What a provider's answer headers say about its limits: how much is left, when it resets, and
how long to wait after a 429. Header names come from the provider spec (`RateLimitHeaders`)."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cloudburst._providers import RateLimitHeaders

log = logging.getLogger("cloudburst")

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float | None:
    """Seconds in an OpenAI-style duration (`6m0s`, `1.5s`, `20ms`, `1h2m3s`) or a bare number
    of seconds; None when it is neither."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def parse_rfc3339(text: str, now: float) -> float | None:
    """Seconds from `now` (a Unix time) until an RFC 3339 time such as `2025-01-01T00:00:30Z`
    (negative when it is past); None when unreadable."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp() - now


def parse_reset(text: str, reset_format: str, now: float) -> float | None:
    """Seconds until a limit resets, in the provider's format (`duration` or `rfc3339`)."""
    if reset_format == "rfc3339":
        return parse_rfc3339(text, now)
    return parse_duration(text)


def wait_seconds(seconds: float) -> float | None:
    """A wait a provider asked for, if it can be true: finite and not negative (`nan`, `inf` or
    `-5` are ignored, as if it had not said)."""
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def retry_after(headers: Mapping[str, str], names: RateLimitHeaders, now: float | None = None) -> float | None:
    """Seconds the provider asks to wait: `retry-after-ms`, else `retry-after` (seconds or an
    HTTP date, a past one 0); None when it does not say, or says what cannot be true."""
    if names.retry_after_ms:
        value = headers.get(names.retry_after_ms)
        if value is not None:
            try:
                return wait_seconds(float(value) / 1000)
            except ValueError:
                pass
    if names.retry_after:
        value = headers.get(names.retry_after)
        if value is not None:
            try:
                return wait_seconds(float(value))
            except ValueError:
                try:
                    moment = parsedate_to_datetime(value)
                except (TypeError, ValueError, IndexError, OverflowError):
                    return None
                return max(0.0, moment.timestamp() - (time.time() if now is None else now))
    return None


@dataclass(frozen=True, slots=True)
class ReportedLimits:
    """One answer's rate-limit headers, read. None where the provider did not say."""

    requests_limit: float | None = None
    requests_remaining: float | None = None
    requests_reset: float | None = None
    """Seconds until the request budget is whole again."""
    tokens_limit: float | None = None
    tokens_remaining: float | None = None
    tokens_reset: float | None = None
    input_tokens_remaining: float | None = None
    output_tokens_remaining: float | None = None

    def by_dimension(self) -> tuple[tuple[float | None, float | None], ...]:
        """(limit, remaining) for requests, tokens, input tokens and output tokens."""
        return (
            (self.requests_limit, self.requests_remaining),
            (self.tokens_limit, self.tokens_remaining),
            (None, self.input_tokens_remaining),
            (None, self.output_tokens_remaining),
        )


MAX_PLAUSIBLE = 1e12
"""No provider's per-minute limit is near this; larger figures are nonsense."""
MAX_RESET_SECONDS = 86_400.0
"""A per-minute budget is whole again within a day; a reset further ahead is nonsense."""
RESET_SKEW_SECONDS = 60.0
"""A reset this far in the past may be clock skew (read as 0); further back it is nonsense."""
_warned: set[str] = set()


def _dimension(
    headers: Mapping[str, str], limit_name: str | None, remaining_name: str | None, bad: list[str], what: str
) -> tuple[float | None, float | None]:
    """(limit, remaining) of one dimension, each None when absent or impossible; a dimension
    whose limit is impossible keeps no remaining either."""
    limit = _number(headers, limit_name, bad)
    remaining = _number(headers, remaining_name, bad)
    if limit is not None and not 1.0 <= limit <= MAX_PLAUSIBLE:
        bad.append(f"{what} limit {limit:g}")
        return None, None
    if remaining is not None and not 0.0 <= remaining <= (limit or MAX_PLAUSIBLE):
        bad.append(f"{what} remaining {remaining:g}")
        remaining = None
    return limit, remaining


def _reset_seconds(value: float | None, bad: list[str], what: str) -> float | None:
    if value is None or (-RESET_SKEW_SECONDS <= value <= MAX_RESET_SECONDS and math.isfinite(value)):
        return None if value is None else max(0.0, value)
    bad.append(f"{what} reset {value:g}s")
    return None


def _number(headers: Mapping[str, str], name: str | None, bad: list[str]) -> float | None:
    if name is None:
        return None
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        return number
    bad.append(f"{name}: {value!r}")
    return None


def _reset(headers: Mapping[str, str], name: str | None, reset_format: str, now: float) -> float | None:
    value = headers.get(name) if name else None
    return None if value is None else parse_reset(value, reset_format, now)


def _left(remaining: float | None, limit: float | None, reset: float | None) -> float | None:
    """What is left: as reported, else read off the reset. Providers refill continuously and
    report the reset as the time until the budget is whole again, so what is left is the limit
    less what that time will refill."""
    if remaining is not None or limit is None or reset is None:
        return remaining
    return max(0.0, limit - limit * reset / 60.0)


def _figures(names: RateLimitHeaders) -> tuple[str | None, ...]:
    return (
        names.requests_remaining,
        names.tokens_remaining,
        names.input_tokens_remaining,
        names.output_tokens_remaining,
        names.requests_limit,
        names.tokens_limit,
    )


def read_limits(
    headers: Mapping[str, str], names: RateLimitHeaders, now: float | None = None, *, provider: str = ""
) -> ReportedLimits | None:
    """The limits an answer reports, or None when it reports none (the common case for
    providers or proxies that send no such headers). `now` is a Unix time, for RFC 3339 resets.

    Headers are evidence, not commands: a figure that cannot be true (negative, not a number, a
    limit under 1 a minute, more remaining than the limit, a reset in the past or a day ahead)
    is dropped, with one warning per provider, so nonsense can never freeze a job."""
    if not any(name is not None and name in headers for name in _figures(names)):
        return None  # the common case for providers or proxies that send none: nothing to read
    bad: list[str] = []
    requests_limit, remaining = _dimension(headers, names.requests_limit, names.requests_remaining, bad, "requests")
    tokens_limit, tokens = _dimension(headers, names.tokens_limit, names.tokens_remaining, bad, "tokens")
    _, input_tokens = _dimension(headers, None, names.input_tokens_remaining, bad, "input tokens")
    _, output_tokens = _dimension(headers, None, names.output_tokens_remaining, bad, "output tokens")
    wall = time.time() if now is None else now
    requests_reset = _reset_seconds(_reset(headers, names.requests_reset, names.reset_format, wall), bad, "requests")
    tokens_reset = _reset_seconds(_reset(headers, names.tokens_reset, names.reset_format, wall), bad, "tokens")
    if bad and provider not in _warned:
        _warned.add(provider)
        log.warning(
            "%s sent rate-limit headers that cannot be true (%s); ignoring those figures",
            provider or "a provider",
            ", ".join(bad),
        )
    if (
        remaining is None
        and tokens is None
        and input_tokens is None
        and output_tokens is None
        and requests_limit is None
        and tokens_limit is None
    ):
        return None
    return ReportedLimits(
        requests_limit=requests_limit,
        requests_remaining=_left(remaining, requests_limit, requests_reset),
        requests_reset=requests_reset,
        tokens_limit=tokens_limit,
        tokens_remaining=_left(tokens, tokens_limit, tokens_reset),
        tokens_reset=tokens_reset,
        input_tokens_remaining=input_tokens,
        output_tokens_remaining=output_tokens,
    )
