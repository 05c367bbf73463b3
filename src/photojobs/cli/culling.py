"""`photojobs keep`, `reject`, `revert` and `commit`: cull a project and apply the decisions."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated, Optional

import typer

from ..errors import PhotojobsError
from ..photos import culling
from . import _dispatch, exit_codes
from ._options import JsonOpt, ProjectArg, WaitOpt
from ._render import console, print_json, state, table, warn


NamesArg = Annotated[Optional[list[str]], typer.Argument(
    help="Photo names (basename or file name).", show_default=False)]
AllOpt = Annotated[bool, typer.Option("--all", help="Every photo of the project.")]


def keep(ctx: typer.Context, project: ProjectArg, names: NamesArg = None, all_: AllOpt = False,
         jpg: Annotated[Optional[bool], typer.Option("--jpg/--no-jpg", help="Keep (or drop) the JPG.", show_default=False)] = None,
         raw: Annotated[Optional[bool], typer.Option("--raw/--no-raw", help="Keep (or drop) the RAW.", show_default=False)] = None,
         json_out: JsonOpt = False) -> None:
    """Set what to keep at the next commit: with no flag, the JPG and the RAW; with one flag,
    only that choice changes (`keep P X --no-raw` drops the RAW, keeps the JPG as it was).

    Exit codes: 0 done; 3 an unknown photo name (nothing changed); 2 no names and no --all,
    or both; 1 other errors."""
    _changed(culling.keep(state(ctx).library(), project, names or [], all=all_, jpg=jpg, raw=raw), json_out)


def reject(ctx: typer.Context, project: ProjectArg, names: NamesArg = None, all_: AllOpt = False,
           json_out: JsonOpt = False) -> None:
    """Reject photos: keep neither their JPG nor their RAW. The next `photojobs commit` moves
    their files (and sidecars) to the project's .trash; `keep` or `revert` undoes it before that.

    Exit codes: 0 done; 3 an unknown photo name (nothing changed); 2 no names and no --all,
    or both; 1 other errors."""
    result = culling.reject(state(ctx).library(), project, names or [], all=all_)
    _changed(result, json_out)
    if not json_out and result["changed"]:
        console.print(f"`photojobs commit {shlex.quote(project)}` moves their files to .trash", markup=False)


def _changed(result: dict, json_out: bool) -> None:
    if json_out:
        print_json(result)
    else:
        console.print(f"{result['changed']} photo{'' if result['changed'] == 1 else 's'} changed", markup=False)


def revert(ctx: typer.Context, project: ProjectArg, json_out: JsonOpt = False) -> None:
    """Forget culling decisions not yet committed: keep every file that is there."""
    _changed(culling.revert(state(ctx).library(), project), json_out)


def commit(ctx: typer.Context, project: ProjectArg,
           dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan only.")] = False,
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
           wait: WaitOpt = None, json_out: JsonOpt = False) -> None:
    """Apply keep decisions: dropped JPGs and RAWs (and the sidecars of photos left with no
    file) move to the project's .trash, restorable with `trash restore` until the trash TTL.

    Exit codes: 0 done (or nothing to do); 1 error or not confirmed; 6 the commit task failed."""
    lib = state(ctx).library()
    plan = culling.plan(lib, project, check_folder=not dry_run)  # unplugged: refused before asking
    if not json_out:
        _show_plan(plan)
    if dry_run or not plan["photos"]:
        if json_out:
            print_json({**plan, "job": None, "task": None, "dry_run": dry_run})
        elif dry_run and plan["photos"]:
            console.print("dry run: nothing was moved (run without --dry-run to commit)", markup=False)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise PhotojobsError("commit moves files to .trash: confirm with --yes when not at a terminal")
        if not typer.confirm(f"Move {len(plan['jpgs']) + len(plan['raws'])} files to .trash?"):
            raise typer.Exit(exit_codes.ERROR)
    result = culling.commit(lib, project)
    outcome = _dispatch.finish(lib, result["job"], wait, quiet=json_out).result
    code = _dispatch.exit_code(outcome)
    if json_out:
        print_json({**result, "task": outcome, "dry_run": False})
        raise typer.Exit(code)
    problem = _dispatch.describe(outcome)
    if problem:
        warn(f"commit did not complete: {problem}")
    elif outcome is None:
        console.print(f"commit queued as job {result['job']['id']}")
    else:
        console.print(f"committed; undo with `photojobs trash restore {shlex.quote(plan['project'])} --all`",
                      markup=False)
    raise typer.Exit(code)


def _show_plan(plan: dict) -> None:
    if not plan["photos"]:
        console.print("nothing to commit: every available file is kept")
        return
    table(["photo", "JPG to trash", "RAW to trash", "sidecars"],
          [(p["basename"], p["jpg"] or "", p["raw"] or "", ", ".join(p["sidecars"])) for p in plan["photos"]],
          title=f"{len(plan['jpgs'])} JPGs and {len(plan['raws'])} RAWs go to .trash")
