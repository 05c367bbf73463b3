"""Projects: a named folder of originals in the library, with .thumb/.preview/.trash and a marker."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from photojobs.errors import NotFound, PhotojobsError, ProjectFolderMissing
from photojobs.library import Library, resolve_project
# The marker is the library's: it knows its project folders by it (the lost-catalog guard).
from photojobs.library_guard import MARKER, refuse_foreign_project, write_marker
from photojobs.storage import Row, atomic
from photojobs.storage.repos import not_photos as not_photos_repo
from photojobs.storage.repos import photos as photos_repo
from photojobs.storage.repos import projects as projects_repo
from photojobs.timefmt import iso

SUBFOLDERS = (".thumb", ".preview", ".trash")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_folder_name(name: str) -> str:
    """A folder name from a project name: no separators, no dot-leading, no control characters."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = _UNSAFE.sub("-", text).strip(" .-")
    text = re.sub(r"[ ]+", " ", text)[:80].strip(" .-")
    return text or "project"


def validate_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise PhotojobsError("project name is empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise PhotojobsError("project name contains control characters")
    if len(name) > 200:
        raise PhotojobsError("project name is longer than 200 characters")
    return name


def create_project(lib: Library, name: str) -> dict:
    """Create a project (catalog row, folder, subfolders, marker). Names need not be unique;
    folders are (a second "Wedding" gets "Wedding-2")."""
    name = validate_name(name)
    base = safe_folder_name(name)
    conn = lib.conn()
    with atomic(conn):
        taken = {f.lower() for f in projects_repo.folders(conn)}
        folder, n = base, 1
        while folder.lower() in taken or (lib.root / folder).exists() and not _is_marked_free(lib.root / folder):
            n += 1
            folder = f"{base}-{n}"
        row = projects_repo.create(conn, name=name, folder=folder, now=lib.now())
        ensure_layout(lib, row)
    return project_to_dict(row)


def _is_marked_free(path: Path) -> bool:
    # An existing folder can be adopted only if it's an empty directory.
    return path.is_dir() and not any(path.iterdir())


def ensure_layout(lib: Library, row: Row) -> Path:
    """Make the project's folder, subfolders and marker file (idempotent).

    A project that has photos in the catalog but whose folder or marker is gone is not
    recreated: its drive is most likely not mounted, and a fresh folder on the system disk
    would make the next reconcile believe every photo was deleted."""
    path = lib.project_path(row["folder"])
    marker = path / MARKER
    refuse_foreign_project(lib, path)
    if not marker.exists() and photos_repo.count_for_project(lib.conn(), row["id"]):
        where = "is missing" if not path.exists() else f"has no {MARKER} marker"
        raise ProjectFolderMissing(
            f"the folder of project {row['name']} ({path}) {where}, but the catalog lists photos in it; "
            "is its drive mounted? Nothing was changed")
    try:
        path.mkdir(parents=True, exist_ok=True)
        for sub in SUBFOLDERS:
            (path / sub).mkdir(exist_ok=True)
        if not marker.exists():
            write_marker(path, row, library_id=lib.library_id)
    except OSError as exc:  # a read-only library or project folder, a full disk
        raise PhotojobsError(f"cannot lay out the folder of project {row['name']} ({exc.filename or path}): "
                             f"{exc.strerror}") from None
    return path


def folder_problem(lib: Library, project: str | int) -> str | None:
    """Why the project's folder can't be trusted right now (gone, or not ours), or None."""
    row = require(lib, project)
    path = lib.project_path(row["folder"])
    if not path.is_dir():
        return f"the project folder {path} is missing (is its drive mounted?)"
    if not (path / MARKER).exists():
        return f"the project folder {path} has no {MARKER} marker (is its drive mounted?)"
    return None


def get_or_create(lib: Library, name: str) -> Row:
    """The project `name` names (found as every command finds one, see resolve_project), its
    folder laid out; a new project when there is none."""
    try:
        row = resolve_project(lib.conn(), name, note=lib.note)
    except NotFound:
        row = None
    if row is not None:
        ensure_layout(lib, row)
        return row
    return projects_repo.get(lib.conn(), create_project(lib, name)["id"])


def get_project(lib: Library, project: str | int) -> dict:
    """A project, with the files in its folder that are not photos (as the last folder_check saw them)."""
    row = require(lib, project)
    return {**project_to_dict(row), "not_photos": not_photos(lib, row["id"])}


def not_photos(lib: Library, project: str | int) -> list[dict]:
    """Files in the project's folder that are not photos, left where they are: {name, reason}."""
    row = require(lib, project)
    return [{"name": r["name"], "reason": r["reason"]} for r in not_photos_repo.list_for_project(lib.conn(), row["id"])]


def list_projects(lib: Library) -> list[dict]:
    """Every project, with how many photos it has (`photo_count`)."""
    conn = lib.conn()
    counts = photos_repo.count_by_project(conn)
    return [{**project_to_dict(r), "photo_count": counts.get(r["id"], 0)} for r in projects_repo.list_all(conn)]


def summaries(lib: Library, project: str | int | None = None) -> list[dict]:
    """Projects (all, or the one named) with what `project list` counts: photos with a file on
    disk, kept and rejected ones, derivatives pending and failed, and the bytes the folder takes
    (originals, derivatives and trash; None when the folder is not there)."""
    rows = [require(lib, project)] if project is not None else projects_repo.list_all(lib.conn())
    counts = photos_repo.culling_counts(lib.conn())
    none = {"photos": 0, "kept": 0, "rejected": 0, "derivatives_pending": 0, "derivatives_failed": 0}
    return [{**project_to_dict(r), **counts.get(r["id"], none), "size_bytes": disk_usage(lib.project_path(r["folder"]))}
            for r in rows]


def disk_usage(path: Path) -> int | None:
    """Bytes of the files under `path` (links not followed), or None when it is not a folder."""
    if not path.is_dir():
        return None
    total, stack = 0, [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue   # a folder we may not read, or that went away meanwhile: count the rest
    return total


def project_to_dict(row: Row) -> dict:
    return {"id": row["id"], "name": row["name"], "folder": row["folder"],
            "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"])}


def in_folder(lib: Library, folder: str) -> Row | None:
    """The project whose folder is exactly `folder`, or None."""
    return projects_repo.by_folder(lib.conn(), folder)


def folders(lib: Library) -> set[str]:
    """Every catalogued project's folder name."""
    return projects_repo.folders(lib.conn())


def require(lib: Library, project: str | int) -> Row:
    row = resolve_project(lib.conn(), project, note=lib.note)
    if row is None:
        raise NotFound(f"no such project: {project}")
    return row
