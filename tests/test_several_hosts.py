"""Several machines, one library, one PostgreSQL catalog (issue #13), simulated on this machine.

Each "host" is a real `photojobs daemon run` process with its own host id (PHOTOJOBS_HOST_ID),
its own per-user state folder (as on its own machine) and its own mount path of the library (a
symlink to the one folder), all on one PostgreSQL database. PostgreSQL only: a module-scoped
fresh database (tests/pg_fixtures.py); skipped without a server, failed under
PHOTOJOBS_REQUIRE_POSTGRES=1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from photojobs.daemon import state
from photojobs.engine.queue import enqueue
from photojobs.photos.projects import create_project
from photojobs.storage import atomic
from test_daemon_fixtures import terminate

BACKENDS = ("postgresql",)
HOSTS = ("host-a", "host-b", "host-c")
STALE_SECONDS = 2
# Small heartbeats and stale_seconds: a host that stops beating is rescued within seconds.
CONFIG = {"pipeline": {"stale_seconds": STALE_SECONDS, "heartbeat_ms": 200, "poll_ms": 50,
                       "max_parallel_jobs": 3, "priority_lane_slots": 1, "shutdown_grace_seconds": 2},
          "catalog": {"backups": 0},
          "scheduler": {"trash_maintenance_minutes": 0, "manifest_check_minutes": 0,
                        "folder_check_minutes": 0, "manifest_cleaning_minutes": 0},
          "daemon": {"watch_mode": "off"}}
WAIT = 60.0   # an upper bound on any wait below: reaching it is a failure, never the expected path


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def merged(base: dict, extra: dict) -> dict:
    out = json.loads(json.dumps(base))
    for key, value in extra.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class Host:
    """One simulated machine: its daemon process, mount path, host id and log."""

    def __init__(self, host_id: str, mount: Path, home: Path, config: dict):
        self.host_id = host_id
        self.mount = mount
        self.state_home = home / "state"
        self.state_home.mkdir(parents=True)
        config_path = home / "config.json"
        config_path.write_text(json.dumps(config))
        self.log = home / "daemon.log"
        env = {**os.environ, "PHOTOJOBS_HOST_ID": host_id, "XDG_STATE_HOME": str(self.state_home)}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "photojobs", "--library", str(mount), "--config", str(config_path),
                 "daemon", "run", "--port", "0"], stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)
        self.stopped = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        try:
            return self.log.read_text()
        except OSError:
            return ""

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.host_id}: daemon exited with {self.proc.returncode}: {self.log_text()[-3000:]}")
        record = self.state_home / "photojobs" / "daemons" / f"{state.library_key(self.mount)}.json"
        try:
            return json.loads(record.read_text()).get("pid") == self.pid
        except (OSError, ValueError):
            return False

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)
        self.stopped = sig == signal.SIGSTOP

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        if self.stopped:
            self.proc.send_signal(signal.SIGCONT)
        terminate(self.proc)


@pytest.fixture
def start_hosts(backend, lib, library_path, tmp_path):
    """start_hosts(config=None) -> [Host, Host, Host], each ready, all stopped at teardown."""
    started: list[Host] = []

    def start(config: dict | None = None) -> list[Host]:
        hosts = []
        for host_id in HOSTS:
            mount = tmp_path / "mnt" / host_id / "Studio"
            mount.parent.mkdir(parents=True)
            mount.symlink_to(library_path, target_is_directory=True)
            hosts.append(Host(host_id, mount, tmp_path / host_id, merged(CONFIG, config or {})))
        started.extend(hosts)
        for h in hosts:
            wait_for(h.ready, f"the daemon of {h.host_id} to start")
        return hosts

    yield start
    for h in started:
        h.stop()


def jobs(lib, job_ids=None) -> list[dict]:
    rows = lib.conn().execute("SELECT * FROM jobs ORDER BY id").fetchall()
    return [dict(r) for r in rows if job_ids is None or r["id"] in job_ids]


def job(lib, job_id: int) -> dict:
    return dict(lib.conn().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())


def running_on(lib, job_id: int, hosts: list[Host]) -> Host | None:
    j = job(lib, job_id)
    if j["status"] != "running":
        return None
    return next(h for h in hosts if h.host_id == j["worker_host"])


def test_three_hosts_run_a_thousand_jobs_each_exactly_once(start_hosts, lib, tmp_path):
    hosts = start_hosts()
    log = tmp_path / "executions.log"
    conn = lib.conn()
    with atomic(conn):
        ids = [enqueue(lib, "test_record", payload={"log": str(log)}, conn=conn)["id"] for _ in range(1000)]
    wait_for(lambda: all(j["status"] == "completed" for j in jobs(lib, set(ids))), "1,000 jobs to complete")
    runs = [line.split() for line in log.read_text().splitlines()]
    executed = sorted(int(r[0]) for r in runs)
    assert executed == sorted(ids)                       # each job ran once: none twice, none skipped
    pids = {int(r[2]) for r in runs}
    assert pids <= {h.pid for h in hosts}
    by_host = {}
    for j in jobs(lib, set(ids)):
        by_host[j["worker_host"]] = by_host.get(j["worker_host"], 0) + 1
        assert j["attempts"] == 1
    assert set(by_host) == set(HOSTS), by_host          # every host took its share


def test_a_killed_host_s_job_is_finished_by_another_after_stale_seconds(start_hosts, lib, tmp_path):
    hosts = start_hosts()
    log = tmp_path / "finished.log"
    j = enqueue(lib, "test_sleep", payload={"seconds": 2, "log": str(log)})
    victim = wait_for(lambda: running_on(lib, j["id"], hosts), "the job to start")
    victim.signal(signal.SIGKILL)
    victim.proc.wait(10)
    done = wait_for(lambda: (lambda r: r if r["status"] == "completed" else None)(job(lib, j["id"])),
                    "another host to finish the job")
    assert done["worker_host"] in set(HOSTS) - {victim.host_id}
    assert done["attempts"] == 2                       # the killed attempt counts
    assert log.read_text().split() == [str(j["id"])]   # finished once, by the rescuer
    requeued = [json.loads(r["data"]) for r in lib.conn().execute(
        "SELECT data FROM events WHERE job_id = ? AND kind = 'job' ORDER BY id", (j["id"],))]
    assert any("stopped sending heartbeats" in (e.get("error_message") or e.get("error") or "")
               for e in requeued), requeued


def test_a_paused_worker_s_late_writes_are_refused_after_its_job_was_rescued(start_hosts, lib, tmp_path):
    hosts = start_hosts()
    log = tmp_path / "fenced.log"
    hold = tmp_path / "hold"
    hold.touch()
    names = ["a.jpg", "b.jpg", "c.jpg"]
    j = enqueue(lib, "test_fenced", payload={"hold": str(hold), "log": str(log)},
                items=[(None, n) for n in names])
    # The first attempt waits in its first item (started, not finished) while `hold` exists:
    # pause its host there, as a frozen VM or a laptop lid would.
    paused = wait_for(lambda: running_on(lib, j["id"], hosts) if log.exists() and log.read_text() else None,
                      "the job's first item to start")
    paused.signal(signal.SIGSTOP)
    first_worker = job(lib, j["id"])["worker_id"]
    assert first_worker.startswith(paused.host_id + ":")
    done = wait_for(lambda: (lambda r: r if r["status"] == "completed" else None)(job(lib, j["id"])),
                    "another host to rescue and finish the job")
    rescuer = next(h for h in hosts if h.host_id == done["worker_host"])
    assert rescuer is not paused
    hold.unlink()
    paused.signal(signal.SIGCONT)
    # Its handler wakes, tries to finish the item it was in, and is refused.
    wait_for(lambda: f"job {j['id']} was taken over by another runner" in paused.log_text(),
             "the resumed worker to find its job taken over")
    assert paused.proc.poll() is None                  # refused, not crashed
    after = job(lib, j["id"])
    assert after["status"] == "completed" and after["worker_host"] == rescuer.host_id
    assert after["progress_done"] == len(names)
    items = lib.conn().execute("SELECT filename, status FROM job_items WHERE job_id = ? ORDER BY filename",
                               (j["id"],)).fetchall()
    assert [(r["filename"], r["status"]) for r in items] == [(n, "done") for n in names]
    # The domain writes and events that go with each item's outcome are all the rescuer's.
    written = {r["key"]: r["value"] for r in lib.conn().execute(
        "SELECT key, value FROM settings WHERE key LIKE ?", (f"fenced.{j['id']}.%",))}
    assert written == {f"fenced.{j['id']}.{n}": str(rescuer.pid) for n in names}
    by = [json.loads(r["data"]).get("by_pid") for r in lib.conn().execute(
        "SELECT data FROM events WHERE job_id = ? ORDER BY id", (j["id"],))]
    assert str(paused.pid) not in by
    assert by.count(str(rescuer.pid)) == len(names) + 1   # an item event each, and the job's own
    starts = [line.split() for line in log.read_text().splitlines()]
    assert starts[0] == ["start", "a.jpg", str(paused.pid)]


def scheduled(lib, job_type: str) -> list[float]:
    return [r[0] for r in lib.conn().execute(
        "SELECT created_at FROM jobs WHERE type = ? AND source = 'scheduler' ORDER BY created_at", (job_type,))]


def leaders(hosts: list[Host]) -> list[Host]:
    return [h for h in hosts if "scheduler: this daemon leads" in h.log_text()]


def test_the_scheduler_runs_each_job_once_per_period_across_hosts_and_leadership_moves(start_hosts, lib):
    minutes = 0.04   # a 2.4 s period
    period = minutes * 60
    types = ("trash_maintenance", "manifest_check", "folder_check", "manifest_cleaning")
    create_project(lib, "Shoot")
    hosts = start_hosts({"scheduler": {f"{t}_minutes": minutes for t in types}})
    first = wait_for(lambda: leaders(hosts), "a scheduler leader")
    assert len(first) == 1                              # one leader among the three
    wait_for(lambda: all(len(scheduled(lib, t)) >= 2 for t in types), "two periods of each maintenance job")
    before = {t: len(scheduled(lib, t)) for t in types}
    leader = first[0]
    leader.signal(signal.SIGKILL)
    leader.proc.wait(10)
    successor = wait_for(lambda: [h for h in leaders(hosts) if h is not leader], "a new scheduler leader")
    assert len(successor) == 1
    wait_for(lambda: all(len(scheduled(lib, t)) >= before[t] + 2 for t in types),
             "two more periods under the new leader")
    for t in types:
        times = scheduled(lib, t)
        gaps = [b - a for a, b in zip(times, times[1:])]
        # Never two in one period, not even across the hand-over: a second run of a period would
        # come right after the first (a tick's delay before its enqueue, under load, is not).
        assert all(gap >= period / 2 for gap in gaps), (t, gaps)
    queued_by = {h.host_id: h.log_text().count("scheduler queued") for h in hosts}
    assert queued_by[leader.host_id] > 0 and queued_by[successor[0].host_id] > 0
    assert sum(queued_by.values()) == queued_by[leader.host_id] + queued_by[successor[0].host_id]


def test_a_takeover_waits_for_a_write_that_passed_the_ownership_check(lib, backend):
    """READ COMMITTED would let a takeover commit between a worker's ownership check and its
    write; the check locks the job row instead, so the takeover waits for the write's commit
    (here: past its lock timeout, StorageBusy) and never slips in between."""
    from photojobs.errors import StorageBusy
    from photojobs.storage import open_catalog
    from photojobs.storage.repos import jobs as jobs_repo
    j = enqueue(lib, "test_noop")
    conn = lib.conn()
    with atomic(conn):
        row = jobs_repo.claim(conn, min_priority=0, max_priority=100, worker_id="w1", host="host-a", pid=1,
                              now=lib.now(), paused_key="pause.normal")
    assert row["id"] == j["id"]
    other = open_catalog(lib.catalog.url, lib.catalog.path, 200)   # another host, a short lock timeout
    try:
        with atomic(conn):
            assert jobs_repo.owned(conn, j["id"], "w1") is not None    # the worker's check...
            with pytest.raises(StorageBusy):                           # ...holds off the takeover
                with atomic(other.conn()) as oc:
                    jobs_repo.requeue(oc, j["id"], worker_id="w1", run_after=lib.now(), now=lib.now(),
                                      error_message="stale")
        # Once the worker's transaction is over, the takeover goes through, and the worker's
        # next check finds the job gone.
        with atomic(other.conn()) as oc:
            assert jobs_repo.requeue(oc, j["id"], worker_id="w1", run_after=lib.now(), now=lib.now(),
                                     error_message="stale") is not None
        with atomic(conn):
            assert jobs_repo.owned(conn, j["id"], "w1") is None
    finally:
        other.close()


def test_two_schedulers_claiming_one_period_at_once_get_it_once(lib, backend):
    """The hand-over of leadership: an old and a new leader may tick together. Claiming the
    period is one upsert that waits for the other's commit, then sees its run."""
    import threading
    from photojobs.storage import open_catalog
    from photojobs.storage.repos import schedule_runs
    p = create_project(lib, "Shoot")
    conn = lib.conn()
    other = open_catalog(lib.catalog.url, lib.catalog.path, 10_000)
    got = {}
    try:
        with atomic(conn):
            assert schedule_runs.claim_run(conn, p["id"], "manifest_check", 1000.0, 60.0)

            def second() -> None:
                with atomic(other.conn()) as oc:
                    got["second"] = schedule_runs.claim_run(oc, p["id"], "manifest_check", 1001.0, 60.0)
            t = threading.Thread(target=second)
            t.start()
            wait_for(lambda: _waiting_on_a_lock(lib.catalog.url), "the second claim to wait for the first")
        t.join(30)
        assert got == {"second": False}
        assert schedule_runs.get(conn, p["id"], "manifest_check") == 1000.0
        with atomic(conn):   # a period later, it is due again
            assert schedule_runs.claim_run(conn, p["id"], "manifest_check", 1060.0, 60.0)
    finally:
        other.close()


