"""`photojobs project`: create, list, show, delete and restore projects."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer

from ..errors import PhotojobsError
from ..photos import library_trash
from ..photos import projects as projects_engine
from . import _dispatch, exit_codes
from ._options import JsonOpt, ProjectArg, WaitOpt
from ._render import console, fields, human_size, local_time, print_json, state, table, warn

app = typer.Typer(help="Create, list, show, delete and restore projects.", no_args_is_help=True)


@app.command("create")
def create(ctx: typer.Context, name: str = typer.Argument(..., help="Project name (any text)."),
           json_out: JsonOpt = False) -> None:
    """Create a project: a safe, unique folder in the library."""
    project = projects_engine.create_project(state(ctx).library(create=True), name)
    if json_out:
        print_json(project)
    else:
        console.print(f"created project [bold]{project['name']}[/bold] in folder {project['folder']}")


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List projects with their counts: photos (with a file on disk), kept and rejected ones,
    thumbnails and previews still to make or failed, and the size of the folder on disk
    (originals, derivatives and trash). --json gives exact bytes and UTC times."""
    projects = projects_engine.summaries(state(ctx).library())
    if json_out:
        print_json(projects)
    else:
        _summary_table(projects)


def _summary_table(projects: list[dict]) -> None:
    table(["id", "name", "folder", "photos", "kept", "rejected", "derivatives", "size", "created"],
          [(p["id"], p["name"], p["folder"], p["photos"], p["kept"], p["rejected"], _derivatives(p),
            "missing" if p["size_bytes"] is None else human_size(p["size_bytes"]), local_time(p["created_at"]))
           for p in projects])


def _derivatives(p: dict) -> str:
    parts = [f"{p[f'derivatives_{k}']} {k}" for k in ("pending", "failed") if p[f"derivatives_{k}"]]
    return ", ".join(parts) or ("done" if p["photos"] else "")


@app.command("show")
def show(ctx: typer.Context, project: ProjectArg, json_out: JsonOpt = False) -> None:
    """Show one project: the counts of `project list`, and the files in its folder that are not photos."""
    lib = state(ctx).library()
    [p] = projects_engine.summaries(lib, project)
    p["not_photos"] = projects_engine.not_photos(lib, p["id"])
    if json_out:
        print_json(p)
    else:
        strangers = p.pop("not_photos")  # left in place by maintenance: how many, and which
        fields([*p.items(), ("size", human_size(p["size_bytes"])),
                ("not photos", f"{len(strangers)}" + (f" ({', '.join(f['name'] for f in strangers)})" if strangers else ""))],
               width=20)


@app.command("delete")
def delete(ctx: typer.Context, project: ProjectArg,
           files: Annotated[bool, typer.Option("--files", help="Also move its folder into the library's trash.")] = False,
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
           json_out: JsonOpt = False) -> None:
    """Forget a project: its photos, jobs and schedule leave the catalog. No file is deleted: its
    folder stays where it is, or with --files moves whole into the library's .trash, from which
    `project restore` brings it back until the trash TTL (maintenance.trash_ttl_hours).

    Exit codes: 0 done; 1 not confirmed, a job of the project is running, or its folder cannot
    be moved; 3 no such project."""
    lib = state(ctx).library()
    p = projects_engine.get_project(lib, project)
    if not yes:
        if not sys.stdin.isatty():
            raise PhotojobsError("project delete forgets the project: confirm with --yes when not at a terminal")
        what = "and move its folder to the library's trash" if files else "(its folder stays on disk)"
        if not typer.confirm(f"Forget project {p['name']} {what}?"):
            raise typer.Exit(exit_codes.ERROR)
    result = library_trash.delete_project(lib, p["id"], files=files)
    if json_out:
        print_json(result)
    elif result["trashed_as"]:
        console.print(f"deleted project {p['name']}; its folder is in the library's trash as "
                      f"{result['trashed_as']} until {result['expires_at']} "
                      f"(`photojobs project restore {shlex.quote(result['trashed_as'])}`)", markup=False)
    else:
        console.print(f"deleted project {p['name']}; its folder stays at {result['path']} "
                      f"(`photojobs project restore {shlex.quote(result['folder'])}` adopts it again)", markup=False)


@app.command("restore")
def restore(ctx: typer.Context,
            name: Annotated[str, typer.Argument(help="Folder (or trash name) of the deleted project.",
                                                show_default=False)],
            wait: WaitOpt = None, json_out: JsonOpt = False) -> None:
    """Make a deleted project a project again: from the library's trash, or from its folder a
    delete without --files left in place. Its files are catalogued again (all kept; culling
    not committed before the delete is forgotten) and their thumbnails queued to be made again.

    Exit codes: 0 done; 3 no such deleted project; 6 restored but cataloguing failed; 1 other errors."""
    lib = state(ctx).library()
    result = library_trash.restore_project(lib, name)
    outcome = _dispatch.finish(lib, result["job"], wait, quiet=json_out).result
    code = _dispatch.exit_code(outcome)
    if json_out:
        print_json({**result, "task": outcome})
        raise typer.Exit(code)
    console.print(f"restored project {result['project']['name']} in folder {result['project']['folder']}",
                  markup=False)
    problem = _dispatch.describe(outcome)
    if problem:
        warn(f"cataloguing did not complete: {problem}")
    raise typer.Exit(code)
