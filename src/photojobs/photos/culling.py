"""Culling: keep intent per photo, revert it, and commit it (the change_commit task moves files to .trash)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from photojobs.engine.queue import start_task
from photojobs.timefmt import iso
from photojobs.errors import NotFound, PhotojobsError, UsageError
from photojobs.library import Library
from photojobs.storage import Row, atomic
from photojobs.storage.repos import job_items as items_repo
from photojobs.storage.repos import photos as photos_repo

from .derivatives import derivative_paths, imaging_settings
from .projects import project_to_dict, require
from .reconcile import checked_scan
from .shapes import photo_to_dict


def list_photos(lib: Library, project: str | int) -> list[dict[str, Any]]:
    row = require(lib, project)
    return [photo_to_dict(r) for r in photos_repo.list_for_project(lib.conn(), row["id"])]


def project_with_photos(lib: Library, project: str | int) -> dict[str, Any]:
    """A project with its photos, and their count."""
    row = require(lib, project)
    photos = [photo_to_dict(r) for r in photos_repo.list_for_project(lib.conn(), row["id"])]
    return {**project_to_dict(row), "photo_count": len(photos), "photos": photos}


def _by_name(rows: Iterable[Row]) -> dict[str, Row]:
    """Photos by every name they answer to, lowercased: the basename and each file name."""
    out: dict[str, Row] = {}
    for r in rows:
        out[r["basename_key"]] = r
        out.update((n.lower(), r) for n in (r["jpg_name"], r["raw_name"], r["other_name"]) if n)
    return out


def photo_detail(lib: Library, project: str | int, name: str, *, job_limit: int = 20) -> dict[str, Any]:
    """One photo, as `photos show` tells it: `photos list`'s fields, then each file (on disk or
    not, kept or not, its size), the metadata read from each, where its derivatives are, and
    the last `job_limit` job items that worked on it (newest first)."""
    row = require(lib, project)
    conn = lib.conn()
    found = photos_repo.get_many(conn, row["id"], [name])
    if not found:
        raise NotFound(f"no such photo in {row['folder']}: {name} (`photojobs photos list` shows them)")
    photo = found[0]
    path = lib.project_path(row["folder"])
    files = [{"role": role, "name": photo[f"{role}_name"], "available": bool(photo[f"{role}_available"]),
              # "other" images are never trashed by a commit: keeping them is not a choice
              "keep": bool(photo[f"keep_{role}"]) if role != "other" else None,
              "size_bytes": _size(path / photo[f"{role}_name"])}
             for role in photos_repo.ROLES if photo[f"{role}_name"]]
    files += [{"role": "sidecar", "name": s, "available": (path / s).exists(), "keep": None,
               "size_bytes": _size(path / s)} for s in json.loads(photo["sidecars"] or "[]")]
    thumb, preview = derivative_paths(path, photo["basename"], imaging_settings(lib.config).format)
    jobs = [{"job_id": r["job_id"], "job_type": r["job_type"], "job_status": r["job_status"],
             "item_status": r["status"], "message": r["message"], "updated_at": iso(r["updated_at"])}
            for r in items_repo.of_photo(conn, photo["id"], limit=job_limit)]
    return {**photo_to_dict(photo), "project": row["folder"], "files": files,
            "metadata": json.loads(photo["metadata"] or "{}"),
            "thumbnail": str(thumb) if thumb.exists() else None, "preview": str(preview) if preview.exists() else None,
            "jobs": jobs}


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def keep(lib: Library, project: str | int, names: Iterable[str] = (), *, all: bool = False,
         jpg: bool | None = None, raw: bool | None = None) -> dict[str, Any]:
    """Set keep intent. With neither flag, keep both files; with one, the other stays as it
    is. Names are basenames or file names (case-insensitive). Any unknown name is an error
    and nothing changes."""
    names = list(names)
    if all and names:
        raise UsageError("give photo names or --all, not both")
    if not all and not names:
        raise UsageError("name the photos to change, or use --all")
    row = require(lib, project)
    if jpg is None and raw is None:
        jpg = raw = True
    conn = lib.conn()
    with atomic(conn):
        ids = None
        if not all:
            found = photos_repo.get_many(conn, row["id"], names)
            known = _by_name(found)
            unknown = [n for n in names if n.lower() not in known]
            if unknown:
                raise NotFound(f"no such photo in {row['folder']}: {', '.join(unknown)}")
            ids = [r["id"] for r in found]
        changed = photos_repo.set_keep(conn, row["id"], ids, keep_jpg=jpg, keep_raw=raw, now=lib.now())
    return {"project": row["folder"], "changed": changed, "selected": len(ids) if ids is not None else None}


def reject(lib: Library, project: str | int, names: Iterable[str] = (), *, all: bool = False) -> dict[str, Any]:
    """Keep neither the JPG nor the RAW: the next commit moves the photo's files to .trash."""
    return keep(lib, project, names, all=all, jpg=False, raw=False)


def keep_many(lib: Library, project: str | int, updates: list[dict[str, Any]]) -> dict[str, Any]:
    """Set keep intent photo by photo: each update is {filename, keep_jpg?, keep_raw?} (a flag
    left out stays as it is; the name is a basename or file name, any case). All in one
    transaction; a later update of the same photo wins. Names not in the project change
    nothing and come back in `unknown` (the photo may have been dropped meanwhile); a
    malformed update is an error and nothing changes."""
    row = require(lib, project)
    if not isinstance(updates, list):
        raise PhotojobsError("updates must be a list of {filename, keep_jpg, keep_raw}")
    for u in updates:
        if not isinstance(u, dict) or not isinstance(u.get("filename"), str) or not u["filename"]:
            raise PhotojobsError(f"each update needs a filename: {u!r}")
        for flag in ("keep_jpg", "keep_raw"):
            if u.get(flag) is not None and not isinstance(u[flag], bool):
                raise PhotojobsError(f"{flag} must be true or false in the update of {u['filename']}")
    conn = lib.conn()
    with atomic(conn):
        known = _by_name(photos_repo.get_many(conn, row["id"], [u["filename"] for u in updates]))
        wanted: dict[int, tuple[bool | None, bool | None]] = {}
        unknown = []
        for u in updates:
            photo = known.get(u["filename"].lower())
            if photo is None:
                unknown.append(u["filename"])
            else:
                wanted[photo["id"]] = (u.get("keep_jpg"), u.get("keep_raw"))
        groups: dict[tuple[bool | None, bool | None], list[int]] = {}
        for photo_id, flags in wanted.items():
            groups.setdefault(flags, []).append(photo_id)
        changed = sum(photos_repo.set_keep(conn, row["id"], ids, keep_jpg=jpg, keep_raw=raw, now=lib.now())
                      for (jpg, raw), ids in groups.items())
    return {"project": row["folder"], "selected": len(wanted), "changed": changed, "unknown": unknown}


def revert(lib: Library, project: str | int) -> dict[str, Any]:
    """Keep flags := current availability (undo culling decisions not yet committed). No jobs."""
    row = require(lib, project)
    conn = lib.conn()
    with atomic(conn):
        changed = photos_repo.revert_keep(conn, row["id"], lib.now())
    return {"project": row["folder"], "changed": changed}


def plan_for(row: Row | dict) -> dict[str, Any] | None:
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
        # By id: the folder in the plan could also be some other project's name.
        result["job"] = start_task(lib, "change_commit", project=require(lib, project)["id"], source=source,
                                   items=[(p["photo_id"], p["basename"]) for p in result["photos"]])
    return result
