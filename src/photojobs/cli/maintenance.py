"""`photojobs maintenance`: reconcile catalog and disk, expire the trash (quiet, for cron)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..engine import queue
from ..errors import BackupFailed, UsageError
from ..photos import catalog_care
from ..photos import maintenance as maintenance_engine
from . import _dispatch, exit_codes
from ._options import JsonOpt, WaitOpt
from ._render import console, err_console, print_json, state

app = typer.Typer(help="Maintenance of projects: trash expiry and catalog/disk reconciliation.",
                  no_args_is_help=True)


@app.command("run")
def run(ctx: typer.Context,
        project: Annotated[Optional[str], typer.Argument(help="Project name or folder.", show_default=False)] = None,
        all_: Annotated[bool, typer.Option("--all", help="Every project.")] = False,
        type: Annotated[Optional[str], typer.Option(
            "--type", "-t", help="Only this job: trash_maintenance, manifest_check, folder_check or manifest_cleaning.")] = None,
        force: Annotated[bool, typer.Option(
            "--force", help="With --type manifest_check/manifest_cleaning: reconcile even a folder that looks empty.")] = False,
        wait: WaitOpt = None, json_out: JsonOpt = False) -> None:
    """Start maintenance (trash_maintenance -> manifest_check -> folder_check ->
    manifest_cleaning, or one --type) for a project or --all, and run it here when no daemon
    runs; then take the daily catalog backup if it is due. Prints nothing on success
    (cron-friendly) but news: files that are not photos, the first time they are seen, and
    files moved to .trash. Failures go to stderr.

    Exit codes: 0 all succeeded (or queued with --no-wait); 6 some job failed (for example a
    project folder that is missing or unmounted: its catalog is left unchanged); 2 neither a
    project nor --all, or both, or a --type or --force that does not apply; 1 other errors (also
    a catalog backup that could not be written)."""
    if (project is None) == (not all_):
        raise UsageError("name one project or use --all")
    lib = state(ctx).library()
    jobs = maintenance_engine.start(lib, project, type, force=force)
    results = []
    code = 0
    said: set[str] = set()   # the library's own trash is expired (and reported) by every project's job
    for job in jobs:
        outcome = _dispatch.finish(lib, job, wait, quiet=True).result
        # The job as it is now, not as it was queued: its status agrees with the task's.
        results.append({"job": queue.get_job(lib, job["id"]), "task": outcome})
        if not json_out:
            for line in maintenance_engine.news(lib, outcome):  # e.g. files that are not photos, once
                if line not in said:
                    said.add(line)
                    console.print(line, markup=False, soft_wrap=True)
        problem = _dispatch.describe(outcome)
        if problem:
            code = exit_codes.JOB_FAILED
            if not json_out:
                err_console.print(f"photojobs: {job['project_folder']}: {problem}", markup=False, soft_wrap=True)
    # After the jobs, so a full disk's trash expires first. A failed backup fails the run too.
    try:
        catalog_care.backup_if_due(lib)
    except BackupFailed as exc:
        code = code or 1
        err_console.print(f"photojobs: {exc.message}", markup=False, soft_wrap=True)
    if json_out:
        print_json(results)
    elif state(ctx).verbose:
        console.print(f"maintenance ran for {len(jobs)} projects", markup=False)
    raise typer.Exit(code)
