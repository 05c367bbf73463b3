"""`photojobs jobs`: observe and drive the job queue."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from ..engine import queue
from ..engine.runner import Runner
from ..errors import UsageError
from ._dispatch import finish_and_print
from ._options import JsonOpt, WaitOpt
from ._render import console, fields, print_json, state, table

app = typer.Typer(help="Observe and drive the job queue.", no_args_is_help=True)


def _job_rows(jobs):
    for j in jobs:
        progress = f"{j['progress_done']}/{j['progress_total']}" if j["progress_total"] else ""
        if j["progress_failed"]:
            progress += f" ({j['progress_failed']} failed)"
        yield (j["id"], j["project_folder"] or "", j["type"], j["status"], j["priority"], progress,
               f"{j['attempts']}/{j['max_attempts']}", j["created_at"], (j["error_message"] or "")[:60])


@app.command("list")
def list_(ctx: typer.Context,
          project: Annotated[Optional[str], typer.Option("--project", "-p", help="Only this project.")] = None,
          status: Annotated[Optional[list[str]], typer.Option("--status", "-s", help="Only jobs in this status (repeatable).")] = None,
          type: Annotated[Optional[list[str]], typer.Option("--type", "-t", help="Only jobs of this type (repeatable).")] = None,
          failed_items: Annotated[bool, typer.Option(
              "--failed-items", help="Only jobs with failed items, whatever their status: a job that "
                                     "completed can have photos that failed (`-s failed` lists jobs that "
                                     "failed as a whole).")] = False,
          limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many jobs, newest first.")] = 50,
          json_out: JsonOpt = False) -> None:
    """List jobs, newest first (status: queued, running, completed, failed or canceled)."""
    jobs = queue.list_jobs(state(ctx).library(), project=project, status=status or (), type=type or (),
                           limit=limit, with_failed_items=failed_items)
    if json_out:
        print_json(jobs)
    else:
        table(["id", "project", "type", "status", "prio", "progress", "tries", "created", "error"], _job_rows(jobs))


@app.command("show")
def show(ctx: typer.Context, job_id: Annotated[int, typer.Argument(help="Job id.")], json_out: JsonOpt = False) -> None:
    """Show one job with its items summary, attempts and error."""
    job = queue.job_detail(state(ctx).library(), job_id)
    if json_out:
        print_json(job)
        return
    fields([(key, job[key]) for key in (
        "id", "project_folder", "type", "status", "priority", "attempts", "max_attempts", "progress_done",
        "progress_failed", "progress_total", "error_message", "task_id", "task_type", "created_at", "started_at",
        "finished_at")] + [("payload", json.dumps(job["payload"]))])
    if "task" in job:
        steps = " -> ".join(f"{s['type']}({s['status']})" for s in job["task"]["jobs"])
        fields([("task", f"{job['task']['status']}: {steps}")])
    summary = job["items_summary"]
    if sum(summary.values()):
        fields([("items", ", ".join(f"{k} {v}" for k, v in summary.items() if v))])
        failed = [i for i in job["items"] if i["status"] == "failed"]
        if failed:
            table(["failed item", "message"], [(i["filename"], i["message"]) for i in failed])


@app.command("enqueue")
def enqueue(ctx: typer.Context,
            project: Annotated[str, typer.Argument(help="Project name or folder.")],
            type: Annotated[str, typer.Argument(help="Job type, e.g. generate_derivatives.")],
            payload: Annotated[Optional[str], typer.Option("--payload", help="Payload as a JSON object.")] = None,
            priority: Annotated[Optional[int], typer.Option("--priority", help="Priority (>= the threshold: priority lane).")] = None,
            wait: WaitOpt = None,
            json_out: JsonOpt = False) -> None:
    """Queue one job of any type; prints its id (a running daemon starts it at once; --wait follows it).

    Exit codes: 0 queued or done; 6 the job failed (with --wait); 2 a --payload that is not JSON."""
    try:
        data = json.loads(payload) if payload else {}
    except json.JSONDecodeError as exc:
        raise UsageError(f"--payload is not valid JSON: {exc.msg}") from None
    lib = state(ctx).library()
    job = queue.enqueue(lib, type, project=project, payload=data, priority=priority)
    # Without --wait and without a daemon the job just stays queued, as it always did.
    finish_and_print(lib, job, wait=wait, json_out=json_out, inline_by_default=False)


@app.command("cancel")
def cancel(ctx: typer.Context, job_id: Annotated[int, typer.Argument(help="Job id.")], json_out: JsonOpt = False) -> None:
    """Cancel a queued job, or ask a running one to stop after its current item."""
    job = queue.cancel(state(ctx).library(), job_id)
    if json_out:
        print_json(job)
    elif job["status"] == "canceled":
        console.print(f"job {job_id} canceled")
    else:
        console.print(f"job {job_id} is running; it will stop after its current item")


@app.command("retry")
def retry(ctx: typer.Context, job_id: Annotated[int, typer.Argument(help="Job id.")], wait: WaitOpt = None,
          json_out: JsonOpt = False) -> None:
    """Requeue a failed or canceled job (done items stay done, failed ones run again) and run it
    as other commands do: a running daemon takes it; without one it runs here (--no-wait leaves
    it queued).

    Exit codes: 0 done, handed to the daemon or queued; 6 it failed again; 3 no such job; 1 a
    job that is not failed or canceled."""
    lib = state(ctx).library()
    finish_and_print(lib, queue.retry(lib, job_id), wait=wait, json_out=json_out, say_where=True)


@app.command("run")
def run(ctx: typer.Context,
        until_empty: Annotated[bool, typer.Option("--until-empty", help="Exit when no queued jobs are left.")] = False,
        max_jobs: Annotated[Optional[int], typer.Option("--max-jobs", help="Exit after running this many jobs.")] = None,
        json_out: JsonOpt = False) -> None:
    """Run the two-lane worker loop in this terminal (Ctrl-C stops it cleanly)."""
    lib = state(ctx).library()
    # A full disk stops it with a one-line error and exit 1 (the job in hand is back in the queue).
    runner = Runner(lib, until_empty=until_empty, max_jobs=max_jobs, name="cli", stop_on_full_disk=True)
    runner.run(install_signals=True)
    result = {"claimed": runner.claimed, "finished": runner.finished}
    if json_out:
        print_json(result)
    elif state(ctx).verbose:
        console.print(f"ran {runner.finished} jobs")


@app.command("prune")
def prune(ctx: typer.Context,
          older_than_days: Annotated[Optional[float], typer.Option("--older-than-days", help="Default: pipeline.retention_days.")] = None,
          json_out: JsonOpt = False) -> None:
    """Delete finished jobs and old events past the retention setting."""
    result = queue.prune(state(ctx).library(), older_than_days=older_than_days)
    if json_out:
        print_json(result)
    else:
        console.print(f"pruned {result['jobs']} jobs and {result['events']} events")


from . import watch as _watch  # noqa: E402 - the watch/pause/resume commands live in their own module

_watch.register(app)