def _waiting_on_a_lock(url: str) -> bool:
    """Whether a session of the test database waits for a lock (asked on a session of our own)."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as c:
        return c.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                         "AND wait_event_type = 'Lock'").fetchone()[0] > 0


def test_the_dead_pid_rule_applies_only_to_jobs_of_our_own_host_id(lib, monkeypatch):
    """A pid names a process on its own host only: a job another host id runs is taken back for
    its silence (stale_seconds), never because the pid is free here; our own at once."""
    from photojobs.engine.recovery import requeue_lost
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    theirs, ours = enqueue(lib, "test_noop"), enqueue(lib, "test_noop")
    for j, host in ((theirs, "host-a"), (ours, "host-b")):
        lib.conn().execute("UPDATE jobs SET status = 'running', worker_host = ?, worker_pid = ?, worker_id = ?, "
                           "heartbeat_at = ?, attempts = 1 WHERE id = ?",
                           (host, dead.pid, f"{host}:{dead.pid}:normal:deadbeef-{j['id']}", lib.now(), j["id"]))
    monkeypatch.setenv("PHOTOJOBS_HOST_ID", "host-b")
    with atomic(lib.conn()) as conn:
        taken = requeue_lost(lib, conn, lib.now(), pid=os.getpid(), held_here=lambda w: False)
    assert taken == [ours["id"]]
    assert job(lib, theirs["id"])["status"] == "running"
    with atomic(lib.conn()) as conn:   # its heartbeat silent for longer than stale_seconds
        taken = requeue_lost(lib, conn, lib.now() + lib.config.pipeline.stale_seconds + 1, pid=os.getpid(),
                             held_here=lambda w: False)
    assert taken == [theirs["id"]]
