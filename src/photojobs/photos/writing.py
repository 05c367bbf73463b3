"""Markers of "photojobs is writing in this project", so the folder watcher does not take our own changes for the user's.

An import, a commit's file_removal, a restore or a folder_check runs inside `writing(lib)`
(or a function decorated with `@writes`). Every name the file primitives are about to make
appear in or vanish from a project folder (fileops.place_no_replace: copies, moves into and
out of .trash) is first appended to a marker file in the catalog folder, so the watcher --
in the daemon, possibly another process -- sees the claim before it sees the event.

The writer holds an exclusive flock on its marker for as long as it writes; the kernel drops
it when the process ends, however it ends, so a crashed writer never looks busy. A marker
outlives its writer by LINGER_SECONDS: events arrive late (a polling watcher diffs its
snapshots every few seconds), and a lingering claim still counts while the disk agrees with
it (the name is there if photojobs put it there, gone if photojobs took it away), so a file
the user deletes or adds right after an import is still reported. Whoever looks later (the
next writer, the watcher) deletes markers older than that.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import time
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from photojobs.library import CATALOG_DIR, Library

log = logging.getLogger("photojobs.writing")

MARKER_DIR = "writing"
SUFFIX = ".writing"
LINGER_SECONDS = 120.0
PLACED, REMOVED = "+", "-"
F = TypeVar("F", bound=Callable)


def marker_dir(root: Path) -> Path:
    return Path(root) / CATALOG_DIR / MARKER_DIR


def _writer_gone(fd: int) -> bool:
    """True when nobody holds the marker's lock any more (its writer finished or died)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True


def sweep(folder: Path, now: float | None = None) -> None:
    """Delete the markers (and half-made ones) of writers gone for longer than LINGER_SECONDS."""
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if now - entry.stat().st_mtime < LINGER_SECONDS:
                continue
            fd = os.open(entry.path, os.O_RDONLY)
        except OSError:
            continue
        try:
            if _writer_gone(fd):
                os.unlink(entry.path)
        except OSError:
            pass
        finally:
            os.close(fd)


class _Writer:
    """One thread's run of writing in a library; its marker is made at the first claim."""

    def __init__(self, root: Path):
        self.root = os.path.abspath(root)
        self.fd: int | None = None
        self.failed = False

    def claim(self, path: Path | str, sign: str) -> None:
        parent, name = os.path.split(os.path.abspath(path))
        above, folder = os.path.split(parent)
        if above != self.root or not name or name.startswith(".") or folder.startswith("."):
            return  # not a project's own file (.trash, .thumb, staging, temp names): nobody watches it
        if self.fd is None and not self._open():
            return
        try:
            os.write(self.fd, (json.dumps([folder, name, sign]) + "\n").encode())
        except OSError as exc:  # a claim lost costs one redundant check, never the write itself
            log.debug("cannot record %s in %s: %s", name, folder, exc)

    def _open(self) -> bool:
        if self.failed:
            return False
        folder = marker_dir(Path(self.root))
        token = uuid.uuid4().hex[:12]
        tmp = folder / f".{token}.tmp"
        try:
            folder.mkdir(exist_ok=True)
            sweep(folder)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            # Locked before it gets a name the watcher looks at, so a visible marker is never
            # taken for a dead writer's.
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.rename(tmp, folder / f"{os.getpid()}-{token}{SUFFIX}")
        except OSError as exc:
            log.debug("cannot mark our writes in %s: %s", folder, exc)
            self.failed = True
            return False
        self.fd = fd
        return True

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)   # releases the lock; the marker lingers for late events
            self.fd = None


_current: ContextVar[_Writer | None] = ContextVar("photojobs_writer", default=None)


@contextmanager
def writing(lib: Library) -> Iterator[None]:
    """Mark what the file primitives do in this library's project folders, in this thread,
    until the block ends, as photojobs' own (nested blocks share the outer marker)."""
    if _current.get() is not None:
        yield
        return
    writer = _Writer(lib.root)
    token = _current.set(writer)
    try:
        yield
    finally:
        _current.reset(token)
        writer.close()


