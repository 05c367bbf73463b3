"""After a command queues a task: hand it to the daemon, run it here (no daemon), or leave it queued.

`finish` is what upload, commit, trash restore and maintenance call; the decision itself is
`_dispatch.run_or_hand_off`, shared with the other commands that queue work."""

from __future__ import annotations

from typing import Any

from ..engine.inline import Alongside
from ..library import Library
from . import exit_codes
from ._dispatch import OnEvent, find_daemon, progress, run_or_hand_off

EXIT_TASK_FAILED = exit_codes.JOB_FAILED


def finish(lib: Library, job: dict[str, Any] | None, wait: bool | None, *, quiet: bool = False) -> dict[str, Any] | None:
    """Hand over or run `job`'s task (progress on stderr unless `quiet`). Returns the task
    outcome when it was waited for, None when it was left to a daemon or the queue."""
    return finish_with_mode(lib, job, wait, quiet=quiet)[1]


def finish_with_mode(lib: Library, job: dict[str, Any] | None, wait: bool | None, *,
                     quiet: bool = False, alongside: Alongside | None = None,
                     on_event: OnEvent | None = None) -> tuple[str | None, dict[str, Any] | None]:
    """`finish`, also saying what happened: "daemon", "inline", "queued" (None without a job).
    A caller that already shows progress passes its `on_event`; `alongside` is a runner that
    started the task while the caller was still busy (see engine.inline.Alongside)."""
    if job is None:
        return None, None
    if on_event is not None:
        handed = run_or_hand_off(lib, job, wait=wait, on_event=on_event, alongside=alongside)
        return handed.mode, handed.result
    with progress(enabled=not quiet) as shown:
        handed = run_or_hand_off(lib, job, wait=wait, on_event=shown, alongside=alongside)
    return handed.mode, handed.result


def runs_here(lib: Library, wait: bool | None) -> bool:
    """Whether a task queued now would run in this process (no daemon, and not --no-wait):
    then it may as well start while the command is still busy."""
    return wait is not False and find_daemon(lib) is None


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
