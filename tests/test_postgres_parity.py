"""Both catalogs answer alike where SQL dialects differ, and a daemon on PostgreSQL hears other
processes through LISTEN/NOTIFY (issue #13).

The whole user flows (upload, cull, trash, jobs, watch, maintenance, the HTTP API and its
stream) run on PostgreSQL as `@pytest.mark.both_backends` tests in their own modules; this
module holds what only shows where the dialects part: the order of names and of NULLs, case,
prefixes, and a server whose locale is not C."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from photo_fixtures import shoot
from pg_fixtures import BOTH, admin_connection, with_database, TEST_SERVER_URL
from test_daemon_fixtures import job_reached, start_daemon  # noqa: F401 - fixture
from waiting import wait_for

BACKENDS = BOTH

# Code-point (byte) order, which SQLite's BINARY collation gives: upper case before lower case,
# punctuation where its code point puts it, accented letters after z.
NAMES = ["alpha", "Zeta", "_drafts", "a-2", "a1", "Émile", "zoo", "Alpha"]


def test_projects_and_photos_are_listed_in_byte_order(cli, backend, tmp_path):
    for name in NAMES:
        assert cli("project", "create", name).code == 0
    assert [p["name"] for p in cli("project", "list", "--json").json()] == sorted(NAMES)
    card = tmp_path / "card"
    basenames = ["b", "A_1", "a-1", "a1", "Émile", "_x"]
    for n, base in enumerate(basenames):
        shoot(card, base, raw=False, seed=n)
    assert cli("upload", card, "-p", "alpha").code == 0
    listed = [p["basename"] for p in cli("photos", "list", "alpha", "--json").json()]
    assert listed == sorted(basenames, key=str.lower)


def test_a_name_with_non_ascii_capitals_is_found_in_any_case(cli, backend, tmp_path):
    """SQL's lower() folds only ASCII on SQLite and all of Unicode on PostgreSQL: names are
    matched by Python's str.lower() on both."""
    card = tmp_path / "card"
    shoot(card, "ÉTÉ_01", seed=1)                                    # ÉTÉ_01.JPG + ÉTÉ_01.DNG
    assert cli("upload", card, "-p", "P").code == 0
    keep = cli("keep", "P", "été_01.jpg", "--no-jpg", "--json")
    assert keep.code == 0, keep
    assert cli("photos", "show", "P", "ÉTÉ_01.dng", "--json").json()["keep_jpg"] is False
    assert cli("revert", "P").code == 0
    assert cli("photos", "show", "P", "été_01", "--json").json()["keep_jpg"] is True


def test_settings_by_prefix_are_exact_and_case_sensitive(lib, backend):
    """LIKE ignores case on SQLite only, and reads `_` as any character."""
    from photojobs.storage.db import atomic
    from photojobs.storage.repos import settings as settings_repo
    conn = lib.conn()
    with atomic(conn):
        for key in ("pause.lane.normal", "PAUSE.lane.priority", "pauseXlane", "a_b.1", "axb.2"):
            settings_repo.put(conn, key, "1", 0.0)
    assert settings_repo.with_prefix(conn, "pause.") == {"pause.lane.normal": "1"}
    assert settings_repo.with_prefix(conn, "a_b.") == {"a_b.1": "1"}


def test_nulls_sort_where_sqlite_puts_them(lib, backend):
    """PostgreSQL sorts NULLs last ascending (first descending), SQLite the other way round."""
    from photojobs.engine import queue
    from photojobs.storage.db import atomic
    from photojobs.storage.repos import jobs as jobs_repo
    conn = lib.conn()
    with atomic(conn):
        stepped = jobs_repo.insert(conn, project_id=None, type="test_noop", priority=50, payload="{}",
                                   max_attempts=1, now=1.0, task_id="t", task_step=1)[0]
        unstepped = jobs_repo.insert(conn, project_id=None, type="test_noop", priority=50, payload="{}",
                                     max_attempts=1, now=1.0, task_id="t", task_step=None)[0]
    assert [r["id"] for r in jobs_repo.task_jobs(conn, "t")] == [unstepped["id"], stepped["id"]]
    for job in (stepped, unstepped):
        queue.cancel(lib, job["id"])
    with atomic(conn):   # a canceled job that somehow lacks its end time goes last, not first
        conn.execute("UPDATE jobs SET finished_at = NULL WHERE id = ?", (unstepped["id"],))
    assert [r["id"] for r in jobs_repo.recent_finished(conn, limit=10)] == [unstepped["id"], stepped["id"]]


# --- a server whose locale is not C -------------------------------------------------------------

