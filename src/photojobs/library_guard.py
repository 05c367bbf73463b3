"""The library on disk: where its catalog lives, the marker of its project folders, and the lost-catalog guard."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from photojobs.errors import CatalogCorrupt, CatalogLost
from photojobs.storage import health
from photojobs.storage.repos import projects as projects_repo

if TYPE_CHECKING:
    from photojobs.library import Library

CATALOG_DIR = ".photojobs"
CATALOG_FILE = "catalog.db"
MARKER = ".photojobs-project"


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


def write_marker(folder: Path, row, *, deleted_at: float | None = None) -> None:
    """Write the marker that makes `folder` a project folder (to a temp name, then replaced).
    `deleted_at`: the project was deleted with its folder left in place; such a folder is no
    sign of a lost catalog, and `project restore` adopts it again."""
    data = {"project_id": row["id"], "name": row["name"], "folder": row["folder"]}
    if deleted_at is not None:
        data["deleted_at"] = deleted_at
    tmp = folder / f".{MARKER}.tmp"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, folder / MARKER)


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
