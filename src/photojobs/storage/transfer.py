"""Copying a whole catalog into another one (`photojobs catalog migrate --to URL`).

The tables are the migrations' own, in the order they create them (a parent before the rows
that name it). Rows keep their ids; each target id sequence is then moved past the source's,
so the target never hands out an id the source already used (events ids stay in order, even
above the ids a prune removed). All of it is one transaction on the target: all or nothing.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import PhotojobsError
from . import health
from .db import Catalog, atomic, read_snapshot
from .migrations import MIGRATIONS, migrate
from .backend import redacted

shown = redacted   # `url` with any password hidden, for messages

# A target holding any of these rows is a catalog in use: refused, nothing copied.
IN_USE = ("projects", "photos", "jobs")
_BATCH = 1000


class TargetNotEmpty(PhotojobsError):
    """The target catalog already holds projects, photos or jobs: copying would mix two catalogs."""


def tables() -> list[str]:
    """The catalog's tables, in the order the migrations create them."""
    return [name for m in MIGRATIONS for name in re.findall(r"CREATE TABLE (\w+)", m.sql)]


def is_postgresql(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def sqlite_target_path(url: str) -> Path:
    """The file a `sqlite:///abs/path` URL or a plain path names."""
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://"):]
        if not rest.startswith("/"):
            raise PhotojobsError(f"{url}: a SQLite URL names an absolute path (sqlite:///abs/path)")
        return Path(rest)
    return Path(url).expanduser()


def open_target(url: str, busy_timeout_ms: int):
    """The catalog `url` names, migrated to the current schema: PostgreSQL for a postgresql://
    URL, else a SQLite file (created when missing; its folder must exist)."""
    if is_postgresql(url):
        from .backend import open_catalog  # here, not at the top: backend imports this package's db
        target = open_catalog(url, None, busy_timeout_ms)
        try:
            migrate(target.conn(), None)
        except BaseException:
            target.close()
            raise
        return target
    path = sqlite_target_path(url)
    if not path.parent.is_dir():
        raise PhotojobsError(f"cannot make the catalog {path}: its folder {path.parent} does not exist")
    found = health.inspect_file(path)
    if found.state == health.DAMAGED:
        raise PhotojobsError(f"{path} is not a sound catalog ({found.reason}); nothing was copied")
    target = Catalog(path, busy_timeout_ms)
    try:
        migrate(target.conn(), path)
    except BaseException:
        target.close()
        raise
    return target


@dataclass
class Copied:
    counts: dict[str, int] = field(default_factory=dict)   # table -> rows copied, in copy order
    skipped: dict[str, int] = field(default_factory=dict)  # table -> rows left behind


def copy_catalog(source: Catalog, target, *, skip_settings: Iterable[str] = ()) -> Copied:
    """Copy every table of `source` into `target` in one transaction on the target; settings
    whose key starts with one of `skip_settings` stay behind (records of this host's processes).
    Refuses (TargetNotEmpty) a target holding projects, photos or jobs; whatever else it holds
    (e.g. a library id a first open wrote) is replaced by the source's."""
    prefixes = tuple(skip_settings)
    src, dst = source.conn(), target.conn()
    found = {t: _count(dst, t) for t in IN_USE}
    if any(found.values()):
        raise TargetNotEmpty("the target catalog is not empty (" +
                             ", ".join(f"{n} {t}" for t, n in found.items() if n) + "); nothing was copied")
    out = Copied()
    names = tables()
    with read_snapshot(src), atomic(dst):
        for t in IN_USE:   # again inside the transaction: another process may have written meanwhile
            if _count(dst, t):
                raise TargetNotEmpty(f"the target catalog is not empty ({t}); nothing was copied")
        for table in reversed(names):   # children first
            dst.execute(f"DELETE FROM {table}")
        for table in names:
            out.counts[table] = 0
            columns, rows = _rows(src, table)
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            key = columns.index("key") if table == "settings" else None
            while batch := rows.fetchmany(_BATCH):
                values = [tuple(r) for r in batch]
                if key is not None and prefixes:
                    kept = [v for v in values if not str(v[key]).startswith(prefixes)]
                    if len(kept) < len(values):
                        out.skipped[table] = out.skipped.get(table, 0) + len(values) - len(kept)
                    values = kept
                if values:
                    dst.executemany(insert, values)
                out.counts[table] += len(values)
            if "id" in columns:
                set_last_id(target, dst, table, last_id(source, src, table))
    return out


def _count(conn, table: str) -> int:
    return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def _rows(conn, table: str) -> tuple[list[str], Any]:
    cur = conn.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    columns = [d[0] for d in cur.description]
    cur.fetchall()
    order = " ORDER BY id" if "id" in columns else ""
    return columns, conn.execute(f"SELECT {', '.join(columns)} FROM {table}{order}")


# --- id sequences, per backend -----------------------------------------------------------

def last_id(catalog, conn, table: str) -> int:
    """The highest id `table` has ever handed out (above its rows' when pruned ones were higher)."""
    highest = conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
    if catalog.backend == "postgresql":
        seq = conn.execute("SELECT pg_get_serial_sequence(?, 'id')", (table,)).fetchone()[0]
        if seq is not None:
            row = conn.execute(f"SELECT last_value, is_called FROM {seq}").fetchone()
            highest = max(highest, row[0] if row[1] else row[0] - 1)
        return highest
    try:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    except sqlite3.OperationalError:   # no AUTOINCREMENT table in this catalog
        row = None
    return max(highest, row[0] if row else 0)


def set_last_id(catalog, conn, table: str, value: int) -> None:
    """Make `table` hand out ids above `value` from now on (inside the caller's transaction)."""
    if catalog.backend == "postgresql":
        # setval(seq, v, false): the next id is v itself; so v = value + 1 (and 1 for an empty table).
        conn.execute("SELECT setval(pg_get_serial_sequence(?, 'id'), ?, false)", (table, value + 1))
        return
    # SQLite: an AUTOINCREMENT table remembers its highest id in sqlite_sequence; the others
    # take MAX(id) + 1, which the copied rows already give.
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone() is None:
        return
    if conn.execute("SELECT 1 FROM sqlite_sequence WHERE name = ?", (table,)).fetchone():
        conn.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?", (value, table))
    elif _autoincrement(conn, table):
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, value))


def _autoincrement(conn, table: str) -> bool:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    return bool(row and "AUTOINCREMENT" in row[0].upper())
