"""SQLite's errors made photojobs' typed ones: a busy, damaged or unwritable catalog file says so
in one line naming the file, from a statement's first step and from every later row alike."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from ..errors import CatalogCorrupt, CatalogError, CatalogUnwritable, StorageBusy


# Primary SQLite result codes that say the catalog file, not the statement, is the problem.
_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_CORRUPT, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 3, 8, 11, 14, 26
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def catalog_error(exc: BaseException, path: str | Path | None) -> CatalogError | None:
    """The typed error for a damaged or unwritable catalog behind an sqlite3 error, else None
    (busy, constraint and syntax errors stay what they are: their callers handle them)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(exc, sqlite3.DatabaseError) or code is None:
        return None
    where = f"the catalog {path}" if path else "the catalog"
    if code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return CatalogCorrupt(f"{where} is damaged ({exc}). "
                              "`photojobs catalog check` says more; `photojobs catalog rebuild` makes a new one "
                              "from the project folders")
    if code & 0xFF in (_SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_PERM):
        reason = unwritable_reason(Path(path)) if path else None
        return CatalogUnwritable(f"cannot write {where}: {reason or exc}")
    return None


def unwritable_reason(path: Path) -> str | None:
    """The operating system's reason the catalog file or its folder cannot be written (None if
    both can). The folder matters too: SQLite keeps its -wal and -shm files beside the catalog."""
    try:
        os.close(os.open(path, os.O_RDWR))  # opened, never written: nothing changes
    except FileNotFoundError:
        pass
    except OSError as exc:
        return exc.strerror
    probe = path.parent / f".photojobs-probe-{os.getpid()}-{threading.get_ident()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except FileExistsError:
        pass
    except OSError as exc:
        return f"{exc.strerror} (its folder {path.parent})"
    return None


def sqlite_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked/busy" (SQLITE_BUSY, SQLITE_LOCKED): another writer holds the lock."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def _typed(method):
    """`method` of a cursor, with a busy, damaged or unwritable catalog's sqlite3 error made typed."""
    def call(self, *args):
        try:
            return method(self, *args)
        except sqlite3.DatabaseError as exc:
            raise_typed(exc, getattr(self.connection, "catalog_path", None))
    call.__name__ = method.__name__
    return call


class CatalogCursor(sqlite3.Cursor):
    """A cursor whose busy, damaged- or unwritable-catalog errors come out typed (StorageBusy, catalog_error),
    from the statement's first step and from every later row alike."""

    execute = _typed(sqlite3.Cursor.execute)
    executemany = _typed(sqlite3.Cursor.executemany)
    __next__ = _typed(sqlite3.Cursor.__next__)
    fetchone = _typed(sqlite3.Cursor.fetchone)
    fetchmany = _typed(sqlite3.Cursor.fetchmany)
    fetchall = _typed(sqlite3.Cursor.fetchall)


def raise_typed(exc: sqlite3.DatabaseError, path) -> None:
    if sqlite_busy(exc):
        where = f"the catalog {path}" if path else "the catalog"
        raise StorageBusy(f"{where} is busy: another process holds its write lock ({exc})") from exc
    typed = catalog_error(exc, path)
    if typed is None:
        raise exc
    raise typed from exc
