"""Polling helper for tests that wait on another thread or process (never a timing assertion)."""

from __future__ import annotations

import time
from typing import Callable


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.02) -> bool:
    """True as soon as `predicate()` is truthy; False if `timeout` seconds pass first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
