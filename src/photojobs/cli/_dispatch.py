"""The one decision of commands that queue work: hand it to the library's running daemon, else run it here.

`upload`, `process`, `commit`, `maintenance run` and `jobs enqueue` queue their jobs in the
catalog (one engine call), then call `finish(lib, job, wait)` (run_or_hand_off with progress;
`finish_and_print` also renders the task's outcome):

- a daemon runs for this library: its runner claims the jobs within pipeline.poll_ms; the
  command returns at once, or with --wait follows the daemon's event stream until the task
  ends (if the daemon goes away meanwhile, the rest runs here);
- no daemon: the task runs inline with progress, as before (`--no-wait` leaves it queued).

Either way the user sees the same output; `-v` says which happened.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import typer

from ..engine.inline import FINAL, Alongside, is_done, outcome, paused_lane, run_inline
from ..library import Library
from . import exit_codes
from ._progress import bars
from ._render import console, err_console, print_json, warn
from ._state import current_state

OnEvent = Callable[[dict], None]


@dataclass
class Outcome:
    mode: str                 # "daemon" (handed over), "inline" (ran here) or "queued" (left for later)
    job: dict                 # the job the command queued (first step of its task)
    result: dict | None       # the task's outcome (engine.inline.outcome) when it was waited for
    daemon_url: str | None = None
    paused_lane: str | None = None  # "queued" because this lane is paused

    @property
    def waited(self) -> bool:
        return self.result is not None

    @property
    def ok(self) -> bool:
        return self.result is None or self.result["status"] == "completed"

    @property
    def where(self) -> str:
        """Where a job that was not waited for is now, in the user's words (a paused lane has
        been warned about already)."""
        if self.paused_lane:
            return "queued"
        if self.mode == "daemon":
            return "handed to the daemon (`photojobs jobs watch` follows it)"
        return "queued (`photojobs jobs run --until-empty` or `photojobs daemon start` runs it)"


def _verbosity() -> int:
    return getattr(current_state(), "verbose", 0) or 0


def say(message: str) -> None:
    if _verbosity():
        err_console.print(f"photojobs: {message}", markup=False, soft_wrap=True)


def find_daemon(lib: Library):
    """(record, client) of this library's live daemon, or None. Costs a file read without one."""
    from ..daemon import state
    if state.read_state(lib.root) is None:
        return None
    from ..daemon.client import find_daemon as _find  # the HTTP client is imported only when a daemon may run
    return _find(lib.root, lib.config)


def run_or_hand_off(lib: Library, job: dict, *, wait: bool | None, inline_by_default: bool = True,
                    on_event: OnEvent | None = None, alongside: Alongside | None = None) -> Outcome:
    """Hand `job`'s task to the daemon or run it here (see the module docstring). A task that
    `alongside` already runs here (it started while its import went on) is finished here."""
    if alongside is not None and alongside.started:
        return _run_here(lib, job, on_event, alongside)
    from ..daemon import state, wake
    record = state.read_state(lib.root)
    if record is not None and record.get("url"):
        # Claim it now, not at the daemon's next look at the catalog; checking on the
        # daemon properly (below) costs a slower import first.
        wake.poke(record["url"], str(lib.config.get("daemon.token") or ""))
    found = find_daemon(lib)
    if found is not None:
        info, client = found
        try:
            say(f"handed job {job['id']} to the daemon (pid {info['pid']}) at {info['url']}")
            if not wait:
                lane = _warn_if_paused(lib, job, " in the daemon")
                return Outcome("daemon", job, None, info["url"], paused_lane=lane)
            result = follow(lib, client, job, on_event)
        finally:
            client.close()
        if result is not None and result["status"] not in FINAL:
            lane = _warn_if_paused(lib, job, " in the daemon")
            return Outcome("daemon", job, None, info["url"], paused_lane=lane)
        if result is not None:
            return Outcome("daemon", job, result, info["url"])
        say("the daemon went away; running the rest here")
        return _run_here(lib, job, on_event)
    if wait is False or (wait is None and not inline_by_default):
        say(f"no daemon running; job {job['id']} stays queued (`photojobs daemon start` or "
            "`photojobs jobs run` will run it)")
        return Outcome("queued", job, None, paused_lane=_warn_if_paused(lib, job))
    say(f"no daemon running; running job {job['id']} here")
    return _run_here(lib, job, on_event)


def _run_here(lib: Library, job: dict, on_event: OnEvent | None, alongside: Alongside | None = None) -> Outcome:
    """Run the task inline; one that waits on a paused lane is left queued, not waited for."""
    result = alongside.finish() if alongside is not None else run_inline(lib, job, on_event=on_event)
    if result["status"] not in FINAL:
        return Outcome("queued", job, None, paused_lane=_warn_if_paused(lib, job))
    return Outcome("inline", job, result)


def _warn_if_paused(lib: Library, job: dict, where: str = "") -> str | None:
    """The paused lane `job`'s task waits on, said out loud (whoever runs the queue, nothing
    starts until `jobs resume`); None when it is free to run."""
    lane = paused_lane(lib, job)
    if lane:
        warn(f"job {job['id']} stays queued{where}: the {lane} lane is paused (nothing starts in it until "
             "`photojobs jobs resume`)")
    return lane


