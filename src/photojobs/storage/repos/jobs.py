"""The jobs table: enqueue, the atomic claim, ownership-checked state changes, recovery queries.

An ORDER BY on a column that may be NULL says where the NULLs go: SQLite sorts them first
ascending, PostgreSQL last, and both backends must list the same order."""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable

from ..db import is_postgres, is_row_id, notify_change

TERMINAL = ("completed", "failed", "canceled")

_COLUMNS = """j.*, p.folder AS project_folder"""

# A unique job is unique only while queued, so a twin may have been queued while it ran. Going
# back to the queue then drops its key (both run) instead of breaking the unique index.
_KEEP_UNIQUE_KEY = """unique_key = CASE WHEN EXISTS (
        SELECT 1 FROM jobs twin WHERE twin.unique_key = jobs.unique_key AND twin.status = 'queued'
          AND twin.id <> jobs.id) THEN NULL ELSE unique_key END"""


_INSERT = """INSERT INTO jobs (project_id, type, status, priority, payload, max_attempts, run_after,
                             task_id, task_type, task_step, source, unique_key, created_at, updated_at)
           VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (unique_key) WHERE status = 'queued' AND unique_key IS NOT NULL DO NOTHING"""


def insert(conn: sqlite3.Connection, *, project_id: int | None, type: str, priority: int, payload: str,
           max_attempts: int, now: float, run_after: float | None = None, task_id: str | None = None,
           task_type: str | None = None, task_step: int | None = None, source: str | None = None,
           unique_key: str | None = None) -> tuple[sqlite3.Row, bool]:
    """Insert a queued job. With `unique_key`, an identical queued job is returned instead.

    Returns (row, created)."""
    args = (project_id, type, priority, payload, max_attempts, run_after if run_after is not None else now,
            task_id, task_type, task_step, source, unique_key, now, now)
    if is_postgres(conn):   # the new row as `get` reads it, in the same round trip
        row = conn.execute(f"WITH j AS ({_INSERT} RETURNING *) SELECT j.*, p.folder AS project_folder "
                           "FROM j LEFT JOIN projects p ON p.id = j.project_id", args).fetchone()
        if row is not None:
            notify_change(conn, work=True, priority=priority)
            return row, True
    else:
        row = conn.execute(_INSERT + " RETURNING id", args).fetchone()
        if row is not None:
            notify_change(conn, work=True, priority=priority)
            return get(conn, row[0]), True
    existing = conn.execute(
        f"SELECT {_COLUMNS} FROM jobs j LEFT JOIN projects p ON p.id = j.project_id "
        "WHERE j.unique_key = ? AND j.status = 'queued'", (unique_key,)).fetchone()
    return existing, False


_SKIP_LOCKED = {False: "", True: " FOR UPDATE SKIP LOCKED"}


def claim(conn: sqlite3.Connection, *, min_priority: int, max_priority: int, worker_id: str,
          host: str, pid: int, now: float, paused_key: str) -> sqlite3.Row | None:
    """Atomically take the best queued job in [min_priority, max_priority] that is due.

    One statement: highest priority first, then oldest; nothing is claimed while the lane's
    pause flag (`paused_key` in settings) is set. On PostgreSQL the chosen row is locked with
    SKIP LOCKED, so concurrent claimers take different jobs instead of waiting on one another."""
    row = conn.execute(
        """UPDATE jobs SET status = 'running', worker_id = ?, worker_host = ?, worker_pid = ?,
                          heartbeat_at = ?, attempts = attempts + 1, cancel_requested = 0,
                          started_at = COALESCE(started_at, ?), updated_at = ?
           WHERE id = (SELECT id FROM jobs
                       WHERE status = 'queued' AND priority BETWEEN ? AND ? AND run_after <= ?
                         AND NOT EXISTS (SELECT 1 FROM settings WHERE key IN (?, 'pause.all'))
                       ORDER BY priority DESC, id LIMIT 1""" + _SKIP_LOCKED[is_postgres(conn)] + """)
             AND status = 'queued'
           RETURNING *""",
        (worker_id, host, pid, now, now, now, min_priority, max_priority, now, paused_key),
    ).fetchone()
    if row is not None:
        notify_change(conn)
    return row


def _changed(conn: sqlite3.Connection, row: sqlite3.Row | None) -> sqlite3.Row | None:
    """`row` (a job whose state changed, or None): runners and streams elsewhere hear of it, idle
    runners as new work when it is queued again."""
    if row is not None:
        notify_change(conn, work=row["status"] == "queued", priority=row["priority"])
    return row


def next_due(conn: sqlite3.Connection, *, min_priority: int, max_priority: int,
             paused_key: str) -> float | None:
    """When the earliest queued job of a lane becomes due (for the runner's sleep); None while
    there is none or the lane is paused (`paused_key` or pause.all set), as `claim` sees it."""
    row = conn.execute(
        """SELECT MIN(run_after) FROM jobs WHERE status = 'queued' AND priority BETWEEN ? AND ?
           AND NOT EXISTS (SELECT 1 FROM settings WHERE key IN (?, 'pause.all'))""",
        (min_priority, max_priority, paused_key)).fetchone()
    return row[0]


