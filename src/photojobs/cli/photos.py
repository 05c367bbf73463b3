"""`photojobs photos`: look at a project's photos."""

from __future__ import annotations

from typing import Annotated

import typer

from ..photos import culling
from ..photos import projects as projects_engine
from ._options import JsonOpt, ProjectArg
from ._render import console, fields, human_size, local_time, print_json, state, table, warn

app = typer.Typer(help="Look at a project's photos: all of them, or one in detail.", no_args_is_help=True)


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


@app.command("show")
def show(ctx: typer.Context, project: ProjectArg,
         name: Annotated[str, typer.Argument(help="Photo name (basename or file name).", show_default=False)],
         json_out: JsonOpt = False) -> None:
    """Show one photo: its files (on disk or not, kept or not, size), metadata, the state of
    its thumbnail and preview with the last error, and the jobs that worked on it.

    Exit codes: 0 shown; 3 no such project or photo."""
    p = culling.photo_detail(state(ctx).library(), project, name)
    if json_out:
        print_json(p)
        return
    fields([("photo", p["basename"]), ("project", p["project"]), ("taken", p["date_time_original"]),
            ("camera", " ".join(filter(None, (p["make"], p["model"])))),
            ("size", f"{p['width']} x {p['height']}" if p["width"] else None), ("orientation", p["orientation"]),
            ("thumbnail", f"{p['thumbnail_status']}" + (f" ({p['thumbnail']})" if p["thumbnail"] else "")),
            ("preview", f"{p['preview_status']}" + (f" ({p['preview']})" if p["preview"] else "")),
            ("last error", p["derivative_error"]),
            ("catalogued", local_time(p["created_at"])), ("changed", local_time(p["updated_at"]))], width=12)
    table(["file", "role", "on disk", "at the next commit", "size"],
          [(f["name"], f["role"], "yes" if f["available"] else "missing", _fate(f), human_size(f["size_bytes"]))
           for f in p["files"]])
    if p["jobs"]:
        table(["job", "type", "job status", "this photo", "message", "when"],
              [(j["job_id"], j["job_type"], j["job_status"], j["item_status"], j["message"] or "",
                local_time(j["updated_at"])) for j in p["jobs"]], title="jobs that worked on it, newest first")


def _fate(f: dict) -> str:
    if not f["available"]:
        return ""
    if f["keep"] is None:   # other images stay; sidecars go with the photo's last file
        return "stays" if f["role"] == "other" else "follows the photo"
    return "kept" if f["keep"] else "to .trash"