def _is_ours(data: dict, job: dict) -> bool:
    """A job event of `job`'s task (or of `job` itself when it is not part of a task)."""
    if data.get("kind") != "job":
        return False
    if job.get("task_id"):
        return data.get("task_id") == job["task_id"]
    return data.get("id") == job["id"]


def _ends_a_step(data: dict, job: dict) -> bool:
    return _is_ours(data, job) and data.get("status") in FINAL


def follow(lib: Library, client, job: dict, on_event: OnEvent | None) -> dict | None:
    """Follow the daemon's event stream until `job`'s task ends; None if the daemon went away first.

    The catalog is checked each time the stream (re)connects, so no event after the check is
    missed; the client resumes a dropped stream itself (see daemon.client.Following)."""
    for ev in client.follow(project=job.get("project_folder")):
        if ev is None:   # (re)connected or idle: did it end, or wait on a paused lane, meanwhile?
            if is_done(lib, job) or paused_lane(lib, job):
                return outcome(lib, job)
            continue
        if on_event is not None:
            on_event({"id": ev.id, "kind": ev.data["kind"], "job_id": ev.data.get("job_id"),
                      "project_id": ev.data.get("project_id"), "data": ev.data})
        if _ends_a_step(ev.data, job) and is_done(lib, job):
            return outcome(lib, job)
        # A pause, or a step of ours queued again: does it now wait on a paused lane?
        if (ev.data["kind"] == "pause" or (_is_ours(ev.data, job) and ev.data.get("status") == "queued")) \
                and paused_lane(lib, job):
            return outcome(lib, job)   # don't wait with it
    return outcome(lib, job) if is_done(lib, job) else None


@contextmanager
def progress(enabled: bool = True) -> Iterator[OnEvent | None]:
    """A progress display on stderr fed by job events (inline and daemon alike); off when not a terminal."""
    with bars(enabled) as shown:
        yield shown.on_event if shown is not None else None


def finish(lib: Library, job: dict, wait: bool | None, *, quiet: bool = False,
           inline_by_default: bool = True, alongside: Alongside | None = None,
           on_event: OnEvent | None = None) -> Outcome:
    """run_or_hand_off with a progress display on stderr (unless `quiet`): what upload, commit,
    restore and maintenance call before rendering their own result. A caller that already shows
    progress passes its `on_event`; `alongside` is a runner that started the task while the
    caller was still busy (see engine.inline.Alongside)."""
    if on_event is not None:
        return run_or_hand_off(lib, job, wait=wait, inline_by_default=inline_by_default,
                               on_event=on_event, alongside=alongside)
    with progress(enabled=not quiet) as shown:
        return run_or_hand_off(lib, job, wait=wait, inline_by_default=inline_by_default,
                               on_event=shown, alongside=alongside)


def finish_and_print(lib: Library, job: dict, *, wait: bool | None, json_out: bool = False,
                     inline_by_default: bool = True, say_where: bool = False) -> Outcome:
    """`finish`, then the standard output of `jobs enqueue|retry`: the job id when it returns at
    once (with `say_where`, a line saying where the job is), the task's outcome when it waited;
    exit 6 if the task failed or was canceled."""
    result = finish(lib, job, wait, quiet=json_out, inline_by_default=inline_by_default)
    if not result.waited:
        if json_out:
            print_json(job)
        elif say_where:
            console.print(f"job {job['id']} {result.where}", markup=False)
        else:
            print(job["id"])
        return result
    if json_out:
        print_json(result.result)
    else:
        task = result.result
        steps = ", ".join(f"{j['type']} #{j['id']} {j['status']}" + (f" ({j['error_message']})"
                                                                     if j.get("error_message") else "")
                          for j in task["jobs"])
        print(f"{task['type'] or 'job'} {task['status']}: {steps}")
    if not result.ok:
        raise typer.Exit(exit_codes.JOB_FAILED)
    return result


def runs_here(lib: Library, wait: bool | None) -> bool:
    """Whether a task queued now would run in this process (no daemon, and not --no-wait):
    then it may as well start while the command is still busy."""
    return wait is not False and find_daemon(lib) is None


def failed_steps(outcome: dict | None) -> list[dict]:
    if not outcome:
        return []
    return [j for j in outcome.get("jobs", []) if j["status"] in ("failed", "canceled")]


def exit_code(outcome: dict | None) -> int:
    """A task's outcome as the command's exit code: 6 when a step failed or was canceled."""
    return exit_codes.JOB_FAILED if failed_steps(outcome) else exit_codes.OK


def describe(outcome: dict | None) -> str | None:
    """One line for a task that did not complete, naming the step and its error."""
    bad = failed_steps(outcome)
    if not bad:
        return None
    j = bad[0]
    return f"{j['type']} (job {j['id']}) {j['status']}: {j['error_message'] or 'no message'}"
