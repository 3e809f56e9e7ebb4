"""Running a job's coroutine from synchronous code."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(job: Coroutine[Any, Any, T]) -> T:
    """`job` run to its end; inside a running event loop (Jupyter), in a worker thread with a
    loop of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(job)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cloudburst") as worker:
        return worker.submit(asyncio.run, job).result()
