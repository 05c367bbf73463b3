"""A project's .trash: unique names, a record of when, from where and why, listing, restore and expiry.

Each trashed file `.trash/NAME` has a record `.trash/.info/NAME.json` (original name, when,
why). The time lives in the record, not in the file's mtime, because imports keep the camera's
mtime. Only what the photographer asked to be removed -- a commit, an import told to overwrite
-- expires after the TTL; anything else in the trash (files folder_check moved there, files
put there by hand, a file whose record a crash did not let us write) stays until the
photographer restores or deletes it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from photojobs.errors import NotFound, UsageError
from photojobs.library import Library
from photojobs.timefmt import iso

from . import catalog
from .filenames import Rules, is_ignored
from .fileops import fsync_dir, move_unique, place_no_replace
from .projects import ensure_layout, require
from .shapes import display_name
from .writing import writes

log = logging.getLogger("photojobs.trash")

TRASH = ".trash"
INFO = ".info"
# Why a file went to the trash, for the removals the photographer asked for: these expire.
COMMIT = "commit"
REPLACED_BY_IMPORT = "replaced by import (--on-duplicate overwrite)"
PROJECT_DELETE = "project delete --files"
EXPIRING_REASONS = frozenset({COMMIT, REPLACED_BY_IMPORT, PROJECT_DELETE})
# An import moved the file aside to overwrite it, but no new file took its name: never expires.
NOT_REPLACED = "kept: an import was to replace it, but did not"
NOT_DELETED = "kept: a project delete moved it here, but the catalog kept the project"


def trash_dir(project_path: Path) -> Path:
    return project_path / TRASH


def _info_path(project_path: Path, trash_name: str) -> Path:
    return trash_dir(project_path) / INFO / f"{trash_name}.json"


def move_to_trash(project_path: Path, name: str, *, now: float, reason: str) -> str:
    """Move project file `name` into .trash (never overwriting an earlier trashed file of the
    same name) and record when. Returns the name it has in the trash."""
    folder = trash_dir(project_path)
    # Not parents=True: a project folder that is gone (drive unplugged) must not be made anew.
    folder.mkdir(exist_ok=True)
    (folder / INFO).mkdir(exist_ok=True)
    trash_name = move_unique(project_path / name, folder, name)
    _write_info(project_path, trash_name, {"original": name, "trashed_at": now, "reason": reason})
    return trash_name


def _write_info(project_path: Path, trash_name: str, record: dict[str, Any]) -> None:
    info = _info_path(project_path, trash_name)
    tmp = info.with_name(f".{info.name}.tmp")
    try:
        tmp.write_text(json.dumps(record))
        os.replace(tmp, info)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def put_back(project_path: Path, trash_name: str, name: str) -> bool:
    """Undo a move_to_trash whose purpose failed (the file replacing it could not be copied):
    True if the file has its name `name` again; False leaves it in the trash (name taken meanwhile)."""
    try:
        place_no_replace(trash_dir(project_path) / trash_name, project_path / name)
    except OSError:
        return False
    _drop_info(project_path, trash_name)
    return True


def keep(project_path: Path, trash_name: str, name: str, *, now: float, reason: str) -> None:
    """Give a trashed file (once `name`) a `reason` that never expires: it stays in the trash
    until the photographer restores or deletes it (what was to justify its removal failed)."""
    record: dict[str, Any] = {"original": name, "trashed_at": now}
    try:
        record.update(json.loads(_info_path(project_path, trash_name).read_text()))
    except (OSError, ValueError):
        pass
    try:
        _write_info(project_path, trash_name, {**record, "reason": reason})
    except OSError:
        _drop_info(project_path, trash_name)   # a file without a record never expires either (a full disk)


def entries(project_path: Path, *, folders: bool = False) -> list[dict[str, Any]]:
    """What is in the trash: name, original name, trashed_at, size, reason. Oldest first.
    Files only, unless `folders` (the library's trash holds deleted projects' folders, whose
    size is not counted: None). A symlink is a file entry, the link itself: restored and
    expired as a link, never followed. A folder without our record is not ours (a `.trash`
    the user made, say): never listed, so never expired."""
    folder = trash_dir(project_path)
    out = []
    try:
        it = os.scandir(folder)
    except FileNotFoundError:
        return []
    with it:
        for entry in it:
            is_folder = folders and entry.is_dir(follow_symlinks=False)
            is_file = entry.is_file(follow_symlinks=False) or entry.is_symlink()
            if is_ignored(entry.name) or not (is_folder or is_file):
                continue
            st = entry.stat(follow_symlinks=False)
            record: dict[str, Any] = {}
            try:
                record = json.loads(_info_path(project_path, entry.name).read_text())
            except (OSError, ValueError):
                if is_folder:
                    continue
            out.append({"name": entry.name, "original": record.get("original") or entry.name,
                        "trashed_at": float(record.get("trashed_at") or st.st_ctime),
                        "size": None if is_folder else st.st_size, "folder": is_folder,
                        "reason": record.get("reason")})
    out.sort(key=lambda e: (e["trashed_at"], e["name"]))
    return out


def expires(entry: dict[str, Any]) -> bool:
    """Whether a trash entry is deleted at its TTL: only removals the photographer asked for."""
    return entry["reason"] in EXPIRING_REASONS


def list_trash(lib: Library, project: str | int) -> list[dict[str, Any]]:
    """Trash entries of a project, each with when it expires (trash_ttl_hours after trashing;
    None: never, it was not put there by a commit or an overwriting import)."""
    row = require(lib, project)
    ttl = float(lib.config.get("maintenance.trash_ttl_hours", 24)) * 3600
    out = []
    for e in entries(lib.project_path(row["folder"])):
        out.append({**e, "trashed_at": iso(e["trashed_at"]),
                    "expires_at": iso(e["trashed_at"] + ttl) if expires(e) else None})
    return out


class Expiry(NamedTuple):
    removed: list[str]  # deleted
    kept: list[str]     # never expire: not put there by a commit or an overwriting import
    stuck: list[str]    # due, but could not be deleted (immutable, read-only mount...): tried again next time


def expire(project_path: Path, *, now: float, ttl_hours: float, folders: bool = False) -> Expiry:
    """Delete the expiring trash entries older than the TTL (and records whose file is gone).
    With `folders`, trashed folders expire too, whole (links inside are removed, never followed).
    An entry that cannot be deleted is logged and kept with its record, to be tried again next
    time; it never stops the others."""
    removed, kept, stuck = [], [], []
    for e in entries(project_path, folders=folders):
        if not expires(e):
            kept.append(e["name"])
            continue
        if e["trashed_at"] + ttl_hours * 3600 > now:
            continue
        path = trash_dir(project_path) / e["name"]
        try:
            if e["folder"]:
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not delete %s from the trash (%s); it stays until the next expiry",
                        path, exc.strerror or exc)
            stuck.append(e["name"])
            continue
        _drop_info(project_path, e["name"])
        removed.append(e["name"])
    info_dir = trash_dir(project_path) / INFO
    if info_dir.is_dir():
        for record in info_dir.iterdir():
            name = record.name[:-len(".json")] if record.name.endswith(".json") else None
            if name and not os.path.lexists(trash_dir(project_path) / name):   # a link's record stays
                record.unlink(missing_ok=True)
    return Expiry(removed, kept, stuck)


def _drop_info(project_path: Path, trash_name: str) -> None:
    try:
        os.unlink(_info_path(project_path, trash_name))
    except FileNotFoundError:
        pass


@writes  # restored files are not news for the folder watcher
def restore(lib: Library, project: str | int, names: Iterable[str] = (), *, all: bool = False,
            source: str = "cli") -> dict[str, Any]:
    """Move trashed files back under their original names and into the catalog, kept.

    `names` are trash names, original names or photo basenames, as `keep` takes them
    (case-insensitive): `DSC0003` restores DSC0003.JPG, DSC0003.ARW and their sidecars. A name
    that matches nothing is an error that changes nothing; an entry whose original name is
    taken again in the project stays in the trash and is reported. Restored photos get their
    derivatives made again (an upload_postprocess task, returned as `job`)."""
    wanted = list(names)
    if all and wanted:
        raise UsageError("give file names or --all, not both")
    if not all and not wanted:
        raise UsageError("name the files or photos to restore, or use --all")
    row = require(lib, project)
    path = ensure_layout(lib, row)
    available = entries(path)
    rules = Rules.from_config(lib.config)
    if all:
        chosen = available
    else:
        by_name: dict[str, list[dict]] = {}
        for e in available:
            basename, role = rules.classify(e["original"])
            for key in {e["name"].lower(), e["original"].lower(), *([basename.lower()] if role else [])}:
                by_name.setdefault(key, []).append(e)
        missing = [n for n in wanted if n.lower() not in by_name]
        if missing:
            raise NotFound(f"not in the trash of {row['folder']}: {', '.join(missing)}")
        seen: dict[str, dict] = {}
        for n in wanted:
            for e in by_name[n.lower()]:
                seen[e["name"]] = e
        chosen = sorted(seen.values(), key=lambda e: (e["trashed_at"], e["name"]))
    restored, conflicts = [], []
    touched: dict[int, str] = {}
    # Photo files first, so the sidecars find their photo.
    chosen.sort(key=lambda e: rules.classify(e["original"])[1] == "sidecar")
    taken: set[str] = set()
    for e in chosen:
        original = e["original"]
        if original.lower() in taken or os.path.lexists(path / original):
            conflicts.append({"name": e["name"], "original": original,
                              "reason": f"{original} exists in the project again; left in the trash"})
            continue
        link = os.path.islink(trash_dir(path) / e["name"])
        place_no_replace(trash_dir(path) / e["name"], path / original)   # a link moves as a link
        _drop_info(path, e["name"])
        taken.add(original.lower())
        restored.append({"name": e["name"], "original": original})
        basename, role = rules.classify(original)
        if link:
            continue   # back in its place; the catalog holds files, never links (scans skip them)
        if role == "sidecar":
            catalog.add_sidecar(lib, row["id"], basename, original)
        elif role is not None:
            # Sidecars already on disk join it too, as they would join an imported file.
            photo = catalog.add_file(lib, row["id"], path, original, basename=basename, role=role, rules=rules)
            touched[photo["id"]] = display_name(photo)
    fsync_dir(path)
    job = None
    if touched:
        from photojobs.engine.queue import start_task
        job = start_task(lib, "upload_postprocess", project=row["id"], items=sorted(touched.items()),
                         source=source)
    return {"project": row["folder"], "restored": restored, "conflicts": conflicts, "job": job}
