"""The job_items table: one row per photo (or file) a job works on, with its own status."""

from __future__ import annotations

import sqlite3
from typing import Iterable


def insert_many(conn: sqlite3.Connection, job_id: int, items: Iterable[tuple[int | None, str]],
                now: float) -> int:
    cur = conn.executemany(
        "INSERT INTO job_items (job_id, photo_id, filename, status, updated_at) VALUES (?, ?, ?, 'pending', ?)",
        [(job_id, photo_id, filename, now) for photo_id, filename in items])
    return cur.rowcount


def open_items(conn: sqlite3.Connection, job_id: int, *, after_id: int = 0) -> list[sqlite3.Row]:
    """Items still to do, in order (a requeued job resumes here); `after_id`: only those added since."""
    return conn.execute(
        "SELECT * FROM job_items WHERE job_id = ? AND id > ? AND status IN ('pending', 'running') ORDER BY id",
        (job_id, after_id)).fetchall()


def pending_photo_ids(conn: sqlite3.Connection, job_id: int, photo_ids: Iterable[int]) -> set[int]:
    """Which of these photos have an item in the job that has not started yet."""
    ids = list(photo_ids)
    if not ids:
        return set()
    return {r[0] for r in conn.execute(
        f"SELECT photo_id FROM job_items WHERE job_id = ? AND status = 'pending' "
        f"AND photo_id IN ({','.join('?' * len(ids))})", (job_id, *ids))}


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


def reopen(conn: sqlite3.Connection, job_id: int, now: float, *, include_failed: bool = False) -> list[sqlite3.Row]:
    """Running items (interrupted) -- and failed ones on a manual retry -- become pending again.
    Returns the items reopened."""
    statuses = ("running", "failed") if include_failed else ("running",)
    return conn.execute(
        f"UPDATE job_items SET status = 'pending', message = NULL, updated_at = ? WHERE job_id = ? "
        f"AND status IN ({','.join('?' * len(statuses))}) RETURNING id, photo_id, filename, status", (now, job_id, *statuses)
    ).fetchall()


def counts(conn: sqlite3.Connection, job_id: int) -> dict[str, int]:
    out = {"pending": 0, "running": 0, "done": 0, "failed": 0, "skipped": 0}
    for status, n in conn.execute("SELECT status, COUNT(*) FROM job_items WHERE job_id = ? GROUP BY status",
                                  (job_id,)):
        out[status] = n
    return out


def recent_failed(conn: sqlite3.Connection, *, limit: int, project_id: int | None = None) -> list[sqlite3.Row]:
    """The last failed items with their job's type and project folder, newest first."""
    sql = ("SELECT i.*, j.type AS job_type, j.project_id AS project_id, p.folder AS project_folder "
           "FROM job_items i JOIN jobs j ON j.id = i.job_id LEFT JOIN projects p ON p.id = j.project_id "
           "WHERE i.status = 'failed'")
    args: list = []
    if project_id is not None:
        sql += " AND j.project_id = ?"
        args.append(project_id)
    return conn.execute(sql + " ORDER BY i.updated_at DESC, i.id DESC LIMIT ?", (*args, limit)).fetchall()


def photos_in_open_jobs(conn: sqlite3.Connection, project_id: int, types: Iterable[str]) -> set[int]:
    """Photos of a project that a queued or running job of one of `types` has still to do."""
    types = list(types)
    return {r[0] for r in conn.execute(
        f"""SELECT DISTINCT i.photo_id FROM jobs j JOIN job_items i ON i.job_id = j.id
            WHERE j.project_id = ? AND j.status IN ('queued', 'running') AND j.type IN ({','.join('?' * len(types))})
              AND i.status IN ('pending', 'running') AND i.photo_id IS NOT NULL""", (project_id, *types))}


def of_photo(conn: sqlite3.Connection, photo_id: int, *, limit: int) -> list[sqlite3.Row]:
    """The items that worked on a photo, newest first, with their job's id, type and status."""
    return conn.execute(
        """SELECT i.status, i.message, i.updated_at, j.id AS job_id, j.type AS job_type, j.status AS job_status
           FROM job_items i JOIN jobs j ON j.id = i.job_id WHERE i.photo_id = ?
           ORDER BY i.id DESC LIMIT ?""", (photo_id, limit)).fetchall()


def failed_ids(conn: sqlite3.Connection, *, project_id: int | None = None) -> set[int]:
    """Every failed item (of one project's jobs): what `jobs watch` counts as failed items."""
    sql = "SELECT i.id FROM job_items i JOIN jobs j ON j.id = i.job_id WHERE i.status = 'failed'"
    if project_id is None:
        return {r[0] for r in conn.execute(sql)}
    return {r[0] for r in conn.execute(sql + " AND j.project_id = ?", (project_id,))}


def current(conn: sqlite3.Connection, job_id: int) -> sqlite3.Row | None:
    """The item a job is working on now (the last one marked running), if any."""
    return conn.execute("SELECT * FROM job_items WHERE job_id = ? AND status = 'running' ORDER BY id DESC LIMIT 1",
                        (job_id,)).fetchone()
