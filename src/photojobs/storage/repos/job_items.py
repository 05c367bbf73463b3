"""The job_items table: one row per photo (or file) a job works on, with its own status."""

from __future__ import annotations

import sqlite3
from typing import Iterable

OPEN = ("pending", "running")


def insert_many(conn: sqlite3.Connection, job_id: int, items: Iterable[tuple[int | None, str]],
                now: float) -> int:
    cur = conn.executemany(
        "INSERT INTO job_items (job_id, photo_id, filename, status, updated_at) VALUES (?, ?, ?, 'pending', ?)",
        [(job_id, photo_id, filename, now) for photo_id, filename in items])
    return cur.rowcount


def open_items(conn: sqlite3.Connection, job_id: int) -> list[sqlite3.Row]:
    """Items still to do, in order (a requeued job resumes here)."""
    return conn.execute(
        "SELECT * FROM job_items WHERE job_id = ? AND status IN ('pending', 'running') ORDER BY id",
        (job_id,)).fetchall()


def list_items(conn: sqlite3.Connection, job_id: int, *, status: str | None = None,
               limit: int = 1000) -> list[sqlite3.Row]:
    if status:
        return conn.execute("SELECT * FROM job_items WHERE job_id = ? AND status = ? ORDER BY id LIMIT ?",
                            (job_id, status, limit)).fetchall()
    return conn.execute("SELECT * FROM job_items WHERE job_id = ? ORDER BY id LIMIT ?",
                        (job_id, limit)).fetchall()


def set_status(conn: sqlite3.Connection, item_id: int, status: str, now: float,
               message: str | None = None) -> None:
    conn.execute("UPDATE job_items SET status = ?, message = ?, updated_at = ? WHERE id = ?",
                 (status, message, now, item_id))


def reopen(conn: sqlite3.Connection, job_id: int, now: float, *, include_failed: bool = False) -> int:
    """Running items (interrupted) -- and failed ones on a manual retry -- become pending again."""
    statuses = ("running", "failed") if include_failed else ("running",)
    return conn.execute(
        f"UPDATE job_items SET status = 'pending', updated_at = ? WHERE job_id = ? "
        f"AND status IN ({','.join('?' * len(statuses))})", (now, job_id, *statuses)).rowcount


def counts(conn: sqlite3.Connection, job_id: int) -> dict[str, int]:
    out = {"pending": 0, "running": 0, "done": 0, "failed": 0, "skipped": 0}
    for status, n in conn.execute("SELECT status, COUNT(*) FROM job_items WHERE job_id = ? GROUP BY status",
                                  (job_id,)):
        out[status] = n
    return out