def writes(fn: F) -> F:
    """`writing(lib)` around a function whose first argument is the library."""
    @functools.wraps(fn)
    def wrapper(lib: Library, *args, **kwargs):
        with writing(lib):
            return fn(lib, *args, **kwargs)
    return wrapper  # type: ignore[return-value]


def claim_move(src: Path | str, dst: Path | str) -> None:
    """Called by the file primitives before `src` gets the name `dst` (a no-op outside `writing`)."""
    writer = _current.get()
    if writer is not None:
        writer.claim(src, REMOVED)
        writer.claim(dst, PLACED)


# --- the watcher's side ---------------------------------------------------------------------
@dataclass
class _Marker:
    fd: int
    offset: int = 0
    partial: bytes = b""
    ended: bool = False
    claims: dict[tuple[str, str], str] = field(default_factory=dict)   # (folder, name) -> last sign
    folders: set[str] = field(default_factory=set)


class OwnWrites:
    """What photojobs' writers (in any process) have claimed, read incrementally from their markers."""

    def __init__(self, root: Path, *, linger: float = LINGER_SECONDS):
        self.root = Path(root)
        self.folder = marker_dir(root)
        self.linger = linger
        self._markers: dict[str, _Marker] = {}

    def refresh(self, now: float | None = None) -> None:
        """Read what the markers gained since the last look; forget (and delete) old ones."""
        now = time.time() if now is None else now
        try:
            names = {e.name for e in os.scandir(self.folder) if e.name.endswith(SUFFIX)}
        except OSError:
            names = set()
        for name in set(self._markers) - names:
            os.close(self._markers.pop(name).fd)
        for name in names:
            marker = self._markers.get(name)
            if marker is None:
                try:
                    marker = self._markers[name] = _Marker(os.open(self.folder / name, os.O_RDONLY))
                except OSError:
                    continue
            self._read(marker)
            if not marker.ended:
                marker.ended = _writer_gone(marker.fd)
                if marker.ended:
                    self._read(marker)   # what it wrote just before it ended
            if marker.ended and now - os.fstat(marker.fd).st_mtime >= self.linger:
                try:
                    os.unlink(self.folder / name)
                except OSError:
                    pass
                os.close(self._markers.pop(name).fd)

    def _read(self, marker: _Marker) -> None:
        while chunk := os.pread(marker.fd, 1 << 16, marker.offset):
            marker.offset += len(chunk)
            *lines, marker.partial = (marker.partial + chunk).split(b"\n")
            for line in lines:
                try:
                    folder, name, sign = json.loads(line)
                except ValueError:
                    continue
                marker.claims[(folder, name)] = sign
                marker.folders.add(folder)

    def claimed(self, folder: str, name: str) -> bool:
        """Whether a change to `folder/name` is photojobs' own: claimed by a writer still at
        work, or by one that ended recently if the disk still agrees with what it did."""
        for marker in self._markers.values():
            sign = marker.claims.get((folder, name))
            if sign is None:
                continue
            if not marker.ended:
                return True
            if os.path.lexists(self.root / folder / name) == (sign == PLACED):
                return True
            # The disk disagrees: the user changed this name since, so what follows is theirs too
            # (a file moved out and back must be noticed both times).
            del marker.claims[(folder, name)]
        return False

    def busy(self, folder: str) -> bool:
        """A writer is at work in `folder` right now."""
        return any(not m.ended and folder in m.folders for m in self._markers.values())

    def recent(self, folder: str) -> bool:
        """A writer is at work in `folder`, or was a moment ago."""
        return any(folder in m.folders for m in self._markers.values())

    def close(self) -> None:
        for marker in self._markers.values():
            os.close(marker.fd)
        self._markers.clear()
