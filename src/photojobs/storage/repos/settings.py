"""The settings table: small durable flags shared by every process (e.g. lane pauses)."""

from __future__ import annotations

import sqlite3

from ..db import notify_change


def _pauses(key: str) -> bool:
    """A pause flag (`pause.<lane>`, `pause.all`, which `jobs.claim` reads): idle lanes look again."""
    return key.startswith("pause.")


def get(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def put(conn: sqlite3.Connection, key: str, value: str, now: float) -> None:
    conn.execute("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                 (key, value, now))
    notify_change(conn, work=_pauses(key))


def delete(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("DELETE FROM settings WHERE key = ?", (key,))
    notify_change(conn, work=_pauses(key))


def with_prefix(conn: sqlite3.Connection, prefix: str) -> dict[str, str]:
    """The keys that start with `prefix`, exactly: not LIKE, which ignores case on SQLite only and
    reads `_` and `%` in the prefix as wildcards."""
    return {r[0]: r[1] for r in conn.execute("SELECT key, value FROM settings WHERE substr(key, 1, ?) = ?",
                                             (len(prefix), prefix))}
