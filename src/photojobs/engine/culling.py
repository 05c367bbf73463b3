"""Culling: keep intent per photo, revert it, and commit it (the change_commit task moves files to .trash)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable

from ..errors import NotFound, PhotojobsError
from ..storage import atomic
from ..storage.repos import photos as photos_repo
from .library import Library
from .projects import require
from .queue import start_task
from .reconcile import checked_scan

def list_photos(lib: Library, project: str | int) -> list[dict[str, Any]]:
    row = require(lib, project)
    return [photos_repo.to_dict(r) for r in photos_repo.list_for_project(lib.conn(), row["id"])]


def keep(lib: Library, project: str | int, names: Iterable[str] = (), *, all: bool = False,
         jpg: bool | None = None, raw: bool | None = None) -> dict[str, Any]:
    """Set keep intent. A flag given as None stays as it is; names are basenames or file
    names (case-insensitive). Any unknown name is an error and nothing changes."""
    row = require(lib, project)
    names = list(names)
    if jpg is None and raw is None:
        raise PhotojobsError("say what to keep: --jpg/--no-jpg and/or --raw/--no-raw")
    if all and names:
        raise PhotojobsError("give photo names or --all, not both")
    if not all and not names:
        raise PhotojobsError("name the photos to change, or use --all")
    conn = lib.conn()
    with atomic(conn):
        ids = None
        if not all:
            found = photos_repo.get_many(conn, row["id"], names)
            known = set()
            for r in found:
                known.add(r["basename_key"])
                known.update(n.lower() for n in (r["jpg_name"], r["raw_name"], r["other_name"]) if n)
            unknown = [n for n in names if n.lower() not in known]
            if unknown:
                raise NotFound(f"no such photo in {row['folder']}: {', '.join(unknown)}")
            ids = [r["id"] for r in found]
        changed = photos_repo.set_keep(conn, row["id"], ids, keep_jpg=jpg, keep_raw=raw, now=lib.now())
    return {"project": row["folder"], "changed": changed, "selected": len(ids) if ids is not None else None}


def revert(lib: Library, project: str | int) -> dict[str, Any]:
    """Keep flags := current availability (undo culling decisions not yet committed). No jobs."""
    row = require(lib, project)
    conn = lib.conn()
    with atomic(conn):
        changed = photos_repo.revert_keep(conn, row["id"], lib.now())
    return {"project": row["folder"], "changed": changed}


def plan_for(row: sqlite3.Row | dict) -> dict[str, Any] | None:
    """What committing one photo does: the JPG and/or RAW it loses, and its sidecars when it
    loses every file. None if nothing changes."""
    jpg = row["jpg_name"] if row["jpg_available"] and not row["keep_jpg"] else None
    raw = row["raw_name"] if row["raw_available"] and not row["keep_raw"] else None
    if not jpg and not raw:
        return None
    left = [r for r in ("jpg", "raw", "other") if row[f"{r}_available"]
            and not (r == "jpg" and jpg) and not (r == "raw" and raw)]
    sidecars = json.loads(row["sidecars"] or "[]") if not left else []
    return {"photo_id": row["id"], "basename": row["basename"], "jpg": jpg, "raw": raw, "sidecars": sidecars,
            "regenerate_from_raw": bool(jpg) and left == ["raw"]}


def plan(lib: Library, project: str | int, *, check_folder: bool = False) -> dict[str, Any]:
    """What committing now would move to .trash. `check_folder` first refuses (UnsafeFolder) a
    project whose drive looks unplugged -- maintenance's own check -- so nothing is queued."""
    row = require(lib, project)
    if check_folder:
        checked_scan(lib, row)
    changes = [p for p in map(plan_for, photos_repo.removal_plan(lib.conn(), row["id"])) if p]
    return {"project": row["folder"], "photos": changes,
            "jpgs": [p["jpg"] for p in changes if p["jpg"]], "raws": [p["raw"] for p in changes if p["raw"]],
            "sidecars": [s for p in changes for s in p["sidecars"]]}


def commit(lib: Library, project: str | int, *, dry_run: bool = False, source: str = "cli") -> dict[str, Any]:
    """Show the plan and (unless dry_run) start the change_commit task with one item per photo.
    The file_removal step re-reads each photo's flags when it runs, so later changes count.
    A project whose drive looks unplugged is refused before anything is queued."""
    result = plan(lib, project, check_folder=not dry_run)
    result["job"] = None
    if not dry_run and result["photos"]:
        result["job"] = start_task(lib, "change_commit", project=result["project"], source=source,
                                   items=[(p["photo_id"], p["basename"]) for p in result["photos"]])
    return result
