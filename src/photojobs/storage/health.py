"""The catalog file's health: a cheap look at open, a full integrity check, and online backups."""

from __future__ import annotations

import os
import sqlite3
import struct
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackupFailed, CatalogCorrupt, CatalogError
from .db import CatalogConnection
from .sqlite_errors import raise_typed

MISSING, EMPTY, DAMAGED, PRESENT = "missing", "empty", "damaged", "present"
_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class FileState:
    state: str                 # missing | empty | damaged | present
    reason: str | None = None  # why it is damaged


def inspect_file(path: Path) -> FileState:
    """What the catalog file looks like, from its size and 100-byte header alone (no SQLite,
    nothing written): fast enough for every open. Finds a zeroed, garbage or truncated file;
    damage inside an intact-looking file is for check_integrity."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            header = f.read(100)
    except FileNotFoundError:
        return FileState(MISSING)
    except IsADirectoryError:
        return FileState(DAMAGED, "it is a folder")
    if size == 0:
        return FileState(EMPTY)
    if len(header) < 100 or not header.startswith(_MAGIC):
        return FileState(DAMAGED, "not a SQLite database")
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return FileState(DAMAGED, "its header is garbled")
    change_counter, pages = struct.unpack(">II", header[24:32])
    valid_for = struct.unpack(">I", header[92:96])[0]
    # The header's page count is trusted only when SQLite says so (valid_for == counter), and
    # only with no live WAL beside it (the WAL may hold the pages a checkpoint has yet to write).
    wal = Path(f"{path}-wal")
    if pages and valid_for == change_counter and size < pages * page_size and not _nonempty(wal):
        return FileState(DAMAGED, f"truncated: {size} of the {pages * page_size} bytes its header declares")
    return FileState(PRESENT)


def _nonempty(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def open_readonly(path: Path) -> sqlite3.Connection:
    """A connection that cannot write (a check, or reading a backup); errors come out typed."""
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                               factory=CatalogConnection)
    except sqlite3.DatabaseError as exc:
        raise_typed(exc, path)
    conn.catalog_path = str(path)
    conn.row_factory = sqlite3.Row
    return conn


def check_integrity(path: Path, *, quick: bool = False) -> list[str]:
    """SQLite's own verdict on every page, index and foreign key of the file; [] when sound.
    `quick` skips the index-content cross-check (O(N) instead of O(N log N))."""
    state = inspect_file(path)
    if state.state == DAMAGED:
        return [state.reason or "damaged"]
    if state.state != PRESENT:
        return [f"the file is {state.state}"]
    try:
        conn = open_readonly(path)
    except CatalogError as exc:
        return [_cause(exc)]
    try:
        rows = [r[0] for r in conn.execute("PRAGMA quick_check" if quick else "PRAGMA integrity_check")]
        problems = [] if rows == ["ok"] else rows
        problems += [f"row {r[1]} of {r[0]} refers to a missing row of {r[2]}"
                     for r in conn.execute("PRAGMA foreign_key_check")]
        return problems
    except CatalogError as exc:
        return [_cause(exc)]
    finally:
        conn.close()


def _cause(exc: CatalogError) -> str:
    return str(exc.__cause__ or exc)


def backup_to(conn: sqlite3.Connection, target: Path) -> Path:
    """Copy the live catalog into `target` with SQLite's backup API (consistent while other
    processes write), as one self-contained file, checked, then renamed into place: a target
    that exists is always a whole, sound copy. A damaged catalog raises CatalogCorrupt."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
    except OSError as exc:
        raise BackupFailed(f"cannot write the catalog backup {target}: {exc.strerror}") from None
    try:
        dest = sqlite3.connect(str(tmp))
        try:
            try:
                conn.backup(dest)
            except sqlite3.DatabaseError as exc:
                raise_typed(exc, getattr(conn, "catalog_path", None))
            dest.execute("PRAGMA journal_mode = DELETE")   # no -wal beside the copy
            verdict = [r[0] for r in dest.execute("PRAGMA quick_check")]
        finally:
            dest.close()
        if verdict != ["ok"]:
            raise CatalogCorrupt(f"the catalog {getattr(conn, 'catalog_path', '')} is damaged "
                                 f"({'; '.join(verdict[:3])}); not backed up, nothing written to it. "
                                 "`photojobs catalog check` says more")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except sqlite3.DatabaseError as exc:   # the copy's side: a full disk, say
        raise BackupFailed(f"cannot write the catalog backup {target}: {exc}") from None
    except OSError as exc:
        raise BackupFailed(f"cannot write the catalog backup {target}: {exc.strerror}") from None
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    return target


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
