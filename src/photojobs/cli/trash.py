"""`photojobs trash`: see and restore what a commit moved to a project's .trash."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..engine import trash as trash_engine
from . import _wait
from ._options import JsonOpt, ProjectArg, WaitOpt
from ._render import console, print_json, state, table, warn

app = typer.Typer(help="See and restore trashed files (until the trash TTL expires).", no_args_is_help=True)


@app.command("list")
def list_(ctx: typer.Context, project: ProjectArg, json_out: JsonOpt = False) -> None:
    """List a project's trash, oldest first, with when each entry expires: only what a commit
    (or an overwriting import) put there expires; anything else stays until you restore or delete it."""
    entries = trash_engine.list_trash(state(ctx).library(), project)
    if json_out:
        print_json(entries)
        return
    table(["name", "original", "trashed", "expires", "bytes"],
          [(e["name"], e["original"], e["trashed_at"], e["expires_at"] or "never (not committed)", e["size"])
           for e in entries],
          title=f"{len(entries)} files in the trash")


@app.command("restore")
def restore(ctx: typer.Context, project: ProjectArg,
            names: Annotated[Optional[list[str]], typer.Argument(help="Trash or original file names.", show_default=False)] = None,
            all_: Annotated[bool, typer.Option("--all", help="Everything in the trash.")] = False,
            wait: WaitOpt = None, json_out: JsonOpt = False) -> None:
    """Put trashed files back under their original names, kept, and remake their derivatives.

    Exit codes: 0 all restored; 5 some stayed in the trash (their name is taken again);
    6 restored but processing failed; 3 a name not in the trash (nothing changed); 1 other errors."""
    lib = state(ctx).library()
    result = trash_engine.restore(lib, project, names or [], all=all_)
    outcome = _wait.finish(lib, result["job"], wait, quiet=json_out)
    code = 5 if result["conflicts"] else (_wait.EXIT_TASK_FAILED if _wait.failed_steps(outcome) else 0)
    if json_out:
        print_json({**result, "task": outcome})
        raise typer.Exit(code)
    console.print(f"restored {len(result['restored'])} files", markup=False)
    for c in result["conflicts"]:
        warn(f"{c['name']}: {c['reason']}")
    problem = _wait.describe(outcome)
    if problem:
        warn(f"processing did not complete: {problem}")
    raise typer.Exit(code)
