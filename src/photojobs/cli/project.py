"""`photojobs project`: create, list and show projects."""

from __future__ import annotations

import typer

from ..engine import projects as projects_engine
from ._options import JsonOpt, ProjectArg
from ._render import console, print_json, state, table

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
    """List projects."""
    projects = projects_engine.list_projects(state(ctx).library())
    if json_out:
        print_json(projects)
    else:
        table(["id", "name", "folder", "created"],
              [(p["id"], p["name"], p["folder"], p["created_at"]) for p in projects])


@app.command("show")
def show(ctx: typer.Context, project: ProjectArg, json_out: JsonOpt = False) -> None:
    """Show one project, with the files in its folder that are not photos."""
    p = projects_engine.get_project(state(ctx).library(), project)
    if json_out:
        print_json(p)
    else:
        for key, value in p.items():
            if key == "not_photos":  # files in the folder that are not photos: how many, and which
                value = f"{len(value)}" + (f" ({', '.join(f['name'] for f in value)})" if value else "")
                key = "not photos"
            console.print(f"{key:>12}: {value}", markup=False, soft_wrap=True)