@pytest.fixture
def icu_database(backend, monkeypatch):
    """A database whose default collation is ICU's en-US (case-insensitive-looking order, punctuation
    ignored), named in PHOTOJOBS_DATABASE_URL for this test; skipped where the server lacks ICU."""
    admin = admin_connection()
    name = f"pj_icu_{uuid.uuid4().hex[:12]}"
    try:
        admin.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu "
                      f"ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
    except Exception as exc:  # noqa: BLE001 - an old server or one built without ICU
        admin.close()
        pytest.skip(f"no ICU database on the test server: {exc}")
    url = with_database(TEST_SERVER_URL, name)
    monkeypatch.setenv("PHOTOJOBS_DATABASE_URL", url)
    try:
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.postgresql_only
def test_a_server_in_another_locale_lists_names_as_sqlite_does(cli, icu_database):
    for name in NAMES:
        assert cli("project", "create", name).code == 0
    assert [p["name"] for p in cli("project", "list", "--json").json()] == sorted(NAMES)


@pytest.mark.postgresql_only
def test_a_catalog_made_before_byte_order_is_migrated_to_it(cli, icu_database):
    import psycopg
    assert cli("project", "create", "x").code == 0
    with psycopg.connect(icu_database, autocommit=True) as conn:   # as the first PostgreSQL catalogs were
        conn.execute('ALTER TABLE projects ALTER COLUMN name TYPE text COLLATE "default"')
        conn.execute("DELETE FROM schema_migrations WHERE name = '0003_text_in_byte_order'")
    for name in NAMES:
        assert cli("project", "create", name).code == 0
    assert [p["name"] for p in cli("project", "list", "--json").json()] == sorted(NAMES + ["x"])
    with psycopg.connect(icu_database) as conn:
        other = conn.execute("SELECT table_name, column_name, collation_name FROM information_schema.columns "
                             "WHERE table_schema = 'public' AND data_type = 'text' "
                             "AND collation_name IS DISTINCT FROM 'C'").fetchall()
    assert other == []


# --- writers queue as on SQLite -----------------------------------------------------------------

