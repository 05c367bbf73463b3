"""After a command queues a task: hand it to the daemon, run it here (no daemon), or leave it queued.

`finish` is what upload, commit, trash restore and maintenance call; the decision itself is
`_dispatch.run_or_hand_off`, shared with the other commands that queue work."""

from __future__ import annotations

from typing import Any

from ..engine.library import Library
from . import exit_codes
from ._dispatch import progress, run_or_hand_off

EXIT_TASK_FAILED = exit_codes.JOB_FAILED


def finish(lib: Library, job: dict[str, Any] | None, wait: bool | None, *, quiet: bool = False) -> dict[str, Any] | None:
    """Hand over or run `job`'s task (progress on stderr unless `quiet`). Returns the task
    outcome when it was waited for, None when it was left to a daemon or the queue."""
    return finish_with_mode(lib, job, wait, quiet=quiet)[1]


def finish_with_mode(lib: Library, job: dict[str, Any] | None, wait: bool | None, *,
                     quiet: bool = False) -> tuple[str | None, dict[str, Any] | None]:
    """`finish`, also saying what happened: "daemon", "inline", "queued" (None without a job)."""
    if job is None:
        return None, None
    with progress(enabled=not quiet) as on_event:
        handed = run_or_hand_off(lib, job, wait=wait, on_event=on_event)
    return handed.mode, handed.result


def failed_steps(outcome: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not outcome:
        return []
    return [j for j in outcome.get("jobs", []) if j["status"] in ("failed", "canceled")]


def describe(outcome: dict[str, Any] | None) -> str | None:
    """One line for a task that did not complete, naming the step and its error."""
    bad = failed_steps(outcome)
    if not bad:
        return None
    j = bad[0]
    return f"{j['type']} (job {j['id']}) {j['status']}: {j['error_message'] or 'no message'}"
