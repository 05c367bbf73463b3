"""What running a job came to, and how each outcome is written back to the queue."""

from __future__ import annotations

import logging
import random
import traceback
from dataclasses import dataclass
from typing import Callable

from ..errors import PermanentJobError, PhotojobsError, StorageFull, UnknownJobType
from ..library import Library
from ..storage import Connection, Row
from ..storage.repos import jobs as jobs_repo
from ..storage.repos import projects as projects_repo
from . import registry, tasks
from .context import JobCanceled, JobContext, JobReleased, LostOwnership
from .queue import emit_job, enqueue, reopen_items

log = logging.getLogger("photojobs.runner")


@dataclass(frozen=True)
class Complete:
    """The handler returned; `message` says how many of its items failed, if any did."""
    message: str | None = None


@dataclass(frozen=True)
class Finish:
    """The job ends now with `status` ("failed" or "canceled"), never retried."""
    status: str
    message: str


@dataclass(frozen=True)
class Retry:
    """The handler failed; the job comes back after a backoff until its attempts run out."""
    message: str


@dataclass(frozen=True)
class Release:
    """The runner stopped before the job finished: back to the queue, attempt refunded."""
    why: str


@dataclass(frozen=True)
class DiskFull:
    """A full disk stopped the job: no fault of its own, so back to the queue, attempt refunded."""
    message: str


@dataclass(frozen=True)
class Lost:
    """Another runner took the job over: nothing of ours to write."""


Outcome = Complete | Finish | Retry | Release | DiskFull | Lost


def run_job(lib: Library, row: Row, *, stopping: Callable[[], bool]) -> Outcome:
    """Run the job's handler; return how to settle the job (nothing is written here)."""
    conn = lib.conn()
    project = projects_repo.get(conn, row["project_id"]) if row["project_id"] is not None else None
    try:
        spec = registry.get(row["type"])
        if spec.needs_project and project is None:
            raise PermanentJobError(f"project {row['project_id']} no longer exists")
        ctx = JobContext(lib, row, project, stopping=stopping)
        spec.run(ctx)
    except LostOwnership:
        log.warning("job %s was taken over by another runner", row["id"])
        return Lost()
    except JobReleased:
        return Release("runner stopped before the job finished")
    except JobCanceled as exc:
        return Finish("canceled", str(exc))
    except (UnknownJobType, PermanentJobError) as exc:
        return Finish("failed", exc.message)
    except StorageFull as exc:
        return DiskFull(exc.message)
    except Exception as exc:  # noqa: BLE001 - a handler's failure is the job's, not the runner's
        message = str(exc) if isinstance(exc, PhotojobsError) else f"{type(exc).__name__}: {exc}"
        log.debug("job %s failed:\n%s", row["id"], traceback.format_exc())
        return Retry(message)
    counts = ctx.counts() if ctx.has_counts() else None
    message = None
    if counts and counts["failed"]:
        message = f"{counts['failed']} of {sum(counts.values())} items failed"
    return Complete(message)


def settle(lib: Library, conn: Connection, row: Row, outcome: Outcome, *, rng: random.Random,
           full_run_after: Callable[[float], float]) -> Row | None:
    """Write a job's outcome: completion (and the task's next step), failure, retry, release, or a
    give-back for want of disk space. Returns the job's row if it ended, else None."""
    now = lib.now()
    if isinstance(outcome, Lost):
        return None
    if isinstance(outcome, Complete):
        done = jobs_repo.finish(conn, row["id"], row["worker_id"], status="completed", now=now,
                                error_message=outcome.message)
        if done is None:
            return None
        emit_job(lib, conn, done)
        step = tasks.next_step(row["task_type"], row["task_step"])
        if step is not None:
            index, job_type, priority = step
            enqueue(lib, job_type, project=row["project_id"], priority=priority, source=row["source"],
                    _task=(row["task_id"], row["task_type"], index), conn=conn)
        return done
    if isinstance(outcome, Finish):
        done = jobs_repo.finish(conn, row["id"], row["worker_id"], status=outcome.status, now=now,
                                error_message=outcome.message)
        if done is not None:
            # An item in flight when the job failed or was canceled is not done: pending, as
            # after a lost worker, never `running` on a finished job (a retry picks it up).
            reopen_items(lib, conn, row, f"job {outcome.status}")
            emit_job(lib, conn, done)
        return done
    if isinstance(outcome, Retry) and row["attempts"] >= row["max_attempts"]:
        return settle(lib, conn, row, Finish("failed", f"{outcome.message} (after {row['attempts']} attempts)"),
                      rng=rng, full_run_after=full_run_after)
    if isinstance(outcome, DiskFull):   # no fault of the job's: the attempt is refunded
        new = give_back(lib, conn, row["id"], row["worker_id"], run_after=full_run_after(now), now=now,
                        why=f"{outcome.message}; given back to the queue", refund_attempt=True)
    elif isinstance(outcome, Retry):
        p = lib.config.pipeline
        attempts = row["attempts"]
        delay = min(p.retry_max_seconds, p.retry_base_seconds * 2 ** (attempts - 1))
        delay *= rng.uniform(0.5, 1.5)  # jitter: retries of a burst don't come back together
        new = give_back(lib, conn, row["id"], row["worker_id"], run_after=now + delay, now=now,
                        why=f"{outcome.message}; retry {attempts + 1}/{row['max_attempts']} in {delay:.1f}s")
    else:  # release: not the job's fault, the attempt is refunded
        new = give_back(lib, conn, row["id"], row["worker_id"], run_after=now, now=now, why=outcome.why,
                        refund_attempt=True)
    return new if new is not None and new["status"] == "canceled" else None


def give_back(lib: Library, conn: Connection, job_id: int, worker_id: str, *, run_after: float, now: float,
              why: str, refund_attempt: bool = False) -> Row | None:
    """Requeue a job this worker holds; one whose user asked to cancel it meanwhile ends
    canceled instead (a requeue must never undo a cancel). None if it is no longer ours."""
    held = jobs_repo.owned(conn, job_id, worker_id)
    if held is None:
        return None
    if held["cancel_requested"]:
        new = jobs_repo.finish(conn, job_id, worker_id, status="canceled", now=now,
                               error_message="canceled by user")
    else:
        new = jobs_repo.requeue(conn, job_id, worker_id=worker_id, run_after=run_after, now=now,
                                error_message=why, refund_attempt=refund_attempt)
    if new is not None:
        # Only while still ours: a runner that took the job over may be running an item now.
        reopen_items(lib, conn, new, why)
        emit_job(lib, conn, new)
    return new
