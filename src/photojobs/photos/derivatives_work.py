"""The work of one generate_derivatives job: each item's photo decided, decoded in a worker pool, recorded with its item."""

from __future__ import annotations

import collections
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photojobs.timefmt import iso
from photojobs.errors import ConfigError, PermanentJobError, StorageFull
from photojobs.storage.repos import photos as photos_repo
from photojobs.storage import Row, Connection

from . import media
from .derivatives import (candidates, derivative_paths, imaging_settings, remove_derivatives, settings_signature,
                          source_name, stored_settings)
from .imaging import ImagingError, ImagingSettings
from .imaging_pool import DerivativePool
from .projects import MARKER, refuse_foreign_project
from .shapes import display_name

if TYPE_CHECKING:
    from photojobs.engine.context import JobContext

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


@dataclass
class _Work:
    """One item on its way: the photo, the file it is made from, and how it ended."""

    item: Row
    photo: Row | None = None
    source: str | None = None
    kind: str | None = None                   # the source's content kind, sniffed once here for the decoder
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
        ctx.add_items([(r["id"], display_name(r)) for r in rows])


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
    refuse_foreign_project(ctx.lib, folder)
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


def _prepare(ctx: "JobContext", item: Row, settings: ImagingSettings, base: dict[str, Any],
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
    work.source, work.kind = name, kind
    work.signature = {**base, "source": name, "source_size": st.st_size, "source_mtime_ns": st.st_mtime_ns}
    if not force and _up_to_date(ctx.project_path, photo, work.signature, settings.format):
        return work.end("skipped", "generated", "already up to date")
    return work


def _up_to_date(project_path: Path, photo: Row, signature: dict[str, Any], fmt: str) -> bool:
    """Both files there and made from this very file with these settings. The signature holds the
    source's name, size and mtime, which says more than "newer than the source" could: imports keep
    the camera's mtime, so a replaced file can be older than the old derivatives, and a camera whose
    clock runs ahead dates its files after any derivative made today."""
    if stored_settings(photo) != signature:
        return False
    return all(path.is_file() for path in derivative_paths(project_path, photo["basename"], fmt))


def _submit(ctx: "JobContext", pool: DerivativePool, work: _Work, settings: ImagingSettings) -> Future:
    work.attempts += 1
    thumb, preview = derivative_paths(ctx.project_path, work.photo["basename"], settings.format)
    return pool.submit(ctx.project_path / work.source, thumb, preview, settings, kind=work.kind)


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

    def write(conn: Connection) -> None:
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