@pytest.mark.postgresql_only
def test_a_progress_write_and_an_event_append_in_either_order_do_not_deadlock(lib):
    """One transaction sets a job's progress, then appends its event; another appends an event,
    then sets that progress (an import feeding a job while its runner reports an item): on
    PostgreSQL the second waited for the first's row and the first for the event lock."""
    import threading
    from photojobs.engine import queue
    from photojobs.storage.db import atomic
    from photojobs.storage.repos import events as events_repo, jobs as jobs_repo
    job = queue.enqueue(lib, "test_noop")
    first, second = lib.catalog.new_connection(), lib.catalog.new_connection()
    errors: list[BaseException] = []

    def other_writer():
        try:
            with atomic(second):
                events_repo.append(second, kind="item", data={}, now=1.0, job_id=job["id"])
                jobs_repo.set_progress(second, job["id"], done=2, failed=0, total=2, now=1.0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    try:
        with atomic(first):
            jobs_repo.set_progress(first, job["id"], done=1, failed=0, total=2, now=1.0)
            thread = threading.Thread(target=other_writer)
            thread.start()
            waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted"
            assert wait_for(lambda: lib.conn().execute(waiting).fetchone()[0] > 0, timeout=30)
            events_repo.append(first, kind="job", data={}, now=1.0, job_id=job["id"])
        thread.join(30)
    finally:
        first.close()
        second.close()
    assert errors == [] and not thread.is_alive()
    assert queue.get_job(lib, job["id"])["progress_done"] == 2


@pytest.mark.postgresql_only
def test_a_worker_s_ownership_check_and_another_writer_do_not_deadlock(lib):
    """A worker's write begins with its ownership check, which locks the job's row (FOR UPDATE);
    another transaction meanwhile writes, then updates that job (an import feeding it). The
    check must queue behind the write-order lock like a write, or each waits for the other."""
    import threading
    from photojobs.engine import queue
    from photojobs.storage.db import atomic
    from photojobs.storage.repos import jobs as jobs_repo, settings as settings_repo
    job = queue.enqueue(lib, "test_noop")
    claimed = jobs_repo.claim(lib.conn(), worker_id="w1", host="h", pid=1, now=lib.now(), min_priority=0,
                              max_priority=1000, paused_key="pause.normal")
    assert claimed["id"] == job["id"]
    first, second = lib.catalog.new_connection(), lib.catalog.new_connection()
    errors: list[BaseException] = []

    def other_writer():
        try:
            with atomic(second):
                settings_repo.put(second, "test.key", "1", 1.0)
                jobs_repo.set_progress(second, job["id"], done=1, failed=0, total=2, now=1.0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    try:
        with atomic(first):
            assert jobs_repo.owned(first, job["id"], "w1") is not None
            thread = threading.Thread(target=other_writer)
            thread.start()
            waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted"
            assert wait_for(lambda: lib.conn().execute(waiting).fetchone()[0] > 0, timeout=30)
            jobs_repo.set_progress(first, job["id"], done=0, failed=0, total=2, now=1.0)
        thread.join(30)
    finally:
        first.close()
        second.close()
    assert errors == [] and not thread.is_alive()
    assert queue.get_job(lib, job["id"])["progress_done"] == 1


# --- LISTEN/NOTIFY: the daemon hears other processes at once ------------------------------------

def _events_until(stream, until, seconds: float) -> list[dict]:
    """The logged events a stream brings until `until(events)` holds, failing after `seconds`
    (keep-alives come every second, so a silent stream still returns here)."""
    got: list[dict] = []
    deadline = time.monotonic() + seconds
    for ev in stream:
        if ev is not None and ev.logged:
            got.append({**ev.data, "_id": ev.id})
            if until(got):
                return got
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"not seen within {seconds} s; got {got[-5:]}")


@pytest.mark.postgresql_only
def test_the_daemon_runs_and_streams_a_job_another_process_queued_without_waking_it(
        start_daemon, lib, cli_proc, tmp_path):
    """The daemon looks for other processes' work every 10 minutes here, and nobody calls its
    /api/wake: the job runs at once all the same, because the server notifies the daemon."""
    from photojobs.engine import pause, queue
    from photojobs.photos import projects
    projects.create_project(lib, "P")
    d = start_daemon({"pipeline": {"poll_ms": 600_000}})
    log = tmp_path / "record.log"
    with d.api().events(read_timeout=30) as stream:
        job = queue.enqueue(lib, "test_record", project="P", payload={"log": str(log)})   # no hand-off, no wake
        got = _events_until(stream, job_reached(job["id"], "completed"), seconds=60)
        assert [e["status"] for e in got if e.get("kind") == "job" and e.get("id") == job["id"]] == \
            ["queued", "running", "completed"]
        assert int(log.read_text().split()[2]) == d.pid
        pause.pause(lib, "normal")                                                         # another process's event
        _events_until(stream, lambda evs: any(e.get("kind") == "pause" for e in evs), seconds=60)
        paused = cli_proc("jobs", "enqueue", "P", "test_noop")                              # a CLI hand-off
        assert paused.code == 0, paused
    assert queue.get_job(lib, job["id"])["worker_id"] is None
    with d.http() as http:
        assert http.get("/api/health").json()["paused"]["lanes"]["normal"] is True
    pause.resume(lib, "normal")
    assert wait_for(lambda: queue.list_jobs(lib, status=["queued"]) == [], timeout=60)


@pytest.mark.postgresql_only
def test_an_idle_runner_looks_at_the_queue_only_for_changes_that_may_queue_a_job(lib, monkeypatch):
    """Every commit anywhere notifies every runner. Another machine's events, claims and settles
    cannot make a job claimable: an idle runner's slots sleep on through them (before, each one
    cost every idle slot a query); a job queued elsewhere still starts at once."""
    import threading
    from photojobs.engine import queue
    from photojobs.engine.runner import Runner
    from photojobs.storage.db import atomic
    from photojobs.storage.repos import events as events_repo, jobs as jobs_repo
    looks: list[int] = []
    real_next_due = jobs_repo.next_due
    monkeypatch.setattr(jobs_repo, "next_due", lambda *a, **k: looks.append(1) or real_next_due(*a, **k))
    runner = Runner(lib, name="idle")
    thread = threading.Thread(target=runner.run)
    thread.start()
    other = lib.catalog.new_connection()   # another machine's session
    try:
        first = queue.enqueue(lib, "test_noop")
        assert wait_for(lambda: queue.get_job(lib, first["id"])["status"] == "completed", timeout=30)
        before = len(looks)
        commits = 60
        for n in range(commits):
            with atomic(other):
                events_repo.append(other, kind="job", data={"n": n}, now=float(n))
        during = len(looks) - before
        assert during < commits / 4, f"{during} looks at the queue for {commits} commits that queued nothing"
        with atomic(other):   # a job queued by the other machine: work, heard through NOTIFY
            queued, _ = jobs_repo.insert(other, project_id=None, type="test_noop", priority=50, payload="{}",
                                         max_attempts=1, now=lib.now())
        assert wait_for(lambda: queue.get_job(lib, queued["id"])["status"] == "completed", timeout=30)
    finally:
        runner.request_stop()
        thread.join(30)
        other.close()
    assert not thread.is_alive()