def queued_without_items(conn: sqlite3.Connection, project_id: int, types: Iterable[str]) -> bool:
    """Whether a queued job of one of `types` for the project has no items yet (it takes its
    own when it starts, e.g. a generate_derivatives job picking every candidate photo)."""
    types = list(types)
    return conn.execute(
        f"""SELECT 1 FROM jobs j WHERE j.project_id = ? AND j.status = 'queued'
              AND j.type IN ({','.join('?' * len(types))})
              AND NOT EXISTS (SELECT 1 FROM job_items i WHERE i.job_id = j.id) LIMIT 1""",
        (project_id, *types)).fetchone() is not None


def get(conn: sqlite3.Connection, job_id: int) -> sqlite3.Row | None:
    if not is_row_id(job_id):
        return None
    return conn.execute(
        f"SELECT {_COLUMNS} FROM jobs j LEFT JOIN projects p ON p.id = j.project_id WHERE j.id = ?",
        (job_id,)).fetchone()


def list_jobs(conn: sqlite3.Connection, *, project_id: int | None = None, statuses: Iterable[str] = (),
              types: Iterable[str] = (), task_id: str | None = None, limit: int = 50,
              offset: int = 0, newest_first: bool = True, with_failed_items: bool = False) -> list[sqlite3.Row]:
    where, args = [], []
    if project_id is not None:
        where.append("j.project_id = ?")
        args.append(project_id)
    statuses, types = list(statuses), list(types)
    if statuses:
        where.append(f"j.status IN ({','.join('?' * len(statuses))})")
        args += statuses
    if types:
        where.append(f"j.type IN ({','.join('?' * len(types))})")
        args += types
    if task_id is not None:
        where.append("j.task_id = ?")
        args.append(task_id)
    if with_failed_items:
        # A job without items (a trash expiry, say) counts what failed in progress_failed alone.
        where.append("(j.progress_failed > 0 OR "
                     "EXISTS (SELECT 1 FROM job_items i WHERE i.job_id = j.id AND i.status = 'failed'))")
    sql = f"SELECT {_COLUMNS} FROM jobs j LEFT JOIN projects p ON p.id = j.project_id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY j.id {'DESC' if newest_first else 'ASC'} LIMIT ? OFFSET ?"
    return conn.execute(sql, (*args, limit, offset)).fetchall()


def count_by_status(conn: sqlite3.Connection) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")}


def heartbeat(conn: sqlite3.Connection, worker_ids: list[str], now: float) -> int:
    if not worker_ids:
        return 0
    cur = conn.execute(
        f"UPDATE jobs SET heartbeat_at = ? WHERE status = 'running' "
        f"AND worker_id IN ({','.join('?' * len(worker_ids))})", (now, *worker_ids))
    return cur.rowcount


def finish(conn: sqlite3.Connection, job_id: int, worker_id: str, *, status: str, now: float,
           error_message: str | None = None) -> sqlite3.Row | None:
    """Move an owned running job to a terminal status. None if this worker no longer owns it."""
    return _changed(conn, conn.execute(
        """UPDATE jobs SET status = ?, error_message = ?, finished_at = ?, updated_at = ?,
                          worker_id = NULL, heartbeat_at = NULL, cancel_requested = 0
           WHERE id = ? AND worker_id = ? AND status = 'running' RETURNING *""",
        (status, error_message, now, now, job_id, worker_id)).fetchone())


def requeue(conn: sqlite3.Connection, job_id: int, *, worker_id: str | None, run_after: float,
            now: float, error_message: str | None, refund_attempt: bool = False) -> sqlite3.Row | None:
    """Put a running job back in the queue (retry, release, or recovery of a lost worker).

    With `worker_id` the change only happens if that worker still owns the job."""
    sql = """UPDATE jobs SET status = 'queued', run_after = ?, error_message = ?, updated_at = ?,
                             worker_id = NULL, worker_host = NULL, worker_pid = NULL,
                             heartbeat_at = NULL, cancel_requested = 0,
                             attempts = attempts - ?, """ + _KEEP_UNIQUE_KEY + """
             WHERE id = ? AND status = 'running'"""
    args: list[Any] = [run_after, error_message, now, 1 if refund_attempt else 0, job_id]
    if worker_id is not None:
        sql += " AND worker_id = ?"
        args.append(worker_id)
    return _changed(conn, conn.execute(sql + " RETURNING *", args).fetchone())


def fail_lost(conn: sqlite3.Connection, job_id: int, worker_id: str, *, now: float,
              error_message: str) -> sqlite3.Row | None:
    """End a job whose worker `worker_id` was lost on its last attempt (None if it no longer runs it)."""
    return _changed(conn, conn.execute(
        """UPDATE jobs SET status = 'failed', error_message = ?, finished_at = ?, updated_at = ?,
                          worker_id = NULL, heartbeat_at = NULL
           WHERE id = ? AND worker_id = ? AND status = 'running' RETURNING *""",
        (error_message, now, now, job_id, worker_id)).fetchone())


