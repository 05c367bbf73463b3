"""The PostgreSQL catalog's own promises: event ids in commit order under concurrent writers,
change notifications across sessions, and typed errors naming the server without a password."""

from __future__ import annotations

import random
import threading

import pytest

from photojobs.errors import CatalogUnwritable, StorageBusy
from photojobs.storage import atomic, open_catalog
from photojobs.storage.db import data_version
from photojobs.storage.migrations import migrate
from photojobs.storage.repos import events as events_repo
from photojobs.storage.repos import jobs as jobs_repo
from photojobs.storage.repos import settings as settings_repo


@pytest.fixture
def catalog(pg_database, tmp_path):
    from pg_fixtures import empty_tables
    cat = open_catalog(pg_database, tmp_path / "unused.db", 5_000)
    migrate(cat.conn())
    empty_tables(pg_database)
    yield cat
    cat.close()


def test_a_tailing_reader_sees_every_event_id_once_and_in_order_under_concurrent_writers(catalog):
    writers, per_writer = 6, 60
    written: list[int] = []
    lock = threading.Lock()
    done = threading.Event()

    def write(seed: int) -> None:
        rng = random.Random(seed)
        conn = catalog.new_connection()
        try:
            for n in range(per_writer):
                with atomic(conn):
                    ids = []
                    # Transactions of varying length: some events, some idle time before the commit.
                    for _ in range(rng.randint(1, 3)):
                        events_repo.append(conn, kind="test", data={"w": seed, "n": n}, now=0.0, on_id=ids.append)
                        if rng.random() < 0.3:
                            threading.Event().wait(rng.random() / 200)
                with lock:
                    written.extend(ids)
        finally:
            conn.close()

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(writers)]
    seen: list[int] = []

    def read() -> None:
        conn = catalog.new_connection()
        try:
            last = 0
            while True:
                finished = done.is_set()   # read once more after the writers are done
                rows = events_repo.read_after(conn, last, limit=50)
                for row in rows:
                    seen.append(row["id"])
                    last = row["id"]
                if finished and not rows:
                    return
        finally:
            conn.close()

    reader = threading.Thread(target=read)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    assert seen == sorted(set(seen)), "the reader saw an id twice or out of order"
    assert sorted(seen) == sorted(written), "the reader skipped an event (an id that committed late)"


def test_a_change_committed_by_one_session_is_heard_by_another(catalog):
    heard = threading.Event()
    stop = catalog.listen(heard.set)
    watcher = catalog.new_connection()
    try:
        before = data_version(watcher)
        writer = catalog.new_connection()
        with atomic(writer):
            settings_repo.put(writer, "pause.all", "1", 0.0)
        writer.close()
        assert heard.wait(30), "the listener never heard the commit"
        for _ in range(3000):   # the notification reaches the watcher's socket soon after the commit
            if data_version(watcher) != before:
                break
            threading.Event().wait(0.01)
        assert data_version(watcher) != before
    finally:
        stop()
        watcher.close()


def test_a_rolled_back_change_notifies_no_one(catalog):
    watcher = catalog.new_connection()
    before = data_version(watcher)
    writer = catalog.new_connection()
    with pytest.raises(RuntimeError):
        with atomic(writer):
            settings_repo.put(writer, "pause.all", "1", 0.0)
            raise RuntimeError("undo")
    # A committed marker change afterwards: the watcher hears exactly that one.
    with atomic(writer):
        settings_repo.put(writer, "pause.normal", "1", 0.0)
    writer.close()
    for _ in range(3000):
        if data_version(watcher) != before:
            break
        threading.Event().wait(0.01)
    assert data_version(watcher) == before + 1
    assert settings_repo.get(watcher, "pause.all") is None
    watcher.close()


