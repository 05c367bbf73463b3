"""The events table: an append-only log with a monotonic id, read by SSE streams and `jobs watch`."""

from __future__ import annotations

import json
import sqlite3

from ..db import atomic, is_postgres, notify_change

_APPEND = "INSERT INTO events (created_at, kind, project_id, job_id, data) VALUES (?, ?, ?, ?, ?) RETURNING id"


def append(conn: sqlite3.Connection, *, kind: str, data: dict, now: float, project_id: int | None = None,
           job_id: int | None = None) -> int:
    args = (now, kind, project_id, job_id, json.dumps(data, separators=(",", ":")))
    if is_postgres(conn):
        if not conn.depth:   # ids in commit order: only inside a write transaction (see postgres.py)
            with atomic(conn):
                return append(conn, kind=kind, data=data, now=now, project_id=project_id, job_id=job_id)
        notify_change(conn)
    return conn.execute(_APPEND, args).fetchone()[0]


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