def set_progress(conn: sqlite3.Connection, job_id: int, *, done: int, failed: int, total: int,
                 now: float) -> None:
    conn.execute(
        "UPDATE jobs SET progress_done = ?, progress_failed = ?, progress_total = ?, updated_at = ? "
        "WHERE id = ?", (done, failed, total, now, job_id))


def owned(conn: sqlite3.Connection, job_id: int, worker_id: str) -> sqlite3.Row | None:
    """The running job's row (cancel flag, heartbeat, attempts...), if `worker_id` still runs it.

    The fence of every write a running job makes: called first in the writing transaction, it
    also keeps the job this worker's until that transaction ends. SQLite's write transaction
    already excludes every other writer; on PostgreSQL (READ COMMITTED) the row is locked
    (FOR UPDATE), so a takeover (recovery's requeue, which locks it too) waits for our commit,
    or, if it came first, we see it and write nothing."""
    return conn.execute(
        "SELECT * FROM jobs WHERE id = ? AND worker_id = ? AND status = 'running'"
        + (" FOR UPDATE" if is_postgres(conn) else ""), (job_id, worker_id)).fetchone()


def cancel_queued(conn: sqlite3.Connection, job_id: int, now: float) -> sqlite3.Row | None:
    return _changed(conn, conn.execute(
        "UPDATE jobs SET status = 'canceled', finished_at = ?, updated_at = ?, error_message = 'canceled by user' "
        "WHERE id = ? AND status = 'queued' RETURNING *", (now, now, job_id)).fetchone())


def request_cancel(conn: sqlite3.Connection, job_id: int, now: float) -> sqlite3.Row | None:
    return _changed(conn, conn.execute(
        "UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ? AND status = 'running' RETURNING *",
        (now, job_id)).fetchone())


def retry(conn: sqlite3.Connection, job_id: int, now: float) -> sqlite3.Row | None:
    return _changed(conn, conn.execute(
        """UPDATE jobs SET status = 'queued', attempts = 0, run_after = ?, error_message = NULL,
                          finished_at = NULL, updated_at = ?, cancel_requested = 0, """ + _KEEP_UNIQUE_KEY + """
           WHERE id = ? AND status IN ('failed', 'canceled') RETURNING *""",
        (now, now, job_id)).fetchone())


def running(conn: sqlite3.Connection, *, host: str | None = None) -> list[sqlite3.Row]:
    sql = "SELECT * FROM jobs WHERE status = 'running'"
    if host is not None:
        return conn.execute(sql + " AND worker_host = ? ORDER BY id", (host,)).fetchall()
    return conn.execute(sql + " ORDER BY id").fetchall()


def stale(conn: sqlite3.Connection, *, heartbeat_before: float) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM jobs WHERE status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < ?)",
        (heartbeat_before,)).fetchall()


def prune(conn: sqlite3.Connection, *, finished_before: float) -> int:
    return conn.execute(
        "DELETE FROM jobs WHERE status IN ('completed', 'failed', 'canceled') AND finished_at < ?",
        (finished_before,)).rowcount


def task_jobs(conn: sqlite3.Connection, task_id: str) -> list[sqlite3.Row]:
    return conn.execute(
        f"SELECT {_COLUMNS} FROM jobs j LEFT JOIN projects p ON p.id = j.project_id "
        "WHERE j.task_id = ? ORDER BY j.task_step NULLS FIRST, j.id", (task_id,)).fetchall()


def status_map(conn: sqlite3.Connection, *, project_id: int | None = None) -> dict[int, str]:
    """Every job's status by id (the seed that `jobs watch` keeps its counts from)."""
    if project_id is None:
        return {r[0]: r[1] for r in conn.execute("SELECT id, status FROM jobs")}
    return {r[0]: r[1] for r in conn.execute("SELECT id, status FROM jobs WHERE project_id = ?", (project_id,))}


def recent_failed(conn: sqlite3.Connection, *, limit: int, project_id: int | None = None) -> list[sqlite3.Row]:
    """The last jobs that ended failed, newest first."""
    sql = f"SELECT {_COLUMNS} FROM jobs j LEFT JOIN projects p ON p.id = j.project_id WHERE j.status = 'failed'"
    args: list[Any] = []
    if project_id is not None:
        sql += " AND j.project_id = ?"
        args.append(project_id)
    return conn.execute(sql + " ORDER BY j.finished_at DESC NULLS LAST, j.id DESC LIMIT ?", (*args, limit)).fetchall()


def recent_finished(conn: sqlite3.Connection, *, limit: int, project_id: int | None = None) -> list[sqlite3.Row]:
    """The last jobs that ended (completed, failed or canceled), oldest of them first."""
    sql = (f"SELECT {_COLUMNS} FROM jobs j LEFT JOIN projects p ON p.id = j.project_id "
           f"WHERE j.status IN ({','.join('?' * len(TERMINAL))})")
    args: list[Any] = [*TERMINAL]
    if project_id is not None:
        sql += " AND j.project_id = ?"
        args.append(project_id)
    rows = conn.execute(sql + " ORDER BY j.finished_at DESC NULLS LAST, j.id DESC LIMIT ?", (*args, limit)).fetchall()
    return rows[::-1]
