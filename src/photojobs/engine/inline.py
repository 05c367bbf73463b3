"""Running a task to its end inside the calling process (the CLI without a daemon)."""

from __future__ import annotations

from typing import Callable

from ..storage.repos import jobs as jobs_repo
from . import tasks
from .library import Library
from .queue import job_to_dict, task_status
from .pause import state as pause_state
from .runner import Runner, lane_of

FINAL = ("completed", "failed", "canceled")


def outcome(lib: Library, job: dict) -> dict:
    """The state of a job's whole task (or of the job alone when it is not part of a task)."""
    if job.get("task_id"):
        return task_status(lib, job["task_id"])
    row = jobs_repo.get(lib.conn(), job["id"])
    j = job_to_dict(row)
    return {"id": None, "type": None, "status": j["status"], "jobs": [j]}


def is_done(lib: Library, job: dict) -> bool:
    return outcome(lib, job)["status"] in FINAL


def paused_lane(lib: Library, job: dict) -> str | None:
    """The paused lane that keeps `job`'s task from going on (its next open step waits in it),
    or None. A task waiting only on paused lanes must not be waited for here: no resume may come."""
    out = outcome(lib, job)
    if out["status"] in FINAL:
        return None
    open_jobs = [j for j in out["jobs"] if j["status"] in ("queued", "running")]
    if not open_jobs or any(j["status"] == "running" for j in open_jobs):
        return None
    lanes = pause_state(lib)["lanes"]
    blocked = [lane_of(lib, j["priority"]) for j in open_jobs]
    return blocked[0] if all(lanes[lane] for lane in blocked) else None


def run_inline(lib: Library, job: dict, *, on_event: Callable[[dict], None] | None = None,
               install_signals: bool = True) -> dict:
    """Run the queue here until `job`'s task has ended, or waits only on a paused lane; returns
    the task outcome (status queued in the second case). A full disk stops it: StorageFull.

    `on_event` hears every event this process emits (for progress bars)."""
    unsubscribe = lib.subscribe(lambda events: [on_event(e) for e in events]) if on_event else None
    try:
        runner = Runner(lib, stop_when=lambda: is_done(lib, job) or paused_lane(lib, job) is not None,
                        name="inline", stop_on_full_disk=True)
        runner.run(install_signals=install_signals)
    finally:
        if unsubscribe:
            unsubscribe()
    return outcome(lib, job)


__all__ = ["run_inline", "outcome", "is_done", "tasks"]
