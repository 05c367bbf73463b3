"""Thumbnails and previews of a project's photos: which photos, from which file, made in a worker pool, recorded per item."""

from __future__ import annotations

import collections
import json
import os
import sqlite3
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from photojobs.config import Config
from photojobs.engine.queue import enqueue
from photojobs.timefmt import iso
from photojobs.errors import BadPayload, ConfigError, NotFound, PermanentJobError, StorageFull
from photojobs.library import Library
from photojobs.storage import atomic
from photojobs.storage.repos import job_items as items_repo
from photojobs.storage.repos import jobs as jobs_repo
from photojobs.storage.repos import photos as photos_repo

from . import media
from .imaging import DerivativeSpec, ImagingError, ImagingSettings
from .imaging_pool import DerivativePool
from .projects import MARKER, require

if TYPE_CHECKING:
    from photojobs.engine.context import JobContext

THUMB_DIR, PREVIEW_DIR = ".thumb", ".preview"
EXTENSIONS = {"jpeg": "jpg", "webp": "webp"}
# Without force, photos in these states are (re)made; "generated" and "not_supported" are not.
CANDIDATE_STATUSES = (None, "pending", "failed", "missing")
# A photo in these states that no job is going to make was forgotten (a killed import) or its
# file came back: maintenance queues it. "failed" is not among them: it would fail again.
UNMADE_STATUSES = (None, "pending", "missing")
# The job types that make derivatives: a photo with an open item in one of them is taken care of.
MAKERS = ("generate_derivatives", "upload_postprocess")
# A transient failure (a decoder that died, an I/O error) gets one more try in the same job;
# a corrupt, truncated or oversized file fails at once: it would fail the same way again.
ITEM_ATTEMPTS = 2
# A decoder stuck this long on one photo is killed (a 200 MP TIFF takes a few seconds).
ITEM_TIMEOUT_SECONDS = 300.0
# Items handed to the pool ahead of the free workers, so no worker idles while this thread
# records the last result.
QUEUE_AHEAD = 2
# How often a job still being fed by an import looks for photos that landed (a commit in this
# process wakes it at once; another process's is noticed by the runner within pipeline.poll_ms).
FEED_POLL_SECONDS = 0.05


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

def source_name(photo: sqlite3.Row | dict) -> str | None:
    """The file derivatives are made from: the JPG when present, else the other image, else the RAW
    (the photos repository's primary_role, which its mirrored metadata columns also follow)."""
    role = photos_repo.primary_role(photo)
    return photo[f"{role}_name"] if role else None


def _stored_settings(photo: sqlite3.Row) -> dict[str, Any] | None:
    try:
        value = json.loads(photo["derivative_settings"]) if photo["derivative_settings"] else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _is_candidate(photo: sqlite3.Row, signature: dict[str, Any], force: bool = False) -> bool:
    if not (photo["jpg_available"] or photo["raw_available"] or photo["other_available"]):
        return False  # nothing on disk to make them from (files dropped by a commit)
    if force:
        return True
    if photo["thumbnail_status"] in CANDIDATE_STATUSES or photo["preview_status"] in CANDIDATE_STATUSES:
        return True
    stored = _stored_settings(photo)
    # Generated with other sizes, quality or format: the config changed since.
    return photo["thumbnail_status"] == "generated" and (
        stored is None or {k: stored.get(k) for k in signature} != signature)


def candidates(conn: sqlite3.Connection, project_id: int, settings: ImagingSettings,
               filenames: Iterable[str] | None = None, *, force: bool = False) -> list[sqlite3.Row]:
    """Photos to process: those named (basenames or file names, any case); else with `force` every
    photo with a file; else those whose thumbnail or preview is pending, failed, missing or unset,
    or was made with other settings."""
    if filenames:
        return photos_repo.get_many(conn, project_id, filenames)
    signature = settings_signature(settings)
    return [p for p in photos_repo.list_for_project(conn, project_id)
            if _is_candidate(p, signature, force)]


def _unknown_names(photos: list[sqlite3.Row], names: list[str]) -> list[str]:
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
        items = [(p["id"], photos_repo.display_name(p)) for p in photos]
    return enqueue(lib, "generate_derivatives", project=row["id"], payload=payload, items=items, source=source)


def regenerate(lib: Library, project_id: int, photo_ids: list[int], *, source: str,
               conn: sqlite3.Connection | None = None) -> dict | None:
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
                       items=[(r["id"], photos_repo.display_name(r)) for r in rows], source=source, conn=conn)


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
            out[row["id"]] = photos_repo.display_name(row)
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


# --- the work of one job -----------------------------------------------------------------------

