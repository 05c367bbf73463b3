"""Catalog-versus-disk reconciliation shared by manifest_check, folder_check and manifest_cleaning.

Each pass reads the project folder once (filenames.scan_folder) and the project's photos
once, then compares in memory: O(files + photos), never a stat per photo per extension.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field

from photojobs.errors import PermanentJobError
from photojobs.library import Library
from photojobs.library_guard import refuse_foreign_project
from photojobs.storage import Row, atomic
from photojobs.storage.repos import not_photos as not_photos_repo
from photojobs.storage.repos import photos as photos_repo

from . import catalog, media
from .filenames import FolderScan, Rules, scan_folder
from .fileops import idle_for, sweep_temp_files
from .projects import MARKER
from .shapes import display_name

log = logging.getLogger("photojobs.reconcile")
_BATCH = 2000  # rows per write transaction: short locks, so imports and the UI are not starved
# A copy in progress (Finder, a camera app) has its final name from the start, and at first no
# bytes or only a preallocation's zeros: such a file is judged only once left alone this long.
SETTLE_SECONDS = 600.0


class UnsafeFolder(PermanentJobError):
    """The folder looks unmounted or wiped; reconciling now could empty the catalog."""


def checked_scan(lib: Library, project: Row, *, force: bool = False,
                 allow_empty: bool = False) -> FolderScan:
    """Scan a project's folder, refusing to go on if it is missing, unmarked, or empty while
    the catalog lists files there (a drive that is not plugged in is not a deleted shoot).
    `force` lifts only the last refusal."""
    path = lib.project_path(project["folder"])
    rules = Rules.from_config(lib.config)
    scan = scan_folder(path, rules)
    # `force` vouches only for the emptiness: a missing or unmarked folder is still an unplugged drive.
    allow_empty = allow_empty or force
    conn = lib.conn()
    listed = photos_repo.count_available(conn, project["id"])
    if not scan.exists:
        raise UnsafeFolder(f"project folder {path} is missing (not mounted?); the catalog was left unchanged")
    if not scan.marked:
        raise UnsafeFolder(f"project folder {path} has no {MARKER} marker (unmounted or not "
                           "this project?); the catalog was left unchanged")
    refuse_foreign_project(lib, path)
    if listed and not allow_empty and not scan.has_photos(rules):
        raise UnsafeFolder(f"project folder {path} has no photos but the catalog lists {listed}; "
                           "refusing to mark them all missing (run with force if they were really deleted)")
    return scan


@dataclass
class ManifestResult:
    checked: int = 0
    now_missing: list[str] = field(default_factory=list)
    now_present: list[str] = field(default_factory=list)
    sidecars_changed: int = 0
    back_photos: list[int] = field(default_factory=list)  # ids of the photos a file came back to

    def to_dict(self) -> dict:
        return {"checked": self.checked, "now_missing": self.now_missing, "now_present": self.now_present,
                "sidecars_changed": self.sidecars_changed}


def manifest_check(lib: Library, project: Row, scan: FolderScan, *, missing: bool = True,
                   rows: list[tuple] | None = None) -> ManifestResult:
    """Availability := presence on disk for every photo file; sidecar lists follow the disk.
    Idempotent. A file that comes back is kept (its keep flag set again).

    With `missing=False` only what came back is recorded (files marked present, sidecars
    added): folder_check's share, which must never mark a file gone. `rows` spares a second
    read of the project's photos (photos_repo.files_for_project)."""
    conn = lib.conn()
    result = ManifestResult()
    names, sidecars_on_disk = scan.names, scan.sidecars
    changes: list[tuple[int, dict, list[str] | None]] = []
    if rows is None:
        rows = photos_repo.files_for_project(conn, project["id"])
    for photo_id, key, jpg, raw, other, jpg_av, raw_av, other_av, sidecars in rows:
        flags: dict[str, bool] = {}
        for role, name, available in (("jpg", jpg, jpg_av), ("raw", raw, raw_av), ("other", other, other_av)):
            present = name is not None and name in names
            if present != bool(available) and (present or missing):
                flags[role] = present
                (result.now_present if present else result.now_missing).append(name)
        if any(flags.values()):
            result.back_photos.append(photo_id)
        new_sidecars = None
        on_disk = sidecars_on_disk.get(key)
        if on_disk is not None or sidecars != "[]":  # the common case parses no JSON
            listed = json.loads(sidecars or "[]")
            on_disk = sorted(on_disk or []) if missing else sorted({*listed, *(on_disk or [])})
            if on_disk != listed:
                new_sidecars = on_disk
        if flags or new_sidecars is not None:
            changes.append((photo_id, flags, new_sidecars))
    result.checked = len(rows)
    for i in range(0, len(changes), _BATCH):
        with atomic(conn):
            now = lib.now()
            for photo_id, flags, new_sidecars in changes[i:i + _BATCH]:
                # One statement per photo (two when its primary file changes): availability,
                # a returning file kept again, and the sidecars, together.
                photos_repo.set_presence(conn, photo_id, now=now, present=flags, sidecars=new_sidecars)
                if new_sidecars is not None:
                    result.sidecars_changed += 1
    return result


