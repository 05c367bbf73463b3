"""`photojobs photos`: look at a project's photos."""

from __future__ import annotations

import typer

from ..engine import culling
from ..engine import projects as projects_engine
from ._options import JsonOpt, ProjectArg
from ._render import console, print_json, state, table, warn

app = typer.Typer(help="Look at a project's photos.", no_args_is_help=True)


def _flag(available: bool, keep: bool) -> str:
    if not available:
        return "-"
    return "keep" if keep else "drop"


@app.command("list")
def list_(ctx: typer.Context, project: ProjectArg, json_out: JsonOpt = False) -> None:
    """List photos: files, availability and keep intent (keep/drop, '-' = no such file),
    derivative statuses, capture date and orientation."""
    lib = state(ctx).library()
    photos = culling.list_photos(lib, project)
    problem = projects_engine.folder_problem(lib, project)
    if problem:   # the catalog's view, not the disk's: say so before showing it
        warn(f"{problem}; showing the catalog as it was last seen")
    if json_out:
        print_json(photos)
        return
    columns = ["photo", "jpg", "raw", "other", "sidecars", "thumb", "preview", "taken", "orient."]
    rows = [[p["filename"], _flag(p["jpg_available"], p["keep_jpg"]), _flag(p["raw_available"], p["keep_raw"]),
             p["other_name"] if p["other_available"] else "", len(p["sidecars"]) or "",
             p["thumbnail_status"], p["preview_status"], p["date_time_original"], p["orientation"]]
            for p in photos]
    if any(p["derivative_error"] for p in photos):  # why derivatives failed, where the photographer looks
        columns.append("problem")
        for row, p in zip(rows, photos):
            row.append(p["derivative_error"] or "")
    table(columns, rows, title=f"{len(photos)} photos")
    strangers = projects_engine.not_photos(lib, project)
    if strangers:  # left where they are by maintenance; say so where the photographer looks
        console.print(f"{len(strangers)} {'file here is' if len(strangers) == 1 else 'files here are'} not photos "
                      f"(left in place): {', '.join(s['name'] for s in strangers)}", markup=False, soft_wrap=True)
