"""Throttling per (provider, model): paced budgets for requests and tokens, a concurrency window,
cooldowns after a 429. `base` holds the interface, `bucket` the arithmetic, and one module per
backend: `inprocess` (the default) and `redis` (one limit shared by many processes)."""

from typing import TYPE_CHECKING

from cloudburst._limiter.base import LIMITING_FACTORS, Limiter, Need, RequestTooLargeError, Ticket
from cloudburst._limiter.bucket import Bucket, Meter
from cloudburst._limiter.inprocess import InProcessLimiter

if TYPE_CHECKING:
    from cloudburst._limiter.redis import RedisLimiter

__all__ = [
    "LIMITING_FACTORS",
    "Bucket",
    "InProcessLimiter",
    "Limiter",
    "Meter",
    "Need",
    "RedisLimiter",
    "RequestTooLargeError",
    "Ticket",
]


def __getattr__(name: str) -> object:
    """`RedisLimiter` imports redis-py (the optional extra `cloudburst[redis]`) on first use only."""
    if name == "RedisLimiter":
        from cloudburst._limiter.redis import RedisLimiter

        return RedisLimiter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
