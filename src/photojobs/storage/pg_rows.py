"""PostgreSQL pieces that make a psycopg connection read like our sqlite3 ones: `?` and `:name`
placeholders, rows by index and by column name, and psycopg's errors made typed."""

from __future__ import annotations

import re
from functools import lru_cache

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import ExecStatus

from ..errors import CatalogUnwritable, StorageBusy, StorageFull
from .backend import redacted


class PgRow(tuple):
    """A result row like sqlite3.Row: row[0], row["name"], dict(row), row.keys()."""

    _index: dict[str, int]

    def __new__(cls, values, index: dict[str, int]):
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._index, self))!r})"


_WITH_ROWS = tuple(getattr(ExecStatus, s) for s in ("TUPLES_OK", "SINGLE_TUPLE", "TUPLES_CHUNK") if hasattr(ExecStatus, s))
_INDEXES: dict[tuple[bytes, ...], dict[str, int]] = {}   # by the result's column names


def row_factory(cursor):
    # Read from the result's column names, not cursor.description: that builds a Column object
    # per column and statement, a sixth of a busy runner's time on a wide `jobs` row.
    res = cursor.pgresult
    if res is None or not (res.nfields or res.status in _WITH_ROWS):
        return tuple
    names = tuple(res.fname(n) or b"" for n in range(res.nfields))
    index = _INDEXES.get(names)
    if index is None:
        index = {}
        for n, name in enumerate(names):
            index.setdefault(name.decode("utf-8", "replace"), n)   # like sqlite3.Row, the first of two equal names wins
        if len(_INDEXES) < 4096:   # statements are few; the cap guards against generated SQL
            _INDEXES[names] = index
    return lambda values: PgRow(values, index)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@lru_cache(maxsize=1024)
def translate(sql: str, named: bool) -> str:
    """SQLite's placeholders (`?`, or `:name` when the parameters are a mapping) in psycopg's
    style (`%s`, `%(name)s`); a literal `%` doubled. Quoted text is left alone but for `%`."""
    out, i, n = [], 0, len(sql)
    while i < n:
        c = sql[i]
        if c in ("'", '"'):
            j = sql.find(c, i + 1)
            while j != -1 and j + 1 < n and sql[j + 1] == c:   # '' inside a literal
                j = sql.find(c, j + 2)
            j = n - 1 if j == -1 else j
            out.append(sql[i:j + 1].replace("%", "%%"))
            i = j + 1
            continue
        if c == "?":
            out.append("%s")
        elif c == "%":
            out.append("%%")
        elif c == ":" and i + 1 < n and sql[i + 1] == ":":   # a PostgreSQL cast
            out.append("::")
            i += 2
            continue
        elif c == ":" and named:
            m = _NAME.match(sql, i + 1)
            if m:
                out.append(f"%({m.group()})s")
                i = m.end()
                continue
            out.append(c)
        else:
            out.append(c)
        i += 1
    return "".join(out)


def typed_error(exc: BaseException, url: str) -> BaseException | None:
    """The photojobs error for a psycopg error (None: a bug such as a constraint or syntax error,
    which stays what psycopg raised)."""
    if isinstance(exc, (pg_errors.LockNotAvailable, pg_errors.SerializationFailure,
                        pg_errors.DeadlockDetected, pg_errors.QueryCanceled)):
        return StorageBusy(f"the catalog {redacted(url)} is busy: another writer holds a lock it needs "
                           f"({_first_line(exc)})")
    if isinstance(exc, (pg_errors.DiskFull, pg_errors.InsufficientResources, pg_errors.OutOfMemory)):
        return StorageFull(f"the disk of the catalog server {redacted(url)} is full; the change was not saved")
    if isinstance(exc, (pg_errors.InsufficientPrivilege, pg_errors.ReadOnlySqlTransaction)):
        return CatalogUnwritable(f"cannot write the catalog {redacted(url)}: {_first_line(exc)}")
    # A refused or lost connection is a plain OperationalError; a bad login or database its own class.
    if type(exc) is psycopg.OperationalError or isinstance(exc, (
            pg_errors.AdminShutdown, pg_errors.CannotConnectNow, pg_errors.InvalidPassword,
            pg_errors.InvalidAuthorizationSpecification, pg_errors.InvalidCatalogName)):
        return CatalogUnwritable(f"cannot reach the catalog server {redacted(url)}: {_first_line(exc)}")
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def raise_typed(exc: BaseException, url: str) -> None:
    typed = typed_error(exc, url)
    if typed is None:
        raise exc
    raise typed from exc
