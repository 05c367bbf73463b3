"""After a command queues a task: hand it to a running daemon, run it here with progress, or leave it queued.

`finish` goes through `_dispatch.run_or_hand_off`, the one "hand over or run here" decision."""

from __future__ import annotations

from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..engine.library import Library
from ._dispatch import run_or_hand_off
from ._render import err_console

EXIT_TASK_FAILED = 6


def finish(lib: Library, job: dict[str, Any] | None, wait: bool | None, *, quiet: bool = False) -> dict[str, Any] | None:
    """Run `job`'s task to its end here (or follow it in the daemon with --wait) unless `wait` is
    False. Returns the task outcome, or None when it was not waited for (no job; --no-wait: it
    stays queued for `jobs run` or a daemon; a daemon took it and we did not --wait)."""
    if job is None:
        return None
    if quiet or not err_console.is_terminal:
        return run_or_hand_off(lib, job, wait=wait).result
    with Progress(TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as progress:
        bars: dict[int, Any] = {}

        def on_event(event: dict) -> None:
            data = event.get("data") or {}
            if event.get("kind") != "job" or data.get("task_id") != job.get("task_id"):
                return
            bar = bars.get(data["id"])
            if bar is None:
                bar = bars[data["id"]] = progress.add_task(data.get("job_type") or "job", total=None)
            total = data.get("progress_total") or None
            done = (data.get("progress_done") or 0) + (data.get("progress_failed") or 0)
            progress.update(bar, total=total, completed=done)
            if data.get("status") in ("completed", "failed", "canceled"):
                progress.update(bar, total=total or 1, completed=total or 1)
        return run_or_hand_off(lib, job, wait=wait, on_event=on_event).result


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
