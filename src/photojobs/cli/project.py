"""`photojobs project`: create, list and show projects."""

from __future__ import annotations

import typer

from ..engine import projects as projects_engine
from ._options import JsonOpt, ProjectArg
from ._render import console, fields, human_size, local_time, print_json, state, table

app = typer.Typer(help="Create, list and show projects.", no_args_is_help=True)


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
