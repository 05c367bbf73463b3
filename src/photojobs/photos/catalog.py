"""The one way a file becomes, or stops being, part of a photo in the catalog: its photo, its role, its sidecars.

Import, trash restore and folder_check all add files here, so they agree on the rule for
sidecars: a sidecar joins the photo whose basename it carries (`DSC0001.xmp`, or
`DSC0001.ARW.xmp` as darktable writes it), whichever of the two reaches the project first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from photojobs.library import Library
from photojobs.storage import Connection, Row, atomic
from photojobs.storage.repos import photos as photos_repo

from . import media
from .filenames import Rules


def add_file(lib: Library, project_id: int, path: Path, name: str, *, basename: str, role: str,
             rules: Rules, kind: str | None = None,
             sidecars_on_disk: list[str] | None = None) -> Row:
    """Record that photo file `name` (role jpg/raw/other) of photo `basename` is in the project
    folder `path`, kept, with its metadata, and attach the sidecars of it already on disk (a
    sidecar copied in before its photo, or restored with it). `sidecars_on_disk` spares the
    look when the caller has scanned the folder; `kind` (media.sniff) spares a second sniff.
    Returns the photo as it is now."""
    try:
        meta = media.read_metadata(path / name, kind=kind)
    except OSError:
        meta = None  # gone or unreadable since it was placed: manifest_check will notice
    if sidecars_on_disk is None:
        sidecars_on_disk = sidecars_beside(path, basename, name, rules)
    conn = lib.conn()
    with atomic(conn):
        photo = photos_repo.add_file(conn, project_id, basename=basename, role=role, name=name, meta=meta,
                                     now=lib.now(), keep=True)
        listed = json.loads(photo["sidecars"] or "[]")
        new = [s for s in sidecars_on_disk if s not in listed]
        if new:
            photos_repo.set_sidecars(conn, photo["id"], [*listed, *new], lib.now())
    return photo


def add_sidecar(lib: Library, project_id: int, basename: str, name: str) -> Row | None:
    """Attach sidecar `name` to photo `basename`. None when there is no such photo yet: the file
    stays in the folder, and `add_file` attaches it when a file of its photo arrives."""
    conn = lib.conn()
    with atomic(conn):
        photo = photos_repo.get_by_basename(conn, project_id, basename)
        if photo is None:
            return None
        sidecars = json.loads(photo["sidecars"] or "[]")
        if name not in sidecars:
            photos_repo.set_sidecars(conn, photo["id"], [*sidecars, name], lib.now())
    return photo


def sidecars_beside(path: Path, basename: str, name: str, rules: Rules) -> list[str]:
    """The sidecars of photo file `name` in `path`: only the exact names one can have
    (`BASENAME.xmp`, `NAME.xmp`, extension in either case), so no folder listing per file."""
    out = []
    for ext in sorted(rules.sidecars):
        for stem in dict.fromkeys((basename, name)):
            for candidate in dict.fromkeys((f"{stem}.{ext}", f"{stem}.{ext.upper()}")):
                if candidate not in out and os.path.isfile(path / candidate):
                    out.append(candidate)
    return out


def drop_files(conn: Connection, photo_id: int, *, roles: list[str], sidecars: list[str],
               now: float) -> None:
    """Record that the photo's files of `roles` and the `sidecars` left the project (to .trash):
    the photo stays, with what it has left. Joins the caller's transaction."""
    if roles:
        photos_repo.set_available(conn, photo_id, now=now, **{role: False for role in roles})
    if sidecars:
        photo = photos_repo.get(conn, photo_id)
        listed = json.loads(photo["sidecars"] or "[]") if photo is not None else []
        photos_repo.set_sidecars(conn, photo_id, [s for s in listed if s not in sidecars], now)


def drop_photos(lib: Library, photo_ids: list[int], *, batch: int = 2000) -> list[str]:
    """Drop photos none of whose files is in the project any more, in short transactions of
    `batch` rows (imports and the UI are not starved). Returns their basenames."""
    conn = lib.conn()
    dropped: list[str] = []
    for i in range(0, len(photo_ids), batch):
        with atomic(conn):
            dropped += photos_repo.delete_many(conn, photo_ids[i:i + batch])
    return dropped
