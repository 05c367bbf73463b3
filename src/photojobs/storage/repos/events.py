"""The events table: an append-only log with a monotonic id, read by SSE streams and `jobs watch`."""

from __future__ import annotations

import json
import sqlite3
from typing import Callable

from ..db import atomic, is_postgres, notify_change

_APPEND = "INSERT INTO events (created_at, kind, project_id, job_id, data) VALUES (?, ?, ?, ?, ?) RETURNING id"


def append(conn: sqlite3.Connection, *, kind: str, data: dict, now: float, project_id: int | None = None,
           job_id: int | None = None, on_id: Callable[[int], None] | None = None) -> None:
    """Append an event in the caller's transaction (or its own). `on_id(id)` hears the new id: at
    once on SQLite; on PostgreSQL at the commit, where ids are taken in commit order (postgres.py)."""
    args = (now, kind, project_id, job_id, json.dumps(data, separators=(",", ":")))
    hear = on_id or (lambda event_id: None)
    if is_postgres(conn):
        if not conn.depth:
            with atomic(conn):
                return append(conn, kind=kind, data=data, now=now, project_id=project_id, job_id=job_id, on_id=on_id)
        notify_change(conn)
        conn.in_commit_order(_APPEND, args, hear)
        return
    hear(conn.execute(_APPEND, args).fetchone()[0])


def read_after(conn: sqlite3.Connection, after_id: int, *, limit: int = 500,
               project_id: int | None = None) -> list[sqlite3.Row]:
    if project_id is None:
        return conn.execute("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?",
                            (after_id, limit)).fetchall()
    return conn.execute("SELECT * FROM events WHERE id > ? AND project_id = ? ORDER BY id LIMIT ?",
                        (after_id, project_id, limit)).fetchall()


def last_id(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]


def prune(conn: sqlite3.Connection, *, before: float) -> int:
    return conn.execute("DELETE FROM events WHERE created_at < ?", (before,)).rowcount


def of_job(conn: sqlite3.Connection, job_id: int, kind: str) -> list[sqlite3.Row]:
    """A job's events of one kind, oldest first."""
    return conn.execute("SELECT * FROM events WHERE job_id = ? AND kind = ? ORDER BY id",
                        (job_id, kind)).fetchall()
