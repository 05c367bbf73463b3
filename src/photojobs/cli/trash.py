"""`photojobs trash`: see and restore what a commit moved to a project's .trash."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..photos import trash as trash_engine
from . import _dispatch, exit_codes
from ._options import JsonOpt, ProjectArg, WaitOpt
from ._render import console, human_size, local_time, print_json, state, table, warn

app = typer.Typer(help="See and restore trashed files (until the trash TTL expires: maintenance.trash_ttl_hours, "
                       "24 by default).", no_args_is_help=True)


@app.command("list")
def list_(ctx: typer.Context, project: ProjectArg, json_out: JsonOpt = False) -> None:
    """List a project's trash, oldest first, with when each entry expires: only what a commit
    (or an overwriting import) put there expires; anything else stays until you restore or delete
    it (local times; --json gives exact sizes in bytes and UTC times)."""
    entries = trash_engine.list_trash(state(ctx).library(), project)
    if json_out:
        print_json(entries)
        return
    table(["name", "original", "trashed", "expires", "size"],
          [(e["name"], e["original"], local_time(e["trashed_at"]),
            local_time(e["expires_at"]) if e["expires_at"] else "never (not committed)", human_size(e["size"]))
           for e in entries],
          title=f"{len(entries)} files in the trash")


@app.command("restore")
def restore(ctx: typer.Context, project: ProjectArg,
            names: Annotated[Optional[list[str]], typer.Argument(
                help="Photo names (DSC0003: its JPG, RAW and sidecars), or file names in the trash or "
                     "before it.", show_default=False)] = None,
            all_: Annotated[bool, typer.Option("--all", help="Everything in the trash.")] = False,
            wait: WaitOpt = None, json_out: JsonOpt = False) -> None:
    """Put trashed files back under their original names, kept, and remake their derivatives.

    Exit codes: 0 all restored; 5 some stayed in the trash (their name is taken again);
    6 restored but processing failed; 3 a name not in the trash (nothing changed); 2 no names
    and no --all, or both; 1 other errors."""
    lib = state(ctx).library()
    result = trash_engine.restore(lib, project, names or [], all=all_)
    # No photo among them (a sidecar, a file that is not a photo): nothing to process.
    outcome = _dispatch.finish(lib, result["job"], wait, quiet=json_out).result if result["job"] else None
    code = exit_codes.PARTLY_DONE if result["conflicts"] else _dispatch.exit_code(outcome)
    if json_out:
        print_json({**result, "task": outcome})
        raise typer.Exit(code)
    console.print(f"restored {len(result['restored'])} files", markup=False)
    for c in result["conflicts"]:
        warn(f"{c['name']}: {c['reason']}")
    problem = _dispatch.describe(outcome)
    if problem:
        warn(f"processing did not complete: {problem}")
    raise typer.Exit(code)
