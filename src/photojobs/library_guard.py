"""The library on disk: where its catalog lives, its identity, the marker of its project folders, and the lost-catalog guard."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from photojobs.errors import CatalogCorrupt, CatalogLost, CatalogUnwritable, ForeignProjectFolder, WrongLibrary
from photojobs.storage import atomic, health
from photojobs.storage.repos import projects as projects_repo
from photojobs.storage.repos import settings as settings_repo

if TYPE_CHECKING:
    from photojobs.library import Library

CATALOG_DIR = ".photojobs"
CATALOG_FILE = "catalog.db"
MARKER = ".photojobs-project"
LIBRARY_MARKER = ".photojobs-library"   # in the library's root: {"library_id": ...}
LIBRARY_ID = "library.id"               # the same id, in the catalog's settings


def catalog_path(root: Path) -> Path:
    return Path(root) / CATALOG_DIR / CATALOG_FILE


def counted(n: int, word: str) -> str:
    """"1 project", "2 projects"."""
    return f"{n} {word}{'s' * (n != 1)}"


# --- the project marker: what makes a folder of the library a project folder ------------------

def read_marker(folder: Path) -> dict:
    """What a project folder's marker says ({} when it is missing or unreadable)."""
    try:
        data = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_marker(folder: Path, row, *, library_id: str | None, deleted_at: float | None = None) -> None:
    """Write the marker that makes `folder` a project folder of library `library_id` (to a temp
    name, then replaced). `deleted_at`: the project was deleted with its folder left in place;
    such a folder is no sign of a lost catalog, and `project restore` adopts it again."""
    data = {"project_id": row["id"], "name": row["name"], "folder": row["folder"]}
    if library_id is not None:
        data["library_id"] = library_id
    if deleted_at is not None:
        data["deleted_at"] = deleted_at
    _write_json(folder / MARKER, data)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def is_deleted_marker(folder: Path) -> bool:
    return "deleted_at" in read_marker(folder)


def marked_folders(root: Path) -> list[Path]:
    """The library's project folders, known by their marker (the catalog is not asked)."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    # A folder a `project delete` left in place is marked deleted: no sign of a lost catalog.
    return [Path(e.path) for e in entries
            if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
            and os.path.isfile(os.path.join(e.path, MARKER)) and not is_deleted_marker(Path(e.path))]


# --- refusing to work on a lost or damaged catalog -----------------------------------------

def refuse_unusable_file(root: Path) -> None:
    """Before the catalog is opened (or created): a damaged file is reported, never written to;
    a missing or empty one is not replaced by a new, empty catalog while project folders exist."""
    path = catalog_path(root)
    found = health.inspect_file(path)
    if found.state == health.DAMAGED:
        raise CatalogCorrupt(f"the catalog {path} is damaged ({found.reason}); nothing was written to it. "
                             "`photojobs catalog rebuild` makes a new one from the project folders "
                             "and keeps this one aside")
    if found.state in (health.MISSING, health.EMPTY):
        _refuse_if_folders(root, f"is {found.state}")


def refuse_if_no_projects(lib: "Library") -> None:
    """After opening: a catalog that lists no project while project folders exist is a lost one
    (replaced by an empty file, or restored from before they existed)."""
    if not projects_repo.count(lib.conn()):
        _refuse_if_folders(lib.root, "lists no projects")


def _refuse_if_folders(root: Path, how: str) -> None:
    folders = marked_folders(root)
    if folders:
        names = ", ".join(f.name for f in folders[:3]) + (", ..." if len(folders) > 3 else "")
        raise CatalogLost(f"the catalog {catalog_path(root)} {how}, but {root} holds "
                          f"{counted(len(folders), 'project folder')} ({names}); nothing was changed. "
                          "`photojobs catalog rebuild` re-creates the catalog from them")


# --- the library's identity: one id in the root's marker, the catalog and each project marker ---
#
# Each machine may mount the library where it likes; the catalog stores only paths relative to
# the root. The id stops a machine from pointing a catalog at another library (a wrong --library,
# a share mounted elsewhere, another library's catalog.url). Written lazily: a library made
# before ids existed gets one the first time it is opened.

def read_library_id(root: Path) -> str | None:
    """The id in the root's marker (None when there is none, or it is unreadable)."""
    try:
        data = json.loads((Path(root) / LIBRARY_MARKER).read_text())
    except (OSError, ValueError):
        return None
    found = data.get("library_id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and found else None


def establish_identity(lib: "Library") -> str | None:
    """Check that the catalog and the folder `lib.root` are one library; give either the id the
    other has (or a new one) when it has none. Returns the id (None: the catalog could not be
    written, so nothing could be checked); raises WrongLibrary when they differ."""
    conn = lib.conn()
    theirs = read_library_id(lib.root)
    ours = settings_repo.get(conn, LIBRARY_ID)
    if ours is None:
        try:
            with atomic(conn):   # two processes opening a new library at once agree on one id
                ours = settings_repo.get(conn, LIBRARY_ID)
                if ours is None:
                    ours = theirs or str(uuid.uuid4())
                    settings_repo.put(conn, LIBRARY_ID, ours, lib.now())
        except CatalogUnwritable:
            return None   # a read-only catalog: nothing is written, nothing checked
    if theirs is not None and theirs != ours:
        raise WrongLibrary(f"the catalog belongs to library {ours}, {lib.root} is library {theirs}; "
                           "wrong --library or catalog.url?")
    if theirs is None:
        _refuse_unmarked_root(lib, ours)
        try:
            _write_json(Path(lib.root) / LIBRARY_MARKER, {"library_id": ours})
        except OSError:
            pass   # a read-only library: checked again, and written, by the next open that can
    return ours


def _refuse_unmarked_root(lib: "Library", ours: str) -> None:
    """A catalog of its own (SQLite, inside the root) is this root's. A shared one that lists
    projects is this root's only when one of the root's project folders says so: an empty or
    foreign folder is most likely a share that is not mounted there."""
    if lib.catalog.backend == "sqlite":
        return
    projects = projects_repo.count(lib.conn())
    if not projects or any(read_marker(f).get("library_id") in (ours, None) for f in marked_folders(lib.root)):
        return
    raise WrongLibrary(f"the catalog belongs to library {ours} ({counted(projects, 'project')}), {lib.root} has "
                       f"no {LIBRARY_MARKER} marker nor any of its project folders; is the library share "
                       "mounted there? wrong --library or catalog.url?")


def refuse_foreign_project(lib: "Library", folder: Path) -> None:
    """Before a project folder is used: refuse one whose marker names another library; give a
    marker from before library ids this library's id."""
    if lib.library_id is None:
        return
    marker = read_marker(folder)
    if not marker:
        return
    theirs = marker.get("library_id")
    if theirs is None:
        try:
            _write_json(folder / MARKER, {**marker, "library_id": lib.library_id})
        except OSError:
            pass   # a read-only project folder: written by a later pass that can
    elif theirs != lib.library_id:
        raise ForeignProjectFolder(f"the catalog belongs to library {lib.library_id}, the project folder "
                                   f"{folder} is of library {theirs}; wrong --library or catalog.url?")
