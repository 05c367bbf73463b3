"""The not_photos table: files in a project folder that are not photos, left where they are, as folder_check last saw them."""

from __future__ import annotations

import sqlite3


def replace(conn: sqlite3.Connection, project_id: int, found: dict[str, str], now: float) -> list[str]:
    """The project's not-photos := `found` (name -> why it is not a photo). Returns the names
    that were not listed before, sorted; a name seen before keeps the time it was first seen."""
    known = {r[0] for r in conn.execute("SELECT name FROM not_photos WHERE project_id = ?", (project_id,))}
    gone = known - found.keys()
    new = sorted(found.keys() - known)
    conn.executemany("DELETE FROM not_photos WHERE project_id = ? AND name = ?",
                     [(project_id, name) for name in gone])
    conn.executemany("INSERT INTO not_photos (project_id, name, reason, seen_at) VALUES (?, ?, ?, ?)",
                     [(project_id, name, found[name], now) for name in new])
    return new


def list_for_project(conn: sqlite3.Connection, project_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT name, reason, seen_at FROM not_photos WHERE project_id = ? ORDER BY name",
                        (project_id,)).fetchall()


def count(conn: sqlite3.Connection, project_id: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM not_photos WHERE project_id = ?", (project_id,)).fetchone()[0]