@dataclass
class _Work:
    """One item on its way: the photo, the file it is made from, and how it ended."""

    item: sqlite3.Row
    photo: sqlite3.Row | None = None
    source: str | None = None
    signature: dict[str, Any] | None = None  # settings + the source's name, size and mtime
    attempts: int = 0
    settled: bool = False                     # the outcome is known (no decode, or a final one)
    status: str = "done"                      # the item's: done, failed, skipped
    message: str | None = None
    photo_status: str | None = None           # thumbnail and preview alike: one decode makes both
    record: bool = True                       # write the statuses (False: leave the photo as it is)

    def end(self, status: str, photo_status: str | None, message: str | None = None) -> "_Work":
        self.settled = True
        self.status, self.message, self.photo_status = status, message, photo_status
        return self


def create_items(ctx: "JobContext", filenames: list[str] | None, *, force: bool = False) -> None:
    """Give a job that was queued without items one per candidate photo."""
    try:
        settings = imaging_settings(ctx.config)
    except ConfigError as exc:
        raise PermanentJobError(exc.message) from None
    rows = candidates(ctx.conn, ctx.project["id"], settings, filenames, force=force)
    if rows:
        ctx.add_items([(r["id"], photos_repo.display_name(r)) for r in rows])


def process(ctx: "JobContext", *, force: bool = False) -> None:
    """Make the derivatives of the job's open items, in parallel worker processes.

    Decoding happens in the pool; this thread decides, submits, and records each photo's
    outcome together with its item, so catalog and job never disagree. Between items it
    checks for cancel and stop."""
    try:
        settings = imaging_settings(ctx.config)
    except ConfigError as exc:
        raise PermanentJobError(exc.message) from None
    folder = ctx.project_path
    if not (folder / MARKER).is_file():
        # An unplugged drive is not a shoot whose files all vanished: mark nothing missing.
        raise PermanentJobError(f"project folder {folder} is missing or has no {MARKER} marker (not mounted?); "
                                "no photo was changed")
    base_signature = settings_signature(settings)
    workers = max(1, ctx.config.pipeline.max_parallel_items_per_job)
    fed = ever_fed = ctx.fed()
    todo = collections.deque(ctx.open_items())
    last_id = todo[-1]["id"] if todo else 0
    in_flight: dict[Future, _Work] = {}
    pool: DerivativePool | None = None
    try:
        while True:
            while todo and len(in_flight) < workers * QUEUE_AHEAD:
                ctx.check()
                work = _prepare(ctx, todo.popleft(), settings, base_signature, force)
                if work.settled:
                    _record(ctx, work, settings)
                    continue
                if pool is None:
                    # Only as many processes as there is work for (all of them while photos are
                    # still arriving); none when all is up to date.
                    size = workers if fed else min(workers, len(todo) + len(in_flight) + 1)
                    pool = DerivativePool(size, item_timeout=ITEM_TIMEOUT_SECONDS)
                ctx.start_item(work.item)
                in_flight[_submit(ctx, pool, work, settings)] = work
            if fed and not todo:
                # An import is still handing us photos: take what landed since we last looked.
                # The feed is read before the items, so the last ones given before it closed are seen.
                seen = ctx.lib.waker.generation()
                fed = ctx.fed()
                arrived = ctx.open_items(after_id=last_id)
                if arrived:
                    todo.extend(arrived)
                    last_id = arrived[-1]["id"]
                    continue
                if fed and not in_flight:
                    ctx.lib.waker.wait(seen, FEED_POLL_SECONDS)
                    ctx.check()
                    continue
            if not in_flight:
                if todo:
                    continue
                break
            done, _ = wait(list(in_flight), timeout=FEED_POLL_SECONDS if fed else 1.0, return_when=FIRST_COMPLETED)
            for future in done:
                work = in_flight.pop(future)
                if _settle(ctx, work, future):
                    in_flight[_submit(ctx, pool, work, settings)] = work
                else:
                    _record(ctx, work, settings)
            ctx.check()  # also while a slow photo decodes: cancel is noticed within a second
    finally:
        if pool is not None:
            pool.close(cancel_pending=True)
    if ever_fed:
        ctx.forget_feed()


