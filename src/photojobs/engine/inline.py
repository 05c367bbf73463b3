"""Running a task to its end inside the calling process (the CLI without a daemon)."""

from __future__ import annotations

from typing import Callable

from ..storage.repos import jobs as jobs_repo
from . import tasks
from .library import Library
from .queue import job_to_dict, task_status
from .runner import Runner

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


def run_inline(lib: Library, job: dict, *, on_event: Callable[[dict], None] | None = None,
               install_signals: bool = True) -> dict:
    """Run the queue here until `job`'s task has ended; returns the task outcome.

    `on_event` hears every event this process emits (for progress bars)."""
    unsubscribe = lib.subscribe(lambda events: [on_event(e) for e in events]) if on_event else None
    try:
        runner = Runner(lib, stop_when=lambda: is_done(lib, job), name="inline")
        runner.run(install_signals=install_signals)
    finally:
        if unsubscribe:
            unsubscribe()
    return outcome(lib, job)


__all__ = ["run_inline", "outcome", "is_done", "tasks"]