def test_claims_in_concurrent_sessions_never_take_the_same_job(catalog):
    conn = catalog.conn()
    with atomic(conn):
        for _ in range(40):
            jobs_repo.insert(conn, project_id=None, type="t", priority=50, payload="{}", max_attempts=1, now=0.0)
    taken: list[int] = []
    lock = threading.Lock()

    def claim(n: int) -> None:
        c = catalog.new_connection()
        try:
            while True:
                with atomic(c):
                    row = jobs_repo.claim(c, min_priority=0, max_priority=100, worker_id=f"w{n}", host="h",
                                          pid=n, now=1.0, paused_key="pause.normal")
                if row is None:
                    return
                with lock:
                    taken.append(row["id"])
        finally:
            c.close()

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == list(range(1, 41))


def test_a_held_row_lock_past_the_busy_timeout_is_storage_busy(catalog, pg_database, tmp_path):
    conn = catalog.conn()
    settings_repo.put(conn, "k", "v", 0.0)
    quick = open_catalog(pg_database, tmp_path / "unused.db", 200)
    holder = catalog.new_connection()
    try:
        with atomic(holder):
            holder.execute("SELECT * FROM settings WHERE key = 'k' FOR UPDATE")
            with pytest.raises(StorageBusy, match="busy"):
                with atomic(quick.conn()):
                    settings_repo.put(quick.conn(), "k", "w", 0.0)
    finally:
        holder.close()
        quick.close()


def test_an_unreachable_server_is_one_clear_error_without_the_password(tmp_path):
    cat = open_catalog("postgresql://someone:s3cret@127.0.0.1:1/nowhere", tmp_path / "x.db", 1000)
    with pytest.raises(CatalogUnwritable) as err:
        cat.conn()
    assert "s3cret" not in str(err.value) and "127.0.0.1:1" in str(err.value)
    assert "\n" not in str(err.value)


def _advisory_locks(conn) -> int:
    return conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND pid = pg_backend_pid()").fetchone()[0]


def test_writers_run_side_by_side_and_only_event_appends_queue_at_commit(catalog):
    """Writers do not queue behind each other: no advisory lock while a transaction runs, and a
    second session writes and commits meanwhile. An append's id is taken at the commit, under
    the write-order lock, and an append undone with its savepoint is never written."""
    conn, other = catalog.new_connection(), catalog.new_connection()
    heard: list[int] = []
    try:
        with atomic(conn):
            with pytest.raises(RuntimeError):
                with atomic(conn):
                    events_repo.append(conn, kind="job", data={"n": 1}, now=1.0, on_id=heard.append)
                    raise RuntimeError("undo the inner block")
            events_repo.append(conn, kind="job", data={"n": 2}, now=2.0, on_id=heard.append)
            assert _advisory_locks(conn) == 0 and heard == []   # held back to the commit
            other.execute("SET lock_timeout = 200")
            with atomic(other):                                 # not StorageBusy: nobody queues
                events_repo.append(other, kind="job", data={"n": 3}, now=3.0, on_id=heard.append)
            assert len(heard) == 1
        assert _advisory_locks(conn) == 0 and len(heard) == 2 and heard[0] < heard[1]
        assert [e["data"] for e in events_repo.read_after(conn, 0)] == ['{"n":3}', '{"n":2}']
        assert [e["id"] for e in events_repo.read_after(conn, 0)] == heard
    finally:
        conn.close()
        other.close()


@pytest.mark.parametrize("setting", ["off", "on"])
def test_sessions_run_with_the_configured_synchronous_commit(pg_database, tmp_path, setting):
    cat = open_catalog(pg_database, tmp_path / "unused.db", 5_000, synchronous_commit=setting)
    try:
        assert cat.conn().execute("SHOW synchronous_commit").fetchone()[0] == setting
        assert cat.new_connection().execute("SHOW synchronous_commit").fetchone()[0] == setting
    finally:
        cat.close()


