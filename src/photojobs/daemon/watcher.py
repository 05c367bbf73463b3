"""Watching the library's project folders: debounced, settled file changes become folder and manifest checks.

watchdog reports what happens on disk; a ChangeDebouncer turns a burst of events in one
project folder into one report per kind once the folder has been quiet for `quiet_ms` and
every file written in the burst has kept its size and mtime for that long (so a file still
being copied in is never catalogued half-written). Reports go to `on_change(folder, kind)`,
by default queueing a unique manifest_check ("removed") or folder_check ("added").

Changes photojobs makes itself (an import, a commit, a restore: photos/writing.py) are not
reported: their names are dropped as their events arrive, and a folder photojobs is still
writing in is not reported until it has finished, so a check never sees a half-done import.

Native mode puts one recursive inotify/FSEvents watch on the library root (one OS handle,
however many projects, and new project folders come for free); events deeper than a project
folder's own files (.thumb, .preview, .trash) or inside the catalog folder are dropped at
once. Polling mode (network drives, where inotify misses remote writes) polls only the
root and each project folder, non-recursively, so derivatives are never stat'ed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from watchdog.events import (DirCreatedEvent, DirDeletedEvent, DirMovedEvent, FileCreatedEvent,
                             FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileSystemEvent,
                             FileSystemEventHandler)
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from ..errors import NotFound, PhotojobsError
from ..library import Library
from ..photos.scan import request_checks
from ..photos.writing import OwnWrites
from ..photos import projects

log = logging.getLogger("photojobs.watcher")

ADDED, REMOVED = "added", "removed"
# Names that download managers, copy tools and editors give a file while it is being written.
TEMP_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".swp", ".!qb", "~")
# Events worth waking up for; opens, closes and attribute changes of reads are not asked for at all.
EVENT_FILTER = [FileCreatedEvent, FileModifiedEvent, FileDeletedEvent, FileMovedEvent,
                DirCreatedEvent, DirDeletedEvent, DirMovedEvent]


def counts_as_change(name: str) -> bool:
    """Hidden files (our temp files, the marker, .DS_Store, rsync's temp names) and in-progress
    download names are never photos: writing them alone reports nothing."""
    return not name.startswith(".") and not name.lower().endswith(TEMP_SUFFIXES)


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


@dataclass
class _Pending:
    first_at: float
    last_at: float
    kinds: set[str] = field(default_factory=set)
    files: dict[str, tuple[int, int] | None] = field(default_factory=dict)  # path -> (size, mtime) last seen


class ChangeDebouncer:
    """Bursts of changes per folder -> one report per kind, once quiet and settled. Time is a parameter."""

    def __init__(self, quiet_seconds: float, max_hold_seconds: float = 600.0):
        self.quiet = quiet_seconds
        self.max_hold = max_hold_seconds
        self._pending: dict[str, _Pending] = {}

    def note(self, folder: str, now: float, *, kind: str | None = None, path: str | None = None,
             gone: str | None = None) -> None:
        """Record a change in `folder`. `path` is a file written (its size/mtime must settle),
        `gone` one deleted or renamed away (nothing left to settle); `kind` is what to report
        (None: the change only delays the report, e.g. a temp file)."""
        entry = self._pending.get(folder)
        if entry is None:
            entry = self._pending[folder] = _Pending(first_at=now, last_at=now)
        entry.last_at = now
        if kind is not None:
            entry.kinds.add(kind)
        if path is not None:
            entry.files[path] = _stat(path)
        if gone is not None:
            entry.files.pop(gone, None)

    def due(self, now: float, held: Callable[[str], bool] = lambda folder: False) -> list[tuple[str, list[str]]]:
        """Folders whose quiet period has passed with every written file unchanged since it was
        last seen; they are forgotten and returned with their kinds (removed before added).
        A folder whose files still change, or that `held(folder)` says to wait for, is looked at
        again one quiet period later (for at most max_hold seconds)."""
        out = []
        for folder, entry in list(self._pending.items()):
            if now - entry.last_at < self.quiet:
                continue
            unsettled = False
            for path, seen in entry.files.items():
                current = _stat(path)
                if current != seen:
                    entry.files[path] = current
                    unsettled = True
            waiting = unsettled or (bool(entry.kinds) and held(folder))
            if waiting and now - entry.first_at < self.max_hold:
                entry.last_at = now
                continue
            if waiting:
                log.warning("files in %s kept changing (or photojobs kept writing there) for %.0f s; checking the "
                            "folder anyway", folder, self.max_hold)
            del self._pending[folder]
            if entry.kinds:
                out.append((folder, sorted(entry.kinds, key=(REMOVED, ADDED).index)))
        return out

    def next_deadline(self) -> float | None:
        """When the earliest folder may be due (None: nothing pending, sleep until an event)."""
        if not self._pending:
            return None
        return min(e.last_at for e in self._pending.values()) + self.quiet

    def pending(self) -> list[str]:
        return sorted(self._pending)

    def clear(self) -> int:
        n = len(self._pending)
        self._pending.clear()
        return n


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: "ProjectWatcher"):
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self.watcher._on_event(event)
        except Exception:  # noqa: BLE001 - one odd event must not stop the observer thread
            log.exception("watcher: cannot handle %r", event)


class ProjectWatcher:
    """Watches every project folder of a library (and the root for new ones) until stopped.

    `on_change(project_folder, kind)` runs on the watcher's own thread with kind "removed"
    (files went away or were renamed) or "added" (files appeared or changed); by default it
    queues a unique manifest_check or folder_check for the project."""

    def __init__(self, lib: Library, on_change: Callable[[str, str], None] | None = None, *,
                 mode: str | None = None, quiet_ms: float | None = None, poll_seconds: float | None = None,
                 max_hold_seconds: float = 600.0, source: str = "watcher"):
        self.lib = lib
        self.root = Path(lib.root).resolve()
        self.mode = mode or lib.config.get("daemon.watch_mode", "native")
        if self.mode not in ("native", "polling"):
            raise PhotojobsError(f"watch mode must be native or polling, got {self.mode!r}")
        quiet_ms = lib.config.get("daemon.watch_quiet_ms", 1500) if quiet_ms is None else quiet_ms
        self.poll_seconds = float(lib.config.get("daemon.watch_poll_seconds", 5.0) if poll_seconds is None
                                  else poll_seconds)
        self.on_change = on_change or self.enqueue_checks
        self.source = source
        self.debouncer = ChangeDebouncer(quiet_ms / 1000, max_hold_seconds)
        self.stats = {"events": 0, "reports": 0, "errors": 0, "own": 0, "held": 0}
        self.own = OwnWrites(self.root)  # read on the observer thread and, under _cond, the watcher's
        self._cond = threading.Condition()
        self._stopping = False
        self._resync_at: float | None = None  # polling mode: when to re-read which folders are projects
        self._observer = None
        self._thread: threading.Thread | None = None
        self._handler = _Handler(self)
        self._watches: dict[str, object] = {}  # project folder -> its own watch (see _resync)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> "ProjectWatcher":
        if self.mode == "native":
            self._observer = Observer()
            self._observer.schedule(self._handler, str(self.root), recursive=True, event_filter=EVENT_FILTER)
        else:
            self._observer = PollingObserver(timeout=self.poll_seconds)
            self._observer.schedule(self._handler, str(self.root), recursive=False, event_filter=EVENT_FILTER)
        self._resync(initial=True)
        self._resync_at = self._next_periodic_resync(time.monotonic())
        self._observer.daemon = True
        self._observer.start()
        self._thread = threading.Thread(target=self._main, name="photojobs-watcher", daemon=True)
        self._thread.start()
        log.info("watching %s (%s)", self.root, self.mode)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching; changes still settling are dropped (the scheduled checks catch them)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        with self._cond:
            self.own.close()
        dropped = self.debouncer.clear()
        if dropped:
            log.info("watcher stopped with %d folder(s) still settling", dropped)

    def __enter__(self) -> "ProjectWatcher":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def idle(self) -> bool:
        """Nothing waiting to be reported (the watcher thread sleeps without a timeout)."""
        with self._cond:
            return self.debouncer.next_deadline() is None

    def pending(self) -> list[str]:
        with self._cond:
            return self.debouncer.pending()

    # --- the default reaction ---------------------------------------------------------------
    def enqueue_checks(self, folder: str, kind: str) -> None:
        """Queue a unique manifest_check for "removed", a folder_check for "added"."""
        if projects.in_folder(self.lib, folder) is None:
            log.debug("watcher: %s is not a project folder; ignored", folder)
            return
        request_checks(self.lib, folder, manifest=kind == REMOVED, folder=kind == ADDED, source=self.source)

    # --- events (observer thread) -----------------------------------------------------------
    def _on_event(self, event: FileSystemEvent) -> None:
        now = time.monotonic()
        notes: list[tuple[str, str | None, str | None, str | None]] = []  # (folder, kind, written, gone)
        root_changed = False
        src = self._split(event.src_path)
        dest = self._split(event.dest_path) if event.event_type == "moved" and event.dest_path else None
        for parts, side in ((src, "src"), (dest, "dest")):
            if not parts or parts[0].startswith("."):
                continue  # outside the library, or the catalog folder
            if len(parts) == 1:
                # A project folder itself (or a link to one) appeared, vanished or was renamed.
                root_changed = True
                if event.event_type == "deleted" or (event.event_type == "moved" and side == "src"):
                    notes.append((parts[0], REMOVED, None, None))
                continue
            if len(parts) > 2 or event.is_directory:
                continue  # .thumb/.preview/.trash contents, or a subfolder: not the project's files
            folder, name = parts
            relevant = counts_as_change(name)
            if event.event_type == "deleted" or (event.event_type == "moved" and side == "src"):
                notes.append((folder, REMOVED if relevant else None, None, os.fsdecode(event.src_path)))
            else:
                path = event.dest_path if side == "dest" else event.src_path
                notes.append((folder, ADDED if relevant else None, os.fsdecode(path), None))
        if not notes and not root_changed:
            return
        with self._cond:
            if any(kind for _, kind, _, _ in notes):
                self.own.refresh()
                own = [n for n in notes if n[1] is not None and self._own(n)]
                if own:
                    self.stats["own"] += len(own)
                    notes = [n for n in notes if n not in own]
            self.stats["events"] += 1
            for folder, kind, path, gone in notes:
                self.debouncer.note(folder, now, kind=kind, path=path, gone=gone)
            if root_changed:
                self._resync_at = now + self.debouncer.quiet
            self._cond.notify_all()

    def _own(self, note: tuple[str, str | None, str | None, str | None]) -> bool:
        folder, _kind, written, gone = note
        return self.own.claimed(folder, os.path.basename(written or gone or ""))

    def _held(self, folder: str) -> bool:
        """photojobs is still writing in `folder`: report the user's changes there once it is done."""
        self.own.refresh()
        if self.own.busy(folder):
            self.stats["held"] += 1
            return True
        return False

    def _split(self, path) -> tuple[str, ...] | None:
        if not path:
            return None
        try:
            rel = Path(os.fsdecode(path)).relative_to(self.root)
        except ValueError:
            return None
        return rel.parts or None

    # --- the watcher thread -----------------------------------------------------------------
    def _main(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    deadlines = [d for d in (self.debouncer.next_deadline(), self._resync_at) if d is not None]
                    if not deadlines:
                        self._cond.wait()  # idle: no timeout, no wake-ups until an event comes
                        continue
                    delay = min(deadlines) - time.monotonic()
                    if delay <= 0:
                        break
                    self._cond.wait(delay)
                if self._stopping:
                    return
                now = time.monotonic()
                due = self.debouncer.due(now, self._held)
                resync = self._resync_at is not None and now >= self._resync_at
                if resync:
                    self._resync_at = self._next_periodic_resync(now)
            if resync:
                self._resync()
            for folder, kinds in due:
                for kind in kinds:
                    self._report(folder, kind)

    def _next_periodic_resync(self, now: float) -> float | None:
        # Polling mode only: also notice, now and then, a project whose catalog row came after
        # its folder's event (the poller already wakes every poll_seconds, so this costs nothing).
        return now + self.poll_seconds * 12 if self.mode == "polling" else None

    def _report(self, folder: str, kind: str) -> None:
        try:
            self.on_change(folder, kind)
            self.stats["reports"] += 1
        except NotFound:
            log.debug("watcher: %s is not a project", folder)
        except Exception:  # noqa: BLE001 - a failing report (database busy, ...) must not stop watching
            self.stats["errors"] += 1
            log.exception("watcher: reporting %s in %s failed", kind, folder)

    def _resync(self, initial: bool = False) -> None:
        """One non-recursive watch per project folder that the root watch does not cover: every
        project in polling mode, and in native mode the projects whose folder is a symbolic link
        (to another drive, say), which a recursive inotify watch does not follow."""
        try:
            wanted = {f for f in projects.folders(self.lib) if (self.root / f).is_dir()
                      and (self.mode == "polling" or (self.root / f).is_symlink())}
        except Exception:  # noqa: BLE001
            log.exception("watcher: cannot list projects; keeping the current watches")
            return
        for folder in sorted(set(self._watches) - wanted):
            watch = self._watches.pop(folder)
            try:
                self._observer.unschedule(watch)
            except Exception:  # noqa: BLE001 - its emitter may have stopped when the folder vanished
                log.debug("watcher: unschedule %s", folder, exc_info=True)
        for folder in sorted(wanted - set(self._watches)):
            try:
                self._watches[folder] = self._observer.schedule(
                    self._handler, str(self.root / folder), recursive=False, event_filter=EVENT_FILTER,
                    follow_symlink=True)
            except OSError as exc:
                log.warning("watcher: cannot watch %s: %s", folder, exc)
                continue
            if not initial:
                # Files copied in before this watch existed produce no events of their own
                # (unless photojobs is what made the project and is filling it).
                with self._cond:
                    self.own.refresh()
                    if not self.own.recent(folder):
                        self.debouncer.note(folder, time.monotonic(), kind=ADDED)
                        self._cond.notify_all()
