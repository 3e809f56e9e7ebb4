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
DEFAULT_READ_TIMEOUT = 300.0
"""Seconds without a byte from the provider; long answers stream slowly."""
DEFAULT_TOTAL_TIMEOUT = 600.0

DEFAULT_MAX_CONCURRENCY = 256
"""Requests in flight per (provider, model) when no limit says otherwise."""
PENDING_PER_SLOT = 2
"""A job holds at most this many prompts per concurrency slot at once (in flight, waiting for
the limiter, or backing off before a retry), so memory stays flat whatever the input size."""

PROGRESS_REFRESH_SECONDS = 0.25
"""The display redraws on a timer, never per request."""
RATE_WINDOW_SECONDS = 10.0
"""The completion rate (and so the ETA) is measured over this trailing window."""