def test_synchronous_commit_is_off_unless_configured_and_only_off_or_on(tmp_path):
    import json
    from photojobs.config import load_config
    from photojobs.errors import ConfigError
    assert load_config().get("catalog.synchronous_commit") == "off"
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"catalog": {"synchronous_commit": "local"}}))
    with pytest.raises(ConfigError, match="catalog.synchronous_commit' must be one of off, on"):
        load_config(bad)


def test_opening_an_up_to_date_catalog_writes_nothing_so_it_never_waits_on_writers(catalog):
    """Every command opens the catalog and checks its schema: while another machine's writer
    holds the write order, that check must not queue behind it."""
    writer, opener = catalog.new_connection(), catalog.new_connection()
    try:
        opener.execute("SET lock_timeout = 200")
        with atomic(writer):
            assert migrate(opener) == []   # a write transaction here would be StorageBusy
    finally:
        writer.close()
        opener.close()


def test_a_transaction_s_begin_goes_with_its_first_statement_and_an_empty_one_sends_nothing(catalog):
    """BEGIN shares its first statement's round trip; a block that ran no statement has nothing to
    commit, and its after-commit hooks still run; a failed first statement leaves no transaction."""
    from photojobs.storage import after_commit
    conn = catalog.new_connection()
    ran: list[str] = []
    try:
        with atomic(conn):
            assert not conn.in_transaction            # said, not yet sent
            after_commit(conn, lambda: ran.append("empty"))
        assert ran == ["empty"] and not conn.in_transaction
        with atomic(conn):
            settings_repo.put(conn, "test.begin", "1", 1.0)
            assert conn.in_transaction                # sent with the first statement
            after_commit(conn, lambda: ran.append("written"))
        assert ran == ["empty", "written"] and settings_repo.get(conn, "test.begin") == "1"
        with pytest.raises(Exception):
            with atomic(conn):
                conn.execute("SELECT no_such_column FROM settings")
        assert not conn.in_transaction
        with atomic(conn):                            # the session is usable again
            settings_repo.put(conn, "test.begin", "2", 2.0)
        assert settings_repo.get(conn, "test.begin") == "2"
    finally:
        conn.close()


def test_notifications_say_which_changes_may_make_a_job_claimable(catalog):
    """A queued job is work for its priority's lane, a pause flag for every lane (idle runners
    look at the queue); a claim, an event or a settle is a change (streams read on, idle runners
    sleep on)."""
    heard: list = []
    got = threading.Condition()

    def hear(what):
        with got:
            heard.append(what)
            got.notify_all()

    def next_heard():
        with got:
            assert got.wait_for(lambda: heard, timeout=10), "no notification"
            return heard.pop(0)

    stop = catalog.listen(lambda: hear("change"), hear)
    conn = catalog.new_connection()

    def queue_job(priority: int):
        return jobs_repo.insert(conn, project_id=None, type="t", priority=priority, payload="{}",
                                max_attempts=1, now=1.0)[0]
    try:
        with atomic(conn):
            job = queue_job(50)
            events_repo.append(conn, kind="job", data={}, now=1.0)
        assert next_heard() == frozenset({50})
        with atomic(conn):
            queue_job(95)
            queue_job(50)
        assert next_heard() == frozenset({50, 95})
        with atomic(conn):
            events_repo.append(conn, kind="job", data={}, now=2.0)
        assert next_heard() == "change"
        with atomic(conn):
            claimed = jobs_repo.claim(conn, min_priority=0, max_priority=60, worker_id="w", host="h", pid=1,
                                      now=3.0, paused_key="pause.normal")
            assert claimed["id"] == job["id"]
        assert next_heard() == "change"
        with atomic(conn):
            settings_repo.put(conn, "pause.normal", "1", 4.0)
            queue_job(95)
        assert next_heard() is True
        with atomic(conn):
            jobs_repo.requeue(conn, job["id"], worker_id="w", run_after=5.0, now=5.0, error_message=None)
        assert next_heard() == frozenset({50})
    finally:
        stop()
        conn.close()