def _prepare(ctx: "JobContext", item: sqlite3.Row, settings: ImagingSettings, base: dict[str, Any],
             force: bool) -> _Work:
    """Decide what an item needs without decoding anything; the _Work comes back settled when
    no decode is needed (photo gone, file missing, unsupported, or up to date)."""
    conn = ctx.conn
    work = _Work(item)
    if item["photo_id"] is not None:
        photo = photos_repo.get(conn, item["photo_id"])
    else:  # queued by name (jobs enqueue / the API with payload filenames)
        found = photos_repo.get_many(conn, ctx.project["id"], [item["filename"]])
        photo = found[0] if found else None
    if photo is None or photo["project_id"] != ctx.project["id"]:
        work.record = False
        why = "photo no longer in the catalog" if item["photo_id"] is not None else "no such photo in the project"
        return work.end("skipped", None, why)
    work.photo = photo
    name = source_name(photo)
    if name is None:
        return work.end("skipped", "missing", "no file of this photo is in the project")
    path = ctx.project_path / name
    try:
        st = path.stat()
    except FileNotFoundError:
        return work.end("failed", "missing", f"source file is missing from disk: {name}")
    except OSError as exc:
        return work.end("failed", "failed", f"cannot read {name}: {exc.strerror}")
    try:
        kind = media.sniff(path)
    except OSError as exc:
        return work.end("failed", "failed", f"cannot read {name}: {exc.strerror}")
    if not (media.is_raw(path, kind) or kind in media.PILLOW_FORMAT):
        what = kind.upper() if kind else "an unrecognised format"
        return work.end("skipped", "not_supported", f"not supported: {name} is {what}")
    work.source = name
    work.signature = {**base, "source": name, "source_size": st.st_size, "source_mtime_ns": st.st_mtime_ns}
    if not force and _up_to_date(ctx.project_path, photo, work.signature, settings.format):
        return work.end("skipped", "generated", "already up to date")
    return work


def _up_to_date(project_path: Path, photo: sqlite3.Row, signature: dict[str, Any], fmt: str) -> bool:
    """Both files there and made from this very file with these settings. The signature holds the
    source's name, size and mtime, which says more than "newer than the source" could: imports keep
    the camera's mtime, so a replaced file can be older than the old derivatives, and a camera whose
    clock runs ahead dates its files after any derivative made today."""
    if _stored_settings(photo) != signature:
        return False
    return all(path.is_file() for path in derivative_paths(project_path, photo["basename"], fmt))


def _submit(ctx: "JobContext", pool: DerivativePool, work: _Work, settings: ImagingSettings) -> Future:
    work.attempts += 1
    thumb, preview = derivative_paths(ctx.project_path, work.photo["basename"], settings.format)
    return pool.submit(ctx.project_path / work.source, thumb, preview, settings)


def _settle(ctx: "JobContext", work: _Work, future: Future) -> bool:
    """Turn a finished future into the item's outcome; True means: try this photo once more."""
    exc = future.exception()
    if exc is None:
        work.end("done", "generated")
        return False
    if isinstance(exc, StorageFull):
        raise exc  # the whole job waits for room; this photo is not at fault and stays to do
    if not isinstance(exc, ImagingError):  # a decoder bug on this file: it is this photo's failure
        work.end("failed", "failed", f"{type(exc).__name__}: {exc}")
        return False
    if not (ctx.project_path / work.source).exists():
        work.end("failed", "missing", f"source file is missing from disk: {work.source}")
        return False
    if exc.permanent or work.attempts >= ITEM_ATTEMPTS:
        suffix = f" (after {work.attempts} attempts)" if not exc.permanent and work.attempts > 1 else ""
        work.end("failed", "failed", f"{exc}{suffix}")
        return False
    return True


def _record(ctx: "JobContext", work: _Work, settings: ImagingSettings) -> None:
    """The item's outcome and the photo's statuses in one transaction, then one item event (which
    shows the photo's statuses as they are after this write)."""
    now = ctx.now()
    photo = work.photo
    event = {"updated_at": iso(now)}
    if work.photo_status == "generated":
        # After a switch of processing.format the other format's files are stale: nothing updates them.
        remove_derivatives(ctx.project_path, photo["basename"], keep_format=settings.format)
    if not work.record or photo is None:
        ctx.finish_item(work.item, work.status, work.message, event=event)
        return
    signature = work.signature if work.photo_status == "generated" else None

    def write(conn: sqlite3.Connection) -> None:
        current = photos_repo.get(conn, photo["id"])
        if current is None:
            return
        if work.source is not None and source_name(current) != work.source:
            # The photo changed under us (say a commit removed the JPG we decoded): its new
            # state already asks for new derivatives; ours describe a file it no longer shows.
            return
        error = work.message if work.photo_status in ("failed", "missing", "not_supported") else None
        photos_repo.set_derivatives(conn, photo["id"], work.photo_status, work.photo_status, signature, now,
                                    error=error)

    ctx.finish_item(work.item, work.status, work.message, event=event, before_commit=write, photo_id=photo["id"])


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
