"""Job types for the benchmarks, registered through the PHOTOJOBS_PLUGINS hook."""

from __future__ import annotations

import threading
import time
from typing import Callable

from photojobs.engine.registry import handler

started: dict[int, float] = {}
lock = threading.Lock()
# Set in a runner process to tell the benchmark when a bench_mark job started (bench/procs.py).
on_mark: Callable[[int], None] | None = None


@handler("bench_noop", priority=50, needs_project=False)
def noop(ctx) -> None:
    pass


@handler("bench_mark", priority=50, needs_project=False)
def mark(ctx) -> None:
    """Record when the handler started (perf_counter, same process as the enqueuer)."""
    with lock:
        started[ctx.job_id] = time.perf_counter()
    if on_mark is not None:
        on_mark(ctx.job_id)


@handler("bench_sleep", priority=50, needs_project=False)
def sleep(ctx) -> None:
    deadline = time.monotonic() + float(ctx.payload.get("seconds", 1.0))
    while time.monotonic() < deadline:
        time.sleep(0.01)
        ctx.check()
