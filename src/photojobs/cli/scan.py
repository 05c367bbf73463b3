"""`photojobs scan PROJECT`: ask for a catalog-versus-disk check now, instead of waiting for the watcher."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..photos import scan as scan_engine
from . import exit_codes
from ._dispatch import progress, run_or_hand_off
from ._options import JsonOpt, ProjectArg, WaitOpt
from ._render import console, err_console, print_json, state


def scan(ctx: typer.Context, project: ProjectArg,
         manifest: Annotated[bool, typer.Option(
             "--manifest/--no-manifest", help="Check that catalogued files are still on disk.")] = True,
         folder: Annotated[bool, typer.Option(
             "--folder/--no-folder", help="Look for files the catalog does not know yet.")] = True,
         wait: WaitOpt = None, json_out: JsonOpt = False) -> None:
    """Check a project's folder against the catalog now: files that went away are marked
    missing (manifest_check), new files become photos (folder_check).

    A running daemon takes the checks at once; without one they run here with progress.
    While their lane is paused they stay queued, and the command says so (`photojobs jobs resume`).

    Exit codes: 0 done, handed to the daemon or queued; 6 a check failed; 3 unknown project."""
    lib = state(ctx).library()
    jobs = scan_engine.request_checks(lib, project, manifest=manifest, folder=folder, source="cli")
    results: list[dict[str, Any]] = []
    failed = False
    with progress(not json_out) as on_event:
        for job in jobs:
            outcome = run_or_hand_off(lib, job, wait=wait, on_event=on_event)
            if not outcome.waited:   # a daemon has it, or it waits (--no-wait, a paused lane)
                results.append({"job": job, "mode": "queued" if outcome.paused_lane else outcome.mode,
                                "paused_lane": outcome.paused_lane, "where": outcome.where, "result": None})
                continue
            result = outcome.result
            status = result["jobs"][0]["status"] if result else job["status"]
            error = result["jobs"][0]["error_message"] if result else None
            failed |= status in ("failed", "canceled")
            results.append({"job": job, "mode": outcome.mode, "status": status, "error": error,
                            "changes": scan_engine.changes(lib, job) if result else None, "result": result})
    if json_out:
        print_json(results)
    else:
        for r in results:
            job = r["job"]
            if r["result"] is None:
                why = f" (the {r['paused_lane']} lane is paused)" if r["paused_lane"] else ""
                console.print(f"{job['type']} #{job['id']} {r['where']}{why}", markup=False)
            elif r["status"] == "completed":
                console.print(f"{job['type']} #{job['id']} completed" +
                              (f": {r['changes']}" if r["changes"] else ": no changes"), markup=False)
            else:
                err_console.print(f"photojobs: {job['type']} #{job['id']} {r['status']}: "
                                  f"{r['error'] or 'no message'}", markup=False, soft_wrap=True)
    if failed:
        raise typer.Exit(exit_codes.JOB_FAILED)
