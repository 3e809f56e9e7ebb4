"""Throttling per (provider, model): paced budgets for requests and tokens, a concurrency window,
cooldowns after a 429. `base` holds the interface, `bucket` the arithmetic, and one module per
backend: `inprocess` (the default) and `redis` (one limit shared by many processes; it needs the
optional redis-py, so it is imported from `cloudburst._limiter.redis`, or lazily as
`cloudburst.RedisLimiter`)."""

from cloudburst._limiter.base import LIMITING_FACTORS, BucketState, Limiter, Need, RequestTooLargeError, Ticket
from cloudburst._limiter.bucket import Bucket, Meter
from cloudburst._limiter.inprocess import InProcessLimiter

__all__ = [
    "LIMITING_FACTORS",
    "Bucket",
    "BucketState",
    "InProcessLimiter",
    "Limiter",
    "Meter",
    "Need",
    "RequestTooLargeError",
    "Ticket",
]