@dataclass
class FolderResult:
    added: list[str] = field(default_factory=list)      # files that became (part of) photos
    back: list[str] = field(default_factory=list)       # catalogued files that are on disk again
    trashed: list[str] = field(default_factory=list)    # not photos, moved to .trash (foreign_files "trash")
    not_photos: dict[str, str] = field(default_factory=dict)  # name -> why: not photos, left where they are
    new_not_photos: list[str] = field(default_factory=list)   # those of them the last check did not list
    clashes: list[str] = field(default_factory=list)    # a second file for a photo's role: left alone
    swept: list[str] = field(default_factory=list)      # our own temp files that a killed process left
    photo_items: list[tuple[int, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"added": self.added, "back": self.back, "trashed": self.trashed,
                "not_photos": sorted(self.not_photos), "new_not_photos": self.new_not_photos,
                "clashes": self.clashes, "swept": self.swept}

    def worth_telling(self) -> bool:
        return bool(self.added or self.back or self.trashed or self.not_photos or self.clashes or self.swept)


def folder_check(lib: Library, project: Row, scan: FolderScan, *,
                 trash_rejects: bool = True) -> FolderResult:
    """Files the catalog does not know: accepted ones (extension and content) become photos.
    The rest are not photos: left where they are and listed (maintenance.foreign_files "keep",
    the default, or `trash_rejects` False: a catalog rebuild moves no file), or moved to
    .trash ("trash"). Catalogued files that are on disk again are available again, as
    manifest_check has it. Sidecars, hidden files and the marker are never touched; our own temp files are removed once left alone for fileops.TEMP_MAX_AGE_SECONDS."""
    from .trash import move_to_trash
    conn = lib.conn()
    rules = Rules.from_config(lib.config)
    to_trash = trash_rejects and lib.config.get("maintenance.foreign_files", "keep") == "trash"
    path = scan.path
    result = FolderResult()
    rows = photos_repo.files_for_project(conn, project["id"])
    # Coming back is noticed like going away: the watcher asks only for this check when files appear.
    back = manifest_check(lib, project, scan, missing=False, rows=rows)
    result.back = back.now_present
    known: set[str] = set()
    for _id, _key, jpg, raw, other, *_ in rows:
        known.update((jpg, raw, other))
    touched: dict[int, str] = {}
    for photo_id in back.back_photos:  # the file their derivatives come from may be another now
        touched[photo_id] = display_name(photos_repo.get(conn, photo_id))

    def not_a_photo(name: str, why: str) -> None:
        if to_trash:
            move_to_trash(path, name, now=lib.now(), reason=f"folder_check: {why}")
            result.trashed.append(name)
        else:
            result.not_photos[name] = why

    # Only the names the catalog does not know are classified or opened: O(new files).
    for name in sorted(scan.names - known):
        basename, role = rules.classify(name)
        if role == "sidecar":
            continue
        if role is None:
            not_a_photo(name, "not an accepted file type")
            continue
        file = path / name
        try:
            st = os.stat(file, follow_symlinks=False)
            with open(file, "rb") as f:
                head = f.read(media.SNIFF_BYTES)
        except OSError:
            continue  # gone since the scan, or unreadable now: look again next time
        kind = media.sniff_bytes(head)
        if not media.content_matches(file.suffix, kind):
            if not head.strip(b"\0") and idle_for(st, lib.now()) < SETTLE_SECONDS:
                continue  # nothing written yet: maybe still being copied in; look again next time
            not_a_photo(name, "content does not match its extension")
            continue
        row = photos_repo.get_by_basename(conn, project["id"], basename)
        if row is not None and row[f"{role}_available"] and row[f"{role}_name"] != name:
            result.clashes.append(name)
            continue
        photo = catalog.add_file(lib, project["id"], path, name, basename=row["basename"] if row else basename,
                                 role=role, rules=rules, kind=kind,
                                 sidecars_on_disk=scan.sidecars.get(basename.lower(), []))
        touched[photo["id"]] = display_name(photo)
        result.added.append(name)
    with atomic(conn):
        result.new_not_photos = not_photos_repo.replace(conn, project["id"], result.not_photos, lib.now())
    result.swept = sweep_temp_files(path, now=lib.now())
    result.photo_items = sorted(touched.items())
    return result


def manifest_cleaning(lib: Library, project: Row, scan: FolderScan) -> list[str]:
    """Drop photos none of whose files (JPG, RAW or other image) is on disk.

    The seed dropped rows whose JPG and RAW were both gone; a PNG/TIFF-only photo is a photo
    too, so "other" counts as a file here (else folder_check would re-add it every time).
    Returns the dropped photos' basenames."""
    names = scan.names
    gone = [photo_id for photo_id, _key, jpg, raw, other, *_ in photos_repo.files_for_project(lib.conn(), project["id"])
            if jpg not in names and raw not in names and other not in names]
    return catalog.drop_photos(lib, gone, batch=_BATCH)
