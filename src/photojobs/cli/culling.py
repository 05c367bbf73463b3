"""`photojobs keep`, `revert` and `commit`: cull a project and apply the decisions."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated, Optional

import typer

from ..engine import culling
from ..errors import PhotojobsError
from . import _wait
from ._options import JsonOpt, ProjectArg, WaitOpt
from ._render import console, print_json, state, table, warn


def keep(ctx: typer.Context, project: ProjectArg,
         names: Annotated[Optional[list[str]], typer.Argument(help="Photo names (basename or file name).", show_default=False)] = None,
         all_: Annotated[bool, typer.Option("--all", help="Every photo of the project.")] = False,
         jpg: Annotated[Optional[bool], typer.Option("--jpg/--no-jpg", help="Keep (or drop) the JPG.", show_default=False)] = None,
         raw: Annotated[Optional[bool], typer.Option("--raw/--no-raw", help="Keep (or drop) the RAW.", show_default=False)] = None,
         json_out: JsonOpt = False) -> None:
    """Set what to keep at the next commit. A flag not given leaves that choice as it is.

    Exit codes: 0 done; 3 an unknown photo name (nothing changed); 1 other errors."""
    result = culling.keep(state(ctx).library(), project, names or [], all=all_, jpg=jpg, raw=raw)
    if json_out:
        print_json(result)
    else:
        console.print(f"{result['changed']} photo{'' if result['changed'] == 1 else 's'} changed", markup=False)


def revert(ctx: typer.Context, project: ProjectArg, json_out: JsonOpt = False) -> None:
    """Forget culling decisions not yet committed: keep every file that is there."""
    result = culling.revert(state(ctx).library(), project)
    if json_out:
        print_json(result)
    else:
        console.print(f"{result['changed']} photo{'' if result['changed'] == 1 else 's'} changed", markup=False)


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
            raise typer.Exit(1)
    result = culling.commit(lib, project)
    outcome = _wait.finish(lib, result["job"], wait, quiet=json_out)
    code = _wait.EXIT_TASK_FAILED if _wait.failed_steps(outcome) else 0
    if json_out:
        print_json({**result, "task": outcome, "dry_run": False})
        raise typer.Exit(code)
    problem = _wait.describe(outcome)
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
