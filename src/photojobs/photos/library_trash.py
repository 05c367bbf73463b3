"""Deleting and restoring projects: the catalog forgets a project; its folder stays, or goes whole into the library's .trash.

`<library>/.trash/` holds the folders of deleted projects as a project's `.trash/` holds its
files: unique names, a record of when and from where (`.trash/.info/NAME.json`), restorable
until maintenance.trash_ttl_hours, then expired by trash_maintenance (which every project runs).
"""

from __future__ import annotations

import os
from typing import Any

from photojobs.timefmt import iso
from photojobs.errors import NotFound, PhotojobsError
from photojobs.library import Library
from photojobs.library_guard import read_marker, refuse_foreign_project
from photojobs.storage import atomic
from photojobs.storage.repos import jobs as jobs_repo
from photojobs.storage.repos import photos as photos_repo
from photojobs.storage.repos import projects as projects_repo

from .projects import MARKER, ensure_layout, project_to_dict, require, write_marker
from .scan import request_checks
from .trash import NOT_DELETED, PROJECT_DELETE, Expiry, entries, expire, keep, move_to_trash, put_back, trash_dir


class ProjectBusy(PhotojobsError):
    """A job of the project is running: deleting now would pull its folder from under it."""

    http_status = 409


def delete_project(lib: Library, project: str | int, *, files: bool = False) -> dict[str, Any]:
    """Forget a project: its photos, jobs and schedule leave the catalog; no file is deleted.

    Its folder stays where it is, or with `files` moves whole into the library's trash, from
    which `restore_project` brings it back until the trash TTL. Refused (nothing changes) while
    a job of the project runs, and with `files` when its folder is missing, a link, or another
    drive's mount point (a move there would be a copy, or a link's move no deletion)."""
    row = require(lib, project)
    path = lib.project_path(row["folder"])
    if files:
        if path.is_symlink() or os.path.ismount(path):
            raise PhotojobsError(f"the folder of project {row['name']} ({path}) is on another drive (a link or a "
                                 "mount point): delete without --files, then remove its files there yourself")
        if not path.is_dir():
            raise PhotojobsError(f"the folder of project {row['name']} ({path}) is missing (is its drive "
                                 "mounted?); nothing to move to the trash: delete without --files")
    conn = lib.conn()
    trashed, marked = None, False
    try:
        with atomic(conn):
            running = jobs_repo.list_jobs(conn, project_id=row["id"], statuses=["running"], limit=5)
            if running:
                names = ", ".join(f"{j['type']} (job {j['id']})" for j in running)
                raise ProjectBusy(f"project {row['name']} has running jobs: {names}; wait for them or cancel "
                                  "them (`photojobs jobs cancel ID`), then delete it")
            photo_count = photos_repo.count_for_project(conn, row["id"])
            projects_repo.delete(conn, row["id"])
            if files:
                # Inside the transaction: a move that fails rolls the catalog back.
                trashed = move_to_trash(lib.root, row["folder"], now=lib.now(),
                                        reason=PROJECT_DELETE)
            elif (path / MARKER).is_file():
                # The folder stays: its marker says the project was deleted, so it is no sign of
                # a lost catalog, and `project restore` can adopt it again.
                write_marker(path, row, library_id=lib.library_id, deleted_at=lib.now())
                marked = True
    except BaseException:
        # The move happened but the catalog did not commit: undo the move; if the name was taken
        # meanwhile, the folder stays in the trash, never to expire (the project was not deleted).
        if trashed is not None and not put_back(lib.root, trashed, row["folder"]):
            keep(lib.root, trashed, row["folder"], now=lib.now(), reason=NOT_DELETED)
        if marked:
            write_marker(path, row, library_id=lib.library_id)
        raise
    ttl = float(lib.config.get("maintenance.trash_ttl_hours"))
    return {"project": project_to_dict(row), "photo_count": photo_count, "folder": row["folder"], "path": str(path),
            "files": files, "trashed_as": trashed,
            "expires_at": iso(lib.now() + ttl * 3600) if trashed else None}


def deleted_projects(lib: Library) -> list[dict[str, Any]]:
    """Folders of deleted projects in the library's trash, oldest first, with when each expires."""
    ttl = float(lib.config.get("maintenance.trash_ttl_hours")) * 3600
    return [{"name": e["name"], "folder": e["original"], "trashed_at": iso(e["trashed_at"]),
             "expires_at": iso(e["trashed_at"] + ttl), "reason": e["reason"]}
            for e in entries(lib.root, folders=True) if e["folder"]]


def restore_project(lib: Library, name: str, *, source: str = "cli") -> dict[str, Any]:
    """Make a deleted project a project again, from the library's trash (by trash name or
    original folder, any case) or from a project folder left in the library by a delete
    without --files. Its files are catalogued again by a folder_check (returned as `job`);
    culling decisions not yet committed are not kept (every file is kept)."""
    wanted = name.lower()
    in_trash = [e for e in entries(lib.root, folders=True)
                if e["folder"] and wanted in (e["name"].lower(), e["original"].lower())]
    exact = [e for e in in_trash if e["name"].lower() == wanted]
    chosen = exact or in_trash
    if len(chosen) > 1:
        raise PhotojobsError(f"{len(chosen)} deleted projects were in folder {name}: name one by its trash "
                             f"name ({', '.join(e['name'] for e in chosen)})")
    if chosen:
        folder, source_path = chosen[0]["original"], trash_dir(lib.root) / chosen[0]["name"]
    else:
        folder, source_path = name, lib.project_path(name)
    if not folder or "/" in folder or "\\" in folder or folder.startswith(".") or \
            not (source_path / MARKER).is_file():
        raise NotFound(f"no deleted project {name} in the library's trash or folder "
                       f"(deleted: {', '.join(e['name'] for e in deleted_projects(lib)) or 'none'})")
    conn = lib.conn()
    if projects_repo.by_folder(conn, folder) is not None:
        raise PhotojobsError(f"folder {folder} belongs to a project already")
    target = lib.project_path(folder)
    if chosen and os.path.lexists(target):
        raise PhotojobsError(f"{target} exists again: move it away to restore the deleted project there")
    refuse_foreign_project(lib, source_path)
    marker = read_marker(source_path)
    with atomic(conn):
        row = projects_repo.create(conn, name=marker.get("name") or folder, folder=folder, now=lib.now())
        # Inside the transaction: a move that fails rolls the catalog back.
        if chosen and not put_back(lib.root, chosen[0]["name"], folder):
            raise PhotojobsError(f"could not move {source_path} back to {target}; nothing was changed")
    write_marker(target, row, library_id=lib.library_id)   # a project again: its marker names the new row, not a deletion
    ensure_layout(lib, row)
    job = request_checks(lib, row["id"], manifest=False, folder=True, source=source)[0]
    return {"project": project_to_dict(row), "restored_from": chosen[0]["name"] if chosen else None,
            "job": job}


def expire_deleted(lib: Library) -> Expiry:
    """Delete deleted projects' folders older than the trash TTL (their trash names: `removed`;
    those due that could not be deleted: `stuck`)."""
    return expire(lib.root, now=lib.now(), ttl_hours=float(lib.config.get("maintenance.trash_ttl_hours")),
                  folders=True)
