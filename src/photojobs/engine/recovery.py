"""Taking back running jobs whose worker is gone: a dead process on this host, or silent heartbeats."""

from __future__ import annotations

import os
import socket
from typing import Callable

from ..library import Library
from ..storage import Connection
from ..storage.repos import jobs as jobs_repo
from .queue import emit_job, reopen_items

HOST = socket.gethostname()

# Runners alive in this process, by token. A running job with our pid but a token not in here
# belongs to an earlier life of this pid (a container restarts its daemon as pid 1 every time).
_LIVE_TOKENS: set[str] = set()


def runner_started(token: str) -> None:
    _LIVE_TOKENS.add(token)


def runner_stopped(token: str) -> None:
    _LIVE_TOKENS.discard(token)


def _token_of(worker_id: str | None) -> str | None:
    return worker_id.rsplit(":", 1)[-1].split("-")[0] if worker_id else None


def pid_alive(pid: int) -> bool:
    """True if `pid` runs on this host (a zombie -- killed but not yet reaped -- counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def requeue_lost(lib: Library, conn: Connection, now: float, *, pid: int, held_here: Callable[[str], bool],
                 include_stale: bool = True) -> list[int]:
    """Requeue running jobs whose worker is gone: its process died on this host, or its
    heartbeat is older than stale_seconds (never one `held_here` says the runner of `pid` holds). A lost
    worker counts as an attempt, so a job that kills its worker every time ends failed instead of
    looping. Call inside a transaction; returns the ids taken back."""
    candidates = {}
    for row in jobs_repo.running(conn, host=HOST):
        if row["worker_pid"] == pid:
            dead = _token_of(row["worker_id"]) not in _LIVE_TOKENS
        else:
            dead = not pid_alive(row["worker_pid"])
        if dead:
            candidates[row["id"]] = (row, f"worker process {row['worker_pid']} died")
    if include_stale:
        cutoff = now - lib.config.pipeline.stale_seconds
        for row in jobs_repo.stale(conn, heartbeat_before=cutoff):
            if held_here(row["worker_id"]):
                continue
            candidates.setdefault(row["id"], (row, f"worker {row['worker_id']} stopped sending heartbeats"))
    recovered = []
    for job_id, (row, why) in candidates.items():
        reopen_items(lib, conn, row, why)
        if row["cancel_requested"]:   # the user's cancel outlives the worker
            new = jobs_repo.finish(conn, job_id, row["worker_id"], status="canceled", now=now,
                                   error_message="canceled by user")
        elif row["attempts"] >= row["max_attempts"]:
            new = jobs_repo.fail_lost(conn, job_id, now=now, error_message=(
                f"{why}; the worker was lost on each of {row['attempts']} attempts, giving up"))
        else:
            new = jobs_repo.requeue(conn, job_id, worker_id=None, run_after=now, now=now,
                                    error_message=f"{why}; requeued")
        if new is not None:
            emit_job(lib, conn, new)
            recovered.append(job_id)
    return recovered
