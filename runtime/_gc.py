"""Fewer garbage collections while jobs run (see `_constants.GC_YOUNG_THRESHOLD`).

The threshold is process-wide, so it is raised when the first job starts and restored when the
last one ends, whichever threads they run in.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from cloudburst._constants import GC_YOUNG_THRESHOLD

_lock = threading.Lock()
_running = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def fewer_collections() -> Iterator[None]:
    global _running, _saved
    with _lock:
        _running += 1
        if _running == 1 and GC_YOUNG_THRESHOLD:
            _saved = gc.get_threshold()
            if _saved[0] and _saved[0] < GC_YOUNG_THRESHOLD:  # 0: the caller turned collection off
                gc.set_threshold(GC_YOUNG_THRESHOLD, _saved[1], _saved[2])
                gc.freeze()  # what exists before the job (modules, generated models) is not walked
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _saved is not None:
                gc.unfreeze()
                gc.set_threshold(*_saved)
                _saved = None
