"""Job types for tests and benchmarks, loaded through PHOTOJOBS_PLUGINS=testjobs.

They exercise the engine with real handlers: no-ops, sleeps, failures, crashes and items; and a
derivative maker whose decoder crashes on demand."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from photojobs.engine.registry import handler
from photojobs.errors import PermanentJobError
from photojobs.photos.imaging import make_derivatives
from photojobs.photos.imaging_pool import derivative_maker


@handler("test_noop", priority=50, needs_project=False)
def noop(ctx) -> None:
    pass


@handler("test_unique", priority=50, unique=True, needs_project=False)
def unique(ctx) -> None:
    pass


@handler("test_sleep", priority=50, needs_project=False)
def sleep(ctx) -> None:
    """Sleep `seconds`, checking for cancel every 10 ms; append a line to `log` if given."""
    deadline = time.monotonic() + float(ctx.payload.get("seconds", 0.1))
    while time.monotonic() < deadline:
        time.sleep(0.01)
        ctx.check()
    if ctx.payload.get("log"):
        with open(ctx.payload["log"], "a") as f:
            f.write(f"{ctx.job_id}\n")


@handler("test_record", priority=50, needs_project=False)
def record(ctx) -> None:
    """Append `job_id started_at_monotonic pid` to `log` (exactly-once and latency checks)."""
    with open(ctx.payload["log"], "a") as f:
        f.write(f"{ctx.job_id} {time.time():.6f} {os.getpid()}\n")


@handler("test_fail", priority=50, needs_project=False)
def fail(ctx) -> None:
    """Fail until attempt `succeed_on` (never when absent); permanent when asked."""
    if ctx.payload.get("permanent"):
        raise PermanentJobError("permanent failure requested")
    attempt = ctx.row["attempts"]
    if attempt < int(ctx.payload.get("succeed_on", 1 << 30)):
        raise RuntimeError(f"planned failure on attempt {attempt}")


@handler("test_crash", priority=50, needs_project=False)
def crash(ctx) -> None:
    """Kill the whole worker process (a poison job)."""
    os._exit(70)


@handler("test_items", priority=50, needs_project=False)
def items(ctx) -> None:
    """Process each item: append its name to `log`, sleep `seconds`; fail names in `fail`."""
    log = Path(ctx.payload["log"])
    failing = set(ctx.payload.get("fail", []))
    for item in ctx.open_items():
        ctx.check()
        ctx.start_item(item)
        with open(log, "a") as f:
            f.write(f"start {item['filename']}\n")
        time.sleep(float(ctx.payload.get("seconds", 0)))
        if item["filename"] in failing:
            ctx.finish_item(item, "failed", "planned item failure")
        else:
            with open(log, "a") as f:
                f.write(f"done {item['filename']}\n")
            ctx.finish_item(item, "done")


@handler("test_fenced", priority=50, needs_project=False)
def fenced(ctx) -> None:
    """For each item: start it, append `start <name> <pid>` to `log`, on the first attempt wait
    (without looking at the job) while the file `hold` exists, then finish the item together with
    a domain write (the setting `fenced.<job>.<name>` = our pid, in the item's transaction) and
    an event naming our pid. A worker paused in the wait and taken over must have all of these
    refused when it resumes."""
    from photojobs.storage.repos import settings as settings_repo
    pid = str(os.getpid())
    hold = Path(ctx.payload["hold"]) if ctx.row["attempts"] == 1 and ctx.payload.get("hold") else None
    for item in ctx.open_items():
        ctx.check()
        ctx.start_item(item)
        with open(ctx.payload["log"], "a") as f:
            f.write(f"start {item['filename']} {pid}\n")
        while hold is not None and hold.exists():
            time.sleep(0.01)
        key = f"fenced.{ctx.job_id}.{item['filename']}"
        ctx.finish_item(item, "done", event={"by_pid": pid},
                        before_commit=lambda conn, key=key: settings_repo.put(conn, key, pid, ctx.now()))
    ctx.emit("test_fenced", {"by_pid": pid})


@handler("test_project_noop", priority=50)
def project_noop(ctx) -> None:
    """A job that needs its project to exist."""
    assert ctx.project_path.is_dir()


@handler("test_cpu_burn", priority=50, needs_project=False)
def cpu_burn(ctx) -> None:
    """Pure-Python CPU work for `seconds` without ever yielding voluntarily."""
    deadline = time.monotonic() + float(ctx.payload.get("seconds", 1.0))
    x = 0
    while time.monotonic() < deadline:
        for i in range(10_000):
            x += i * i


@derivative_maker
def make_derivatives_or_crash(source, thumb_out, preview_out, settings) -> dict:
    """The real derivatives, except that the decoder dies of SIGSEGV on a file whose name contains
    CRASHME, as a buggy native decoder would: how the tests crash a derivative worker for real."""
    if "CRASHME" in Path(source).name:
        os.kill(os.getpid(), signal.SIGSEGV)
    return make_derivatives(source, thumb_out, preview_out, settings)
