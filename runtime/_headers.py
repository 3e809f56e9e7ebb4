"""What a provider's answer headers say about its limits: how much is left, when it resets, and
how long to wait after a 429. Header names come from the provider spec (`RateLimitHeaders`)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cloudburst._providers import RateLimitHeaders

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
    """Seconds from `now` (a Unix time) until an RFC 3339 time such as `2025-01-01T00:00:30Z`;
    never negative; None when unreadable."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def parse_reset(text: str, reset_format: str, now: float) -> float | None:
    """Seconds until a limit resets, in the provider's format (`duration` or `rfc3339`)."""
    if reset_format == "rfc3339":
        return parse_rfc3339(text, now)
    return parse_duration(text)


def retry_after(headers: Mapping[str, str], names: RateLimitHeaders, now: float | None = None) -> float | None:
    """Seconds the provider asks to wait: `retry-after-ms`, else `retry-after` (seconds or an
    HTTP date); None when it does not say."""
    if names.retry_after_ms:
        value = headers.get(names.retry_after_ms)
        if value is not None:
            try:
                return max(0.0, float(value) / 1000)
            except ValueError:
                pass
    if names.retry_after:
        value = headers.get(names.retry_after)
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                try:
                    moment = parsedate_to_datetime(value)
                except (TypeError, ValueError):
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


def _number(headers: Mapping[str, str], name: str | None) -> float | None:
    if name is None:
        return None
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
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


def read_limits(headers: Mapping[str, str], names: RateLimitHeaders, now: float | None = None) -> ReportedLimits | None:
    """The limits an answer reports, or None when it reports none (the common case for
    providers or proxies that send no such headers). `now` is a Unix time, for RFC 3339 resets."""
    remaining = _number(headers, names.requests_remaining)
    tokens = _number(headers, names.tokens_remaining)
    input_tokens = _number(headers, names.input_tokens_remaining)
    output_tokens = _number(headers, names.output_tokens_remaining)
    requests_limit = _number(headers, names.requests_limit)
    tokens_limit = _number(headers, names.tokens_limit)
    if (
        remaining is None
        and tokens is None
        and input_tokens is None
        and output_tokens is None
        and requests_limit is None
        and tokens_limit is None
    ):
        return None
    wall = time.time() if now is None else now
    requests_reset = _reset(headers, names.requests_reset, names.reset_format, wall)
    tokens_reset = _reset(headers, names.tokens_reset, names.reset_format, wall)
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
