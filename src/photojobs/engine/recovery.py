"""Taking back running jobs whose worker is gone: a dead process on this host, or silent heartbeats.

Several machines may share one catalog (PostgreSQL): each names itself with its host id
(`PHOTOJOBS_HOST_ID`, else `pipeline.host_id`, else the hostname), recorded in the jobs it
runs. The dead-pid rule applies only to jobs of our own host id (a pid means nothing on another
machine); any host takes back a job whose heartbeats stopped for `pipeline.stale_seconds`."""

from __future__ import annotations

import os
import socket
from typing import Callable

from ..library import Library
from ..storage import Connection
from ..storage.repos import jobs as jobs_repo
from .queue import emit_job, reopen_items

from ..config import Config

HOST = socket.gethostname()   # the machine's name; see host_id() for the one jobs record
HOST_ID_ENV = "PHOTOJOBS_HOST_ID"


def host_id(config: Config) -> str:
    """This host's identity in worker_host and feed records: PHOTOJOBS_HOST_ID, else
    `pipeline.host_id`, else the hostname (so several simulated hosts can share one machine)."""
    return os.environ.get(HOST_ID_ENV) or config.pipeline.host_id or HOST

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
    for row in jobs_repo.running(conn, host=host_id(lib.config)):
        if row["worker_pid"] == pid:
            dead = _token_of(row["worker_id"]) not in _LIVE_TOKENS
        else:
            dead = not pid_alive(row["worker_pid"])
        if dead:
            candidates[row["id"]] = (row, f"worker process {row['worker_pid']} died", None)
    if include_stale:
        cutoff = now - lib.config.pipeline.stale_seconds
        for row in jobs_repo.stale(conn, heartbeat_before=cutoff):
            if held_here(row["worker_id"]):
                continue
            candidates.setdefault(row["id"], (row, f"worker {row['worker_id']} stopped sending heartbeats", cutoff))
    # Lock every candidate first, in id order (two hosts recovering at once never deadlock), and
    # look again under the lock: since our reads, its worker may have settled it, another host
    # taken it back, or a heartbeat come in. The worker's own writes lock the row too (see
    # jobs_repo.owned), so from here on it can write nothing more.
    locked = []
    for job_id in sorted(candidates):
        row, why, stale_before = candidates[job_id]
        current = jobs_repo.owned(conn, job_id, row["worker_id"])
        if current is None:
            continue
        if stale_before is not None and current["heartbeat_at"] is not None \
                and current["heartbeat_at"] >= stale_before:
            continue
        locked.append((job_id, current, why))
    recovered = []
    for job_id, row, why in locked:
        reopen_items(lib, conn, row, why)
        if row["cancel_requested"]:   # the user's cancel outlives the worker
            new = jobs_repo.finish(conn, job_id, row["worker_id"], status="canceled", now=now,
                                   error_message="canceled by user")
        elif row["attempts"] >= row["max_attempts"]:
            new = jobs_repo.fail_lost(conn, job_id, row["worker_id"], now=now, error_message=(
                f"{why}; the worker was lost on each of {row['attempts']} attempts, giving up"))
        else:
            new = jobs_repo.requeue(conn, job_id, worker_id=row["worker_id"], run_after=now, now=now,
                                    error_message=f"{why}; requeued")
        if new is not None:
            emit_job(lib, conn, new)
            recovered.append(job_id)
    return recovered
