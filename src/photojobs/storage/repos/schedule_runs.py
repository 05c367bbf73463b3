"""The schedule_runs table: when the scheduler last queued each periodic job of each project."""

from __future__ import annotations

import sqlite3


def last_runs(conn: sqlite3.Connection) -> dict[tuple[int, str], float]:
    """{(project_id, job_type): last_run_at} for every recorded run."""
    return {(r[0], r[1]): r[2] for r in conn.execute(
        "SELECT project_id, job_type, last_run_at FROM schedule_runs")}


def get(conn: sqlite3.Connection, project_id: int, job_type: str) -> float | None:
    row = conn.execute("SELECT last_run_at FROM schedule_runs WHERE project_id = ? AND job_type = ?",
                       (project_id, job_type)).fetchone()
    return row[0] if row else None


def record(conn: sqlite3.Connection, project_id: int, job_type: str, at: float) -> None:
    conn.execute("INSERT INTO schedule_runs (project_id, job_type, last_run_at) VALUES (?, ?, ?) "
                 "ON CONFLICT (project_id, job_type) DO UPDATE SET last_run_at = excluded.last_run_at",
                 (project_id, job_type, at))


def claim_run(conn: sqlite3.Connection, project_id: int, job_type: str, now: float, interval: float) -> bool:
    """Record a run at `now` unless one was recorded less than `interval` seconds before it; True
    if this call recorded it. One statement: two schedulers (two hosts on PostgreSQL, where the
    upsert waits for a concurrent one's commit and then re-checks) never both get the period."""
    row = conn.execute(
        "INSERT INTO schedule_runs (project_id, job_type, last_run_at) VALUES (?, ?, ?) "
        "ON CONFLICT (project_id, job_type) DO UPDATE SET last_run_at = excluded.last_run_at "
        "WHERE schedule_runs.last_run_at + ? <= excluded.last_run_at RETURNING last_run_at",
        (project_id, job_type, now, interval)).fetchone()
    return row is not None
