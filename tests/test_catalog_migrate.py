"""`photojobs catalog migrate --to URL`: the whole catalog, ids kept, in one transaction;
a target in use refused (issue #13)."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid

import pytest

from photo_fixtures import shoot

from photojobs.library_guard import LIBRARY_ID, catalog_path
from photojobs.storage.transfer import tables

# What moves; schema_migrations is the target's own.
TABLES = ["projects", "photos", "jobs", "job_items", "events", "settings", "schedule_runs", "not_photos"]


def dump(path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}
    finally:
        conn.close()


@pytest.fixture
def used(cli, tmp_path, library_path):
    """A library with a history: an import, culling, a commit, maintenance, a pause, a schedule
    run, a pruned event."""
    card = tmp_path / "card"
    shoot(card, "A", seed=1)
    shoot(card, "B", seed=2)
    (card / "notes.txt").write_text("not a photo")
    assert cli("upload", card, "-p", "Shoot").code == 0
    assert cli("keep", "Shoot", "A", "--no-jpg").code == 0
    assert cli("commit", "Shoot", "--yes").code == 0
    (library_path / "Shoot" / "readme.txt").write_text("left alone")
    assert cli("maintenance", "run", "--all").code == 0
    assert cli("jobs", "pause", "--lane", "normal").code == 0
    conn = sqlite3.connect(catalog_path(library_path))
    with conn:
        # A feed record of a (dead) import of this host stays behind; the newest event was pruned.
        conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('feed.999', '{}', 0)")
        conn.execute("DELETE FROM events WHERE id = (SELECT MAX(id) FROM events)")
        # What the daemon's scheduler records (no daemon runs here).
        conn.execute("INSERT INTO schedule_runs (project_id, job_type, last_run_at) "
                     "SELECT id, 'manifest_check', 1.0 FROM projects")
    conn.close()
    return library_path


def test_the_table_list_is_the_migrations(used):
    assert tables() == TABLES


def test_migrate_to_a_sqlite_file_moves_everything(cli, used, tmp_path):
    before = dump(catalog_path(used))
    target = tmp_path / "moved.db"
    r = cli("catalog", "migrate", "--to", f"sqlite://{target}", "--json")
    assert r.code == 0, r
    out = r.json()
    assert out["counts"] == {t: len(rows) - (t == "settings") for t, rows in before.items()}
    assert out["left_behind"] == {"settings": 1}
    assert all(out["counts"][t] for t in ("projects", "photos", "jobs", "job_items", "events", "settings",
                                          "schedule_runs", "not_photos"))
    after = dump(target)
    assert {t: rows for t, rows in after.items() if t != "settings"} == \
           {t: rows for t, rows in before.items() if t != "settings"}
    assert after["settings"] == [s for s in before["settings"] if s[0] != "feed.999"]
    assert dump(catalog_path(used)) == before                       # the source is left as it was

    # The moved catalog is a library's: its events go on above the pruned id, in order.
    conn = sqlite3.connect(catalog_path(used))
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()[0]
    conn.close()
    assert seq > max(r[0] for r in before["events"])
    moved_lib = tmp_path / "moved-library"
    os.rename(used, moved_lib)
    os.replace(target, catalog_path(moved_lib))
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{catalog_path(moved_lib)}{suffix}"):
            os.unlink(f"{catalog_path(moved_lib)}{suffix}")
    assert cli("jobs", "resume", "--lane", "normal", library=moved_lib).code == 0
    conn = sqlite3.connect(catalog_path(moved_lib))
    newest = conn.execute("SELECT MAX(id) FROM events").fetchone()[0]
    conn.close()
    assert newest > seq


def test_a_plain_path_and_the_human_output(cli, used, tmp_path):
    r = cli("catalog", "migrate", "--to", tmp_path / "plain.db")
    assert r.code == 0, r
    assert "moved the catalog to" in r.out and "projects" in r.out and "LIBRARY/.photojobs/catalog.db" in r.out
    assert dump(tmp_path / "plain.db")["projects"] == dump(catalog_path(used))["projects"]


def test_a_target_in_use_is_refused(cli, used, tmp_path):
    other = tmp_path / "other"
    assert cli("project", "create", "Other", library=other).code == 0
    before = dump(catalog_path(other))
    r = cli("catalog", "migrate", "--to", f"sqlite://{catalog_path(other)}")
    assert r.code == 1
    assert r.err.count("\n") == 1 and "not empty (1 projects)" in r.err and "nothing was copied" in r.err
    assert dump(catalog_path(other)) == before


def test_its_own_catalog_and_bad_targets_are_refused(cli, used, tmp_path):
    r = cli("catalog", "migrate", "--to", catalog_path(used))
    assert r.code == 1 and "own catalog" in r.err
    r = cli("catalog", "migrate", "--to", tmp_path / "nowhere" / "x.db")
    assert r.code == 1 and "does not exist" in r.err
    (tmp_path / "junk.db").write_text("not a database at all, and long enough to have a header" * 3)
    r = cli("catalog", "migrate", "--to", tmp_path / "junk.db")
    assert r.code == 1 and "not a sound catalog" in r.err
    r = cli("catalog", "migrate", "--to", "sqlite://relative.db")
    assert r.code == 1 and "absolute path" in r.err


# --- PostgreSQL: runs once the PostgreSQL backend (photojobs.storage.open_catalog) is there ----

PG_URL = os.environ.get("PHOTOJOBS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_database():
    """A fresh, empty database on the test server; dropped afterwards."""
    import photojobs.storage as storage
    if not hasattr(storage, "open_catalog"):
        pytest.skip("no PostgreSQL backend yet (photojobs.storage.open_catalog)")
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server at {PG_URL}: {str(exc).strip().splitlines()[0]}")
    name = f"photojobs_migrate_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_migrate_to_postgresql(cli, used, pg_database):
    import psycopg
    before = dump(catalog_path(used))
    r = cli("catalog", "migrate", "--to", pg_database, "--json")
    assert r.code == 0, r
    out = r.json()
    assert out["counts"]["photos"] == len(before["photos"]) and out["left_behind"] == {"settings": 1}
    assert pg_database in out["config_line"]
    with psycopg.connect(pg_database) as conn:
        for table in ("projects", "photos", "jobs", "job_items", "events"):
            ids = [r[0] for r in conn.execute(f"SELECT id FROM {table} ORDER BY id")]
            assert ids == sorted(r[0] for r in before[table])
        library_id = conn.execute("SELECT value FROM settings WHERE key = %s", (LIBRARY_ID,)).fetchone()[0]
        assert library_id == json.loads((used / ".photojobs-library").read_text())["library_id"]
        next_event = conn.execute("SELECT nextval(pg_get_serial_sequence('events', 'id'))").fetchone()[0]
        assert next_event > max(r[0] for r in before["events"]) + 1   # above the pruned one too
    r = cli("catalog", "migrate", "--to", pg_database)
    assert r.code == 1 and "not empty" in r.err
