"""Named, ordered schema migrations, each applied together with its record in one transaction."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import SchemaTooNew
from .db import atomic
from .health import backup_to


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str


MIGRATIONS: list[Migration] = [
    Migration("0001_catalog", """
CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    folder TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE photos (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    basename TEXT NOT NULL,
    basename_key TEXT NOT NULL,
    jpg_name TEXT,
    raw_name TEXT,
    other_name TEXT,
    sidecars TEXT NOT NULL DEFAULT '[]',
    jpg_available INTEGER NOT NULL DEFAULT 0,
    raw_available INTEGER NOT NULL DEFAULT 0,
    other_available INTEGER NOT NULL DEFAULT 0,
    keep_jpg INTEGER NOT NULL DEFAULT 0,
    keep_raw INTEGER NOT NULL DEFAULT 0,
    thumbnail_status TEXT,
    preview_status TEXT,
    derivative_settings TEXT,
    derivative_error TEXT,
    orientation INTEGER,
    date_time_original TEXT,
    width INTEGER,
    height INTEGER,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (project_id, basename_key)
);
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    project_id INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'completed', 'failed', 'canceled')),
    priority INTEGER NOT NULL DEFAULT 0,
    payload TEXT NOT NULL DEFAULT '{}',
    progress_done INTEGER NOT NULL DEFAULT 0,
    progress_failed INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    run_after REAL NOT NULL DEFAULT 0,
    worker_id TEXT,
    worker_host TEXT,
    worker_pid INTEGER,
    heartbeat_at REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error_message TEXT,
    task_id TEXT,
    task_type TEXT,
    task_step INTEGER,
    source TEXT,
    unique_key TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    updated_at REAL NOT NULL
);
CREATE INDEX jobs_claim ON jobs (priority DESC, id) WHERE status = 'queued';
CREATE INDEX jobs_project ON jobs (project_id);
CREATE INDEX jobs_running ON jobs (worker_host) WHERE status = 'running';
CREATE INDEX jobs_task ON jobs (task_id);
CREATE UNIQUE INDEX jobs_unique_queued ON jobs (unique_key)
    WHERE status = 'queued' AND unique_key IS NOT NULL;
CREATE TABLE job_items (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    photo_id INTEGER REFERENCES photos(id) ON DELETE SET NULL,
    filename TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'done', 'failed', 'skipped')),
    message TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX job_items_job ON job_items (job_id, status);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    kind TEXT NOT NULL,
    project_id INTEGER,
    job_id INTEGER,
    data TEXT NOT NULL
);
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE schedule_runs (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    job_type TEXT NOT NULL,
    last_run_at REAL NOT NULL,
    PRIMARY KEY (project_id, job_type)
);
"""),
    # Files in a project folder that are not photos and were left where they are: what
    # `photos list` and `project show` count, and how maintenance tells a new one from an old one.
    Migration("0002_not_photos", """
CREATE TABLE not_photos (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    reason TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (project_id, name)
);
"""),
]


def _applied(conn: sqlite3.Connection) -> list[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]


def pending(conn: sqlite3.Connection) -> list[Migration]:
    applied = set(_applied(conn))
    return [m for m in MIGRATIONS if m.name not in applied]


def migrate(conn: sqlite3.Connection, db_path: Path | None = None) -> list[str]:
    """Apply pending migrations; refuse a catalog written by a newer photojobs. Returns names applied."""
    applied = _applied(conn)
    known = {m.name for m in MIGRATIONS}
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise SchemaTooNew(
            f"the catalog{' ' + str(db_path) if db_path else ''} was written by a newer photojobs "
            f"(unknown migration {unknown[-1]}); upgrade photojobs to use it"
        )
    todo = [m for m in MIGRATIONS if m.name not in set(applied)]
    if todo and applied and db_path is not None:
        backup_to(conn, db_path.with_name(f"{db_path.name}.before-{todo[0].name}.bak"))
    done = []
    for migration in todo:
        with atomic(conn):
            # Re-check inside the write lock: another process may have migrated meanwhile.
            if conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (migration.name,)).fetchone():
                continue
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                         (migration.name, time.time()))
        done.append(migration.name)
    return done


def _statements(sql: str) -> list[str]:
    # executescript() would COMMIT our transaction; split on statement ends instead.
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
