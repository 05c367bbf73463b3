"""Thumbnails and previews of a project's photos: settings, where they live, which photos need them, and asking for them (derivatives_work.py makes them)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from photojobs.config import Config
from photojobs.engine.queue import enqueue
from photojobs.errors import BadPayload, ConfigError, NotFound
from photojobs.library import Library
from photojobs.storage import Connection, Row, atomic
from photojobs.storage.repos import job_items as items_repo
from photojobs.storage.repos import jobs as jobs_repo
from photojobs.storage.repos import photos as photos_repo

from .imaging import DerivativeSpec, ImagingSettings
from .projects import MARKER, require
from .shapes import display_name

THUMB_DIR, PREVIEW_DIR = ".thumb", ".preview"
EXTENSIONS = {"jpeg": "jpg", "webp": "webp"}
# Without force, photos in these states are (re)made; "generated" and "not_supported" are not.
CANDIDATE_STATUSES = (None, "pending", "failed", "missing")
# A photo in these states that no job is going to make was forgotten (a killed import) or its
# file came back: maintenance queues it. "failed" is not among them: it would fail again.
UNMADE_STATUSES = (None, "pending", "missing")
# The job types that make derivatives: a photo with an open item in one of them is taken care of.
MAKERS = ("generate_derivatives", "upload_postprocess")

# --- settings ------------------------------------------------------------------------------

def imaging_settings(config: Config) -> ImagingSettings:
    """The processing.* config as imaging settings; a combination imaging refuses is a ConfigError."""
    try:
        return ImagingSettings(
            thumbnail=DerivativeSpec(int(config.get("processing.thumbnail.maxDim")),
                                     int(config.get("processing.thumbnail.quality"))),
            preview=DerivativeSpec(int(config.get("processing.preview.maxDim")),
                                   int(config.get("processing.preview.quality"))),
            format=config.get("processing.format", "jpeg"),
            max_pixels=int(config.get("processing.max_pixels")))
    except ValueError as exc:
        raise ConfigError(f"processing settings are not usable: {exc} (the thumbnail's maxDim must not exceed "
                          "the preview's, and quality must be 1-100)") from None


def settings_signature(settings: ImagingSettings) -> dict[str, Any]:
    """What the derivatives depend on besides the source file: stored with them, compared later."""
    return {"thumbnail": {"maxDim": settings.thumbnail.max_dim, "quality": settings.thumbnail.quality},
            "preview": {"maxDim": settings.preview.max_dim, "quality": settings.preview.quality},
            "format": settings.format}


def derivative_paths(project_path: Path, basename: str, fmt: str = "jpeg") -> tuple[Path, Path]:
    """(thumbnail, preview) file of a photo: `.thumb/<basename>.jpg` and `.preview/<basename>.jpg` (or .webp)."""
    ext = EXTENSIONS[fmt]
    return project_path / THUMB_DIR / f"{basename}.{ext}", project_path / PREVIEW_DIR / f"{basename}.{ext}"


ASSET_KINDS = ("thumbnail", "preview", "image")


def asset_path(lib: Library, project: str | int, name: str, kind: str) -> Path:
    """The file that answers a request for a photo's thumbnail, preview or image (the photo named
    by basename or file name, any case): a derivative only once generated, the image is the file
    derivatives are made from. NotFound while a derivative is pending or failed, or its file is gone."""
    row = require(lib, project)
    found = photos_repo.get_many(lib.conn(), row["id"], [name])
    if not found:
        raise NotFound(f"no such photo in {row['folder']}: {name}")
    photo, path = found[0], lib.project_path(row["folder"])
    if kind == "image":
        source = source_name(photo)
        file = path / source if source else None
    else:
        status = photo[f"{kind}_status"]
        if status != "generated":
            raise NotFound(f"the {kind} of {photo['basename']} is {status or 'not made yet'}")
        thumb, preview = derivative_paths(path, photo["basename"], lib.config.get("processing.format", "jpeg"))
        file = thumb if kind == "thumbnail" else preview
    if file is None or not file.is_file():
        raise NotFound(f"the {kind} of {photo['basename']} is not on disk")
    return file


# --- which photos, from which file ----------------------------------------------------------

def source_name(photo: Row | dict) -> str | None:
    """The file derivatives are made from: the JPG when present, else the other image, else the RAW
    (the photos repository's primary_role, which its mirrored metadata columns also follow)."""
    role = photos_repo.primary_role(photo)
    return photo[f"{role}_name"] if role else None


def stored_settings(photo: Row) -> dict[str, Any] | None:
    try:
        value = json.loads(photo["derivative_settings"]) if photo["derivative_settings"] else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _is_candidate(photo: Row, signature: dict[str, Any], force: bool = False) -> bool:
    if not (photo["jpg_available"] or photo["raw_available"] or photo["other_available"]):
        return False  # nothing on disk to make them from (files dropped by a commit)
    if force:
        return True
    if photo["thumbnail_status"] in CANDIDATE_STATUSES or photo["preview_status"] in CANDIDATE_STATUSES:
        return True
    stored = stored_settings(photo)
    # Generated with other sizes, quality or format: the config changed since.
    return photo["thumbnail_status"] == "generated" and (
        stored is None or {k: stored.get(k) for k in signature} != signature)


def candidates(conn: Connection, project_id: int, settings: ImagingSettings,
               filenames: Iterable[str] | None = None, *, force: bool = False) -> list[Row]:
    """Photos to process: those named (basenames or file names, any case); else with `force` every
    photo with a file; else those whose thumbnail or preview is pending, failed, missing or unset,
    or was made with other settings."""
    if filenames:
        return photos_repo.get_many(conn, project_id, filenames)
    signature = settings_signature(settings)
    return [p for p in photos_repo.list_for_project(conn, project_id)
            if _is_candidate(p, signature, force)]


def _unknown_names(photos: list[Row], names: list[str]) -> list[str]:
    known = set()
    for p in photos:
        known.add(p["basename_key"])
        known.update(n.lower() for n in (p["jpg_name"], p["raw_name"], p["other_name"]) if n)
    return [n for n in names if n.lower() not in known]


# --- requesting ------------------------------------------------------------------------------

def request(lib: Library, project: str | int, filenames: Iterable[str] | None = None, force: bool = False,
            source: str = "cli") -> dict:
    """Queue a generate_derivatives job for a project; returns the job.

    Named photos (basenames or file names) are made whatever their state; an unknown name is an
    error and nothing is queued. Without names the job picks its candidates when it runs."""
    imaging_settings(lib.config)  # a bad config is the user's error now, not a failed job later
    row = require(lib, project)
    names = [str(n) for n in filenames or ()]
    payload: dict[str, Any] = {"force": True} if force else {}
    items = None
    if names:
        conn = lib.conn()
        photos = photos_repo.get_many(conn, row["id"], names)
        unknown = _unknown_names(photos, names)
        if unknown:
            raise NotFound(f"no such photo in {row['folder']}: {', '.join(unknown)}")
        payload["filenames"] = names
        items = [(p["id"], display_name(p)) for p in photos]
    return enqueue(lib, "generate_derivatives", project=row["id"], payload=payload, items=items, source=source)


def regenerate(lib: Library, project_id: int, photo_ids: list[int], *, source: str,
               conn: Connection | None = None) -> dict | None:
    """Mark photos' derivatives pending and queue generate_derivatives for them, in one transaction
    (pass the caller's `conn` to join its transaction). For when their source changed, e.g. a commit
    removed the JPG and the RAW stays: the next source is chosen when the job runs."""
    if not photo_ids:
        return None
    conn = conn or lib.conn()
    with atomic(conn):
        photos_repo.mark_derivatives_pending(conn, list(photo_ids), lib.now())
        rows = [r for r in (photos_repo.get(conn, i) for i in photo_ids) if r is not None]
        if not rows:
            return None
        return enqueue(lib, "generate_derivatives", project=project_id,
                       items=[(r["id"], display_name(r)) for r in rows], source=source, conn=conn)


def needing_a_job(lib: Library, project_id: int) -> dict[int, str]:
    """Catalogued photos with a file on disk whose derivatives were never made, are pending, were
    missing their source, or are recorded as made but gone from .thumb/.preview -- and that no
    queued or running job is going to make: {photo_id: name}. A killed import leaves such
    photos behind, and nothing else would ever make them."""
    conn = lib.conn()
    path = lib.project_path(require(lib, project_id)["folder"])
    if not (path / MARKER).is_file():
        return {}  # an unplugged drive: nothing can be judged, nothing could be made
    if jobs_repo.queued_without_items(conn, project_id, MAKERS):
        return {}  # that job takes every photo that needs it when it starts
    covered = items_repo.photos_in_open_jobs(conn, project_id, MAKERS)
    thumbs, previews = _file_names(path / THUMB_DIR), _file_names(path / PREVIEW_DIR)

    def made(names: set[str], basename: str) -> bool:  # in any format we write: a switch is `process`'s
        return any(f"{basename}.{ext}" in names for ext in EXTENSIONS.values())
    out = {}
    for row in photos_repo.derivative_states(conn, project_id):
        if row["id"] in covered:
            continue
        statuses = (row["thumbnail_status"], row["preview_status"])
        if any(s in UNMADE_STATUSES for s in statuses) or ("generated" in statuses and not (
                made(thumbs, row["basename"]) and made(previews, row["basename"]))):
            out[row["id"]] = display_name(row)
    return out


def queue_needed(lib: Library, project_id: int, *, source: str) -> dict | None:
    """Queue generate_derivatives for the photos `needing_a_job`, in one transaction with the
    look (two checks at once queue them once); returns the job, or None when none needs one."""
    conn = lib.conn()
    with atomic(conn):
        needed = needing_a_job(lib, project_id)
        if not needed:
            return None
        return enqueue(lib, "generate_derivatives", project=project_id, items=sorted(needed.items()),
                       source=source, conn=conn)


def _file_names(folder: Path) -> set[str]:
    try:
        with os.scandir(folder) as it:
            return {e.name for e in it}
    except OSError:
        return set()


def parse_payload(payload: dict[str, Any]) -> tuple[bool, list[str] | None]:
    """(force, filenames) of a generate_derivatives/upload_postprocess payload; naming photos forces them."""
    force = payload.get("force", False)
    if not isinstance(force, bool):
        raise BadPayload("payload 'force' must be true or false")
    names = payload.get("filenames")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise BadPayload("payload 'filenames' must be a list of file names")
    return force or bool(names), names or None


def remove_derivatives(project_path: Path, basename: str, *, keep_format: str | None = None) -> list[str]:
    """Delete a photo's thumbnail and preview, in every format we write (but `keep_format`).
    Returns what was removed, relative to the project folder."""
    removed = []
    for fmt in EXTENSIONS:
        if fmt == keep_format:
            continue
        for path in derivative_paths(project_path, basename, fmt):
            try:
                os.unlink(path)
                removed.append(str(path.relative_to(project_path)))
            except FileNotFoundError:
                pass
            except OSError:
                pass  # a stale extra file is untidy, not harmful
    return removed
