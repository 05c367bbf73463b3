"""`photojobs process`: make (or remake) a project's thumbnails and previews."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..engine import queue
from ..photos import derivatives
from . import exit_codes
from ._dispatch import finish
from ._options import JsonOpt, ProjectArg, WaitOpt
from ._render import console, print_json, state, table

HELP = (
    "Make thumbnails (.thumb/) and previews (.preview/) of a project's photos.\n\n"
    "Without names: every photo whose derivatives are pending, failed, missing or made with other "
    "settings; photos already up to date are skipped without decoding. Named photos (basename or "
    "file name) are always remade, as is everything with --force.\n\n"
    "A running daemon takes the job; without one it runs here with a progress bar (--no-wait "
    "leaves it queued). While its lane is paused the job waits, and the command says so.\n\n"
    f"Exit codes: {exit_codes.OK} done (or queued); {exit_codes.PARTLY_DONE} some photos failed (see "
    f"`photojobs jobs show`); {exit_codes.JOB_FAILED} the job failed or was canceled; {exit_codes.NOT_FOUND} "
    f"unknown project or photo; {exit_codes.ERROR} other errors.")


def process(ctx: typer.Context, project: ProjectArg,
            names: Annotated[Optional[list[str]], typer.Argument(
                help="Only these photos (basename or file name); they are remade.", show_default=False)] = None,
            force: Annotated[bool, typer.Option("--force", help="Remake even derivatives that are up to date.")] = False,
            wait: WaitOpt = None, json_out: JsonOpt = False) -> None:
    lib = state(ctx).library()
    job = derivatives.request(lib, project, names or None, force=force, source="cli")
    result = finish(lib, job, wait, quiet=json_out)
    if not result.waited:
        if json_out:
            print_json({"mode": result.mode, "paused_lane": result.paused_lane, "job": job})
        else:
            console.print(f"job {job['id']} {result.where}", markup=False)
        return
    detail = queue.job_detail(lib, job["id"])
    code = _exit_code(detail)
    if json_out:
        print_json({"mode": result.mode, "job": detail})
        raise typer.Exit(code)
    summary = detail["items_summary"]
    total = sum(summary.values())
    parts = [f"{summary['done']} made"] + [f"{summary[k]} {k}" for k in ("skipped", "failed") if summary[k]]
    line = f"{detail['type']} #{detail['id']} {detail['status']}: {total} photo{'' if total == 1 else 's'}, {', '.join(parts)}"
    if detail["status"] != "completed" and detail["error_message"]:
        line += f" ({detail['error_message']})"
    console.print(line, markup=False)
    failed = [i for i in detail["items"] if i["status"] == "failed"]
    if failed:
        table(["photo", "why it failed"], [(i["filename"], i["message"]) for i in failed])
    raise typer.Exit(code)


def _exit_code(job: dict) -> int:
    """The job completed, but some photos' derivatives could not be made: partly done."""
    if job["status"] != "completed":
        return exit_codes.JOB_FAILED
    return exit_codes.PARTLY_DONE if job["items_summary"]["failed"] else exit_codes.OK

