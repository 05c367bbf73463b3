"""Running a task to its end inside the calling process (the CLI without a daemon)."""

from __future__ import annotations

import signal
import threading
from typing import Callable

from ..library import Library
from ..storage.repos import jobs as jobs_repo
from . import tasks
from .pause import state as pause_state
from .queue import job_to_dict, task_status
from .lanes import lane_of
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
    blocked = [lane_of(j["priority"], lib.config.pipeline.priority_threshold) for j in open_jobs]
    return blocked[0] if all(lanes[lane] for lane in blocked) else None


def _runner_for(lib: Library, job: dict) -> Runner:
    return Runner(lib, stop_when=lambda: is_done(lib, job) or paused_lane(lib, job) is not None, name="inline",
                  stop_on_full_disk=True)


def run_inline(lib: Library, job: dict, *, on_event: Callable[[dict], None] | None = None,
               install_signals: bool = True) -> dict:
    """Run the queue here until `job`'s task has ended, or waits only on a paused lane; returns
    the task outcome (status queued in the second case). A full disk stops it: StorageFull.

    `on_event` hears every event this process emits (for progress bars)."""
    unsubscribe = lib.subscribe(lambda events: [on_event(e) for e in events]) if on_event else None
    try:
        _runner_for(lib, job).run(install_signals=install_signals)
    finally:
        if unsubscribe:
            unsubscribe()
    return outcome(lib, job)


class Alongside:
    """`run_inline` in a background thread, started while the caller is still busy (an import that
    feeds its job photo by photo), so the work starts at once; `finish` then waits for the task
    with Ctrl-C handled as in run_inline. As a context manager, an exception in the block (a
    Ctrl-C during the import) stops the runner, letting running items reach a safe point."""

    def __init__(self, lib: Library, *, on_event: Callable[[dict], None] | None = None):
        self.lib = lib
        self.on_event = on_event
        self.job: dict | None = None
        self._runner: Runner | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, job: dict) -> None:
        """Run `job`'s task from now on (the import's on_job hook)."""
        if self._thread is not None:
            return
        self.job = job
        self._runner = _runner_for(self.lib, job)
        unsubscribe = self.lib.subscribe(lambda events: [self.on_event(e) for e in events]) \
            if self.on_event else None

        def run() -> None:
            try:
                self._runner.run(install_signals=False)
            except BaseException as exc:  # a full disk (StorageFull): finish() raises it in the caller
                self._error = exc
            finally:
                if unsubscribe:
                    unsubscribe()
        self._thread = threading.Thread(target=run, name="inline-alongside", daemon=True)
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def finish(self) -> dict | None:
        """Wait for the task (or for it to wait on a paused lane); its outcome, None if never started."""
        if self._thread is None:
            return None
        self._join()
        if self._error is not None:
            raise self._error
        return outcome(self.lib, self.job)

    def _join(self) -> None:
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: self._runner.request_stop())
        try:
            while self._thread.is_alive():
                self._thread.join(0.1)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def __enter__(self) -> "Alongside":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and self._thread is not None:
            self._runner.request_stop()
            self._join()


__all__ = ["run_inline", "outcome", "is_done", "tasks"]
