"""Configuration validation, library location, and the catalog's migrations."""

from __future__ import annotations

import sqlite3

import pytest

from photojobs.config import load_config
from photojobs.errors import ConfigError, SchemaTooNew, StorageBusy
from photojobs.library import Library
from photojobs.storage import atomic, migrations
from photojobs.storage.db import retry_when_busy
from photojobs.storage.migrations import Migration, migrate


def test_defaults_carry_the_seed_knobs():
    cfg = load_config()
    p = cfg.pipeline
    assert (p.max_parallel_jobs, p.priority_lane_slots, p.priority_threshold, p.heartbeat_ms,
            p.stale_seconds, p.max_attempts_default) == (2, 1, 90, 1000, 60, 3)
    assert p.max_parallel_items_per_job >= 1  # "auto" resolved to the usable cores
    assert cfg.get("processing.thumbnail.maxDim") == 200 and cfg.get("processing.preview.maxDim") == 2048
    assert {"jpg", "dng", "arw", "cr3", "raf"} <= set(cfg.get("uploader.accepted_files.extensions"))


def test_user_config_overlays_defaults(make_config):
    cfg = load_config(make_config({"pipeline": {"max_parallel_jobs": 4, "max_parallel_items_per_job": 3}}))
    assert cfg.pipeline.max_parallel_jobs == 4 and cfg.pipeline.normal_lane_slots == 3
    assert cfg.pipeline.max_parallel_items_per_job == 3
    assert cfg.pipeline.priority_threshold == 90


@pytest.mark.parametrize("data, message", [
    ({"pipeline": {"max_parallel_job": 2}}, "unknown key 'pipeline.max_parallel_job'"),
    ({"pipeline": {"max_parallel_jobs": "2"}}, "'pipeline.max_parallel_jobs' must be a whole number"),
    ({"pipeline": {"max_parallel_jobs": 1, "priority_lane_slots": 2}}, "'pipeline.priority_lane_slots' (2) is more"),
    ({"processing": {"format": "gif"}}, "'processing.format' must be one of jpeg, webp"),
    ({"pipeline": {"max_parallel_items_per_job": "many"}}, "a whole number or auto"),
    ({"pipeline": 3}, "'pipeline' must be an object"),
    ({"pipeline": {"max_parallel_jobs": 0}}, "must be at least 1"),
])
def test_bad_config_is_one_line_naming_key_and_file(make_config, data, message):
    path = make_config(data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in info.value.message and str(path) in info.value.message
    assert "\n" not in info.value.message


def test_invalid_json_and_missing_file(make_config, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.json")


def test_starving_lane_is_a_warning(make_config):
    cfg = load_config(make_config({"pipeline": {"max_parallel_jobs": 1, "priority_lane_slots": 1}}))
    assert any("normal lane may starve" in w for w in cfg.warnings)


def test_cli_reports_bad_config_and_warnings(cli, make_config):
    result = cli("--config", make_config({"nope": 1}), "project", "list")
    assert result.code == 2 and "unknown key 'nope'" in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    result = cli("--config", make_config({"pipeline": {"priority_lane_slots": 2}}, "w.json"), "project", "create", "W")
    assert result.code == 0 and "starve" in result.err


def test_library_location_env_and_default(cli_proc, tmp_path, monkeypatch):
    import subprocess
    import sys
    env_lib = tmp_path / "from-env"
    out = subprocess.run([sys.executable, "-m", "photojobs", "project", "create", "A"], capture_output=True,
                         text=True, env={**__import__("os").environ, "PHOTOJOBS_LIBRARY": str(env_lib)})
    assert out.returncode == 0, out.stderr
    assert (env_lib / ".photojobs" / "catalog.db").exists() and (env_lib / "A" / ".photojobs-project").exists()
    out = subprocess.run([sys.executable, "-m", "photojobs", "project", "create", "B"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    data_home = tmp_path / "home" / "data"   # XDG_DATA_HOME from the isolation fixture
    assert (data_home / "photojobs" / "library" / "B").is_dir()


def test_catalog_pragmas(lib):
    conn = lib.conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_migration_on_an_older_database_file(library_path, monkeypatch):
    lib = Library.open(library_path, load_config())
    lib.conn().execute("INSERT INTO settings (key, value, updated_at) VALUES ('x', 'kept', 0)")
    lib.close()
    shipped = [m.name for m in migrations.MIGRATIONS]
    newer = Migration("0999_test_column", "ALTER TABLE settings ADD COLUMN note TEXT DEFAULT 'n';")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, newer])
    lib = Library.open(library_path, load_config())
    conn = lib.conn()
    assert tuple(conn.execute("SELECT value, note FROM settings WHERE key = 'x'").fetchone()) == ("kept", "n")
    assert [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")] == \
        [*shipped, "0999_test_column"]
    backups = list((library_path / ".photojobs").glob("catalog.db.before-0999_test_column.bak"))
    assert len(backups) == 1
    old = sqlite3.connect(backups[0])
    assert [r[0] for r in old.execute("SELECT name FROM schema_migrations ORDER BY name")] == shipped
    old.close()
    lib.close()


def test_a_catalog_locked_past_the_busy_timeout_raises_storage_busy(open_library, library_path):
    """Another process holds the write lock: storage says so with its own typed error (the engine
    and the daemon catch that, never the driver's), and a retried write goes through once it is free."""
    lib = open_library({"pipeline": {"busy_timeout_ms": 20}})
    blocker = sqlite3.connect(library_path / ".photojobs" / "catalog.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageBusy, match="catalog.*busy"):
            with atomic(lib.conn()) as conn:
                conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('x', 'y', 0)")
        tries = []

        def write():
            tries.append(1)
            if len(tries) == 2:
                blocker.execute("ROLLBACK")   # the other writer finishes while we wait
            with atomic(lib.conn()) as conn:
                conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('x', 'y', 0)")
        retry_when_busy(write)
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
    assert len(tries) == 2
    assert lib.conn().execute("SELECT value FROM settings WHERE key = 'x'").fetchone()[0] == "y"


def test_a_command_that_meets_a_locked_catalog_says_so_in_one_line(library_path, cli, make_config):
    Library.open(library_path, load_config()).close()
    config = make_config({"pipeline": {"busy_timeout_ms": 20}})
    blocker = sqlite3.connect(library_path / ".photojobs" / "catalog.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        result = cli("--config", config, "jobs", "pause")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert result.code == 1
    assert "is busy" in result.err and "Traceback" not in result.err


def test_failing_migration_leaves_no_record_and_no_change(library_path, monkeypatch):
    Library.open(library_path, load_config()).close()
    shipped = [m.name for m in migrations.MIGRATIONS]
    broken = Migration("0999_broken", "ALTER TABLE settings ADD COLUMN half TEXT;\nTHIS IS NOT SQL;")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, broken])
    with pytest.raises(sqlite3.OperationalError):
        Library.open(library_path, load_config())
    conn = sqlite3.connect(library_path / ".photojobs" / "catalog.db")
    columns = [r[1] for r in conn.execute("PRAGMA table_info(settings)")]
    assert "half" not in columns
    assert [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")] == shipped
    conn.close()


def test_newer_schema_is_refused(library_path, cli):
    Library.open(library_path, load_config()).close()
    conn = sqlite3.connect(library_path / ".photojobs" / "catalog.db")
    conn.execute("INSERT INTO schema_migrations VALUES ('0999_from_the_future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer photojobs"):
        migrate(sqlite3.connect(library_path / ".photojobs" / "catalog.db"))
    result = cli("project", "list")
    assert result.code == 4 and "0999_from_the_future" in result.err
