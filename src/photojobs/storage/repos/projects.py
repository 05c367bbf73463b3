"""The projects table: a project is a folder of originals inside the library."""

from __future__ import annotations

import sqlite3


def create(conn: sqlite3.Connection, *, name: str, folder: str, now: float) -> sqlite3.Row:
    return conn.execute(
        "INSERT INTO projects (name, folder, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING *",
        (name, folder, now, now)).fetchone()


def get(conn: sqlite3.Connection, project_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()


def by_folder(conn: sqlite3.Connection, folder: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM projects WHERE folder = ?", (folder,)).fetchone()


def all_named(conn: sqlite3.Connection, name: str) -> list[sqlite3.Row]:
    """Every project called exactly `name` (names need not be unique), oldest first."""
    return conn.execute("SELECT * FROM projects WHERE name = ? ORDER BY id", (name,)).fetchall()


def list_all(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM projects ORDER BY name, id").fetchall()


def count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM projects").fetchone()[0]


def folders(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT folder FROM projects")}


def delete(conn: sqlite3.Connection, project_id: int) -> bool:
    """Forget a project; its photos, jobs (with their items) and schedule go with it (ON DELETE CASCADE)."""
    return conn.execute("DELETE FROM projects WHERE id = ?", (project_id,)).rowcount == 1
