"""Every retry, timeout, concurrency and display default, in one place (as openai-python's
`_constants.py`): change a default here and nowhere else."""

from __future__ import annotations

DEFAULT_MAX_ATTEMPTS = 5
"""Attempts per prompt, the first one included."""
DEFAULT_BACKOFF_BASE = 0.5
"""Seconds; attempt n waits a random time up to base * 2**(n-1) (full jitter)."""
DEFAULT_BACKOFF_CAP = 30.0
"""Seconds; no backoff is longer than this."""
DEFAULT_RETRY_AFTER_CAP = 60.0
"""Seconds; a provider's `retry-after` longer than this is cut to it."""

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT: float | None = None
"""Seconds without a byte from the provider; by default only the total bounds an attempt."""
DEFAULT_TOTAL_TIMEOUT = 600.0
"""Seconds for a whole attempt, as openai-python's default."""

FIRST_ARRIVAL_MARGIN_SECONDS = 0.5
"""A full bucket that starts to drain refills this much later. The provider's bucket starts
draining when the first request arrives, after connections are set up (TLS handshakes, a few
hundred at once); refilling from our first send would run ahead of it and earn the odd 429.
Costs the refill of this long once per drain, never rate."""

DEFAULT_MAX_CONCURRENCY = 256
"""Requests in flight per (provider, model) when no limit says otherwise."""
SPARE_WORKERS = 0.125
"""A job runs one worker per concurrency slot plus this share more, so prompts backing off
before a retry do not leave slots idle; a worker holds one prompt, so memory stays flat
whatever the input size."""

PROGRESS_REFRESH_SECONDS = 0.25
"""The display redraws on a timer, never per request."""
RATE_WINDOW_SECONDS = 10.0
"""The completion rate (and so the ETA) is measured over this trailing window."""

GC_YOUNG_THRESHOLD = 20_000
"""While a job runs, the collector's youngest-generation threshold is raised to this (CPython's
default is 700) and restored after: a job allocates and keeps many small objects, and the
default makes collections cost a quarter of the client's CPU at thousands of requests a second.
Objects without reference cycles are freed at once either way. 0 leaves the collector alone."""

CACHE_BUSY_TIMEOUT_SECONDS = 30.0
"""A response cache shared by processes: how long one waits for another's write lock."""
CACHE_WRITE_BATCH = 1000
"""Answers a cache commits in one transaction, at most; fewer when fewer are waiting."""
CACHE_WRITE_INTERVAL_SECONDS = 0.05
"""The cache's writer lets answers gather this long before a commit: one transaction for many
(until committed they are served from memory, and each job's end waits for them)."""
CACHE_WRITER_IDLE_SECONDS = 1.0
"""The cache's writer thread ends after this long with nothing to write (and starts again)."""
