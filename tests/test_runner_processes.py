"""Runners as real processes: exactly-once draining, crash recovery, poison jobs, signals, lanes."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from waiting import wait_for
from photojobs.engine import queue
from photojobs.engine.runner import Runner

# The engine contract: every test here that opens a library runs on both catalogs.
BACKENDS = ("sqlite", "postgresql")


def start_runner(library_path, *args, config=None):
    cmd = [sys.executable, "-m", "photojobs", "--library", str(library_path)]
    if config:
        cmd += ["--config", str(config)]
    return subprocess.Popen(cmd + ["jobs", "run", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_several_runner_processes_drain_every_job_exactly_once(lib, library_path, tmp_path):
    log = tmp_path / "ran.log"
    ids = [queue.enqueue(lib, "test_record", payload={"log": str(log)}, priority=p)["id"]
           for p in [95, 20] * 600]
    runners = [start_runner(library_path, "--until-empty") for _ in range(3)]
    for proc in runners:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    lines = log.read_text().splitlines()
    ran = Counter(int(line.split()[0]) for line in lines)
    assert len(lines) == 1200, (queue.counts(lib), [l for l in lines if len(l.split()) != 3])
    assert sorted(ran) == sorted(ids)
    assert set(ran.values()) == {1}
    assert queue.counts(lib) == {"completed": 1200}
    assert len({line.split()[2] for line in log.read_text().splitlines()}) >= 2  # the work was shared


def test_sigkill_mid_item_resumes_without_redoing_done_items(lib, library_path, tmp_path):
    log = tmp_path / "items.log"
    names = [f"IMG_{i:04d}.JPG" for i in range(6)]
    job = queue.enqueue(lib, "test_items", payload={"log": str(log), "filenames": names, "seconds": 0.3})
    first = start_runner(library_path)
    assert wait_for(lambda: log.exists() and "start IMG_0002.JPG" in log.read_text())
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    in_flight = [line for line in log.read_text().splitlines()]
    assert in_flight[-1].startswith("start ")  # killed while an item was running
    killed_item = in_flight[-1].split()[1]
    done_before = {line.split()[1] for line in in_flight if line.startswith("done ")}
    assert queue.get_job(lib, job["id"])["status"] == "running"

    # A new runner on the same host sees the dead pid and takes the job over at once,
    # without waiting stale_seconds (60 s by default).
    second = start_runner(library_path, "--until-empty")
    out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err
    final = queue.job_detail(lib, job["id"])
    assert final["status"] == "completed" and final["attempts"] == 2
    assert final["items_summary"]["done"] == 6 and final["progress_done"] == 6
    after = log.read_text().splitlines()[len(in_flight):]
    restarted = [line.split()[1] for line in after if line.startswith("start ")]
    assert killed_item in restarted                    # the in-flight photo is not lost
    from photojobs.engine.events import read_after
    item_states = [e["data"]["status"] for e in read_after(lib.conn(), 0)
                   if e["kind"] == "item" and e["data"]["item_filename"] == killed_item]
    assert item_states == ["pending", "done"]          # its reset is in the event log too
    assert not done_before & set(restarted)            # and finished ones are not redone
    assert sorted(done_before | set(restarted)) == names


def test_stale_heartbeat_is_recovered_after_stale_seconds(open_library, tmp_path):
    clock = [1000.0]
    lib = open_library({"pipeline": {"stale_seconds": 30}}, clock=lambda: clock[0])
    job = queue.enqueue(lib, "test_noop")
    # A runner on another machine claimed it and went silent.
    lib.conn().execute("UPDATE jobs SET status='running', worker_id='otherhost:1:normal:x', "
                       "worker_host='otherhost', worker_pid=1, heartbeat_at=?, attempts=1 WHERE id=?",
                       (clock[0], job["id"]))
    runner = Runner(lib)
    assert runner.recover(clock[0] + 29) == []
    assert runner.recover(clock[0] + 31) == [job["id"]]
    row = queue.get_job(lib, job["id"])
    assert row["status"] == "queued" and "stopped sending heartbeats" in row["error_message"]


def test_poison_job_that_kills_its_worker_ends_failed(lib, library_path):
    job = queue.enqueue(lib, "test_crash", max_attempts=2)
    for _ in range(4):
        proc = start_runner(library_path, "--until-empty")
        proc.communicate(timeout=30)
        if queue.get_job(lib, job["id"])["status"] == "failed":
            break
    final = queue.get_job(lib, job["id"])
    assert final["status"] == "failed" and final["attempts"] == 2
    assert "worker was lost on each of 2 attempts" in final["error_message"]


def test_sigterm_stops_cleanly_and_gives_the_job_back(lib, library_path, tmp_path):
    log = tmp_path / "items.log"
    names = [f"a{i}" for i in range(20)]
    job = queue.enqueue(lib, "test_items", payload={"log": str(log), "filenames": names, "seconds": 0.2})
    proc = start_runner(library_path)
    assert wait_for(lambda: log.exists() and "done a1" in log.read_text())
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    row = queue.job_detail(lib, job["id"])
    assert row["status"] == "queued" and row["attempts"] == 0   # released, attempt refunded
    assert row["items_summary"]["running"] == 0
    assert 2 <= row["items_summary"]["done"] < 20
    text = log.read_text().splitlines()
    assert text[-1].startswith("done ")                          # the running item finished first


def test_priority_job_starts_when_priority_slot_frees_under_saturated_normal_lane(open_library, tmp_path):
    lib = open_library({"pipeline": {"max_parallel_jobs": 3, "priority_lane_slots": 1}})
    normals = [queue.enqueue(lib, "test_sleep", payload={"seconds": 2.0}, priority=10) for _ in range(3)]
    busy_priority = queue.enqueue(lib, "test_sleep", payload={"seconds": 0.3}, priority=95)
    runner = Runner(lib, until_empty=True)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        assert wait_for(lambda: sum(queue.get_job(lib, j["id"])["status"] == "running" for j in normals) == 2)
        waiting = queue.enqueue(lib, "test_sleep", payload={"seconds": 0.0}, priority=99)
        assert wait_for(lambda: queue.get_job(lib, waiting["id"])["status"] == "completed", timeout=5)
        p1 = queue.get_job(lib, busy_priority["id"])
        p2 = queue.get_job(lib, waiting["id"])
        assert p2["started_at"] >= p1["finished_at"]
        # The normal lane was still saturated the whole time.
        assert sum(queue.get_job(lib, j["id"])["status"] == "running" for j in normals) == 2
    finally:
        thread.join(30)
    assert queue.counts(lib) == {"completed": 5}


def test_normal_jobs_run_while_priority_lane_is_busy(open_library):
    lib = open_library()
    long_priority = queue.enqueue(lib, "test_sleep", payload={"seconds": 1.5}, priority=100)
    runner = Runner(lib, until_empty=True)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        assert wait_for(lambda: queue.get_job(lib, long_priority["id"])["status"] == "running")
        normal = queue.enqueue(lib, "test_noop", priority=10)
        assert wait_for(lambda: queue.get_job(lib, normal["id"])["status"] == "completed", timeout=5)
        assert queue.get_job(lib, long_priority["id"])["status"] == "running"
    finally:
        thread.join(30)


def test_in_process_enqueue_wakes_an_idle_runner(open_library):
    """Not a timing assertion: this runner looks for work by itself only every poll_ms, ten minutes
    here, so a job enqueued in its process can start within the wait below only if the enqueue
    wakes the idle lanes."""
    lib = open_library({"pipeline": {"poll_ms": 600_000}})
    first = queue.enqueue(lib, "test_noop")
    runner = Runner(lib)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        # The first job ran: both lanes have looked at the queue and now wait for a wake-up.
        assert wait_for(lambda: queue.get_job(lib, first["id"])["status"] == "completed", timeout=30)
        job = queue.enqueue(lib, "test_noop")
        assert wait_for(lambda: queue.get_job(lib, job["id"])["status"] == "completed", timeout=30)
    finally:
        runner.request_stop()
        thread.join(10)
    assert not thread.is_alive()


def test_heartbeats_continue_while_a_handler_burns_cpu(open_library):
    lib = open_library({"pipeline": {"heartbeat_ms": 50}})
    job = queue.enqueue(lib, "test_cpu_burn", payload={"seconds": 1.5})
    runner = Runner(lib, until_empty=True)
    thread = threading.Thread(target=runner.run)
    thread.start()
    seen = set()
    try:
        assert wait_for(lambda: queue.get_job(lib, job["id"])["status"] == "running")
        conn = lib.catalog.new_connection()
        deadline = time.time() + 1.0
        while time.time() < deadline:
            row = conn.execute("SELECT heartbeat_at FROM jobs WHERE id = ?", (job["id"],)).fetchone()
            if row[0] is not None:
                seen.add(row[0])
            time.sleep(0.02)
        conn.close()
    finally:
        thread.join(30)
    assert len(seen) >= 5  # ~20 beats were due; the burning handler did not starve them
    assert queue.get_job(lib, job["id"])["status"] == "completed"


def test_a_committed_enqueue_survives_a_killed_process(lib, library_path):
    script = (
        "import os, signal, sys\n"
        "from photojobs.config import load_config\n"
        "from photojobs.library import Library\n"
        "from photojobs.engine import queue\n"
        f"lib = Library.open({str(library_path)!r}, load_config())\n"
        "job = queue.enqueue(lib, 'test_noop', payload={'n': 1})\n"
        "print(job['id'], flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert proc.returncode == -signal.SIGKILL
    job_id = int(proc.stdout.strip())
    assert queue.get_job(lib, job_id)["status"] == "queued"
    Runner(lib, until_empty=True).run()
    assert queue.get_job(lib, job_id)["status"] == "completed"


def test_jobs_of_an_earlier_life_of_the_same_pid_are_recovered_at_once(lib):
    """In a container the daemon is pid 1 after every restart: the pid alone can't tell its
    own running jobs from those of the process that died before it."""
    import os as _os
    from photojobs.engine.recovery import HOST
    orphan = queue.enqueue(lib, "test_noop")
    lib.conn().execute("UPDATE jobs SET status='running', worker_host=?, worker_pid=?, worker_id=?, "
                       "heartbeat_at=?, attempts=1 WHERE id=?",
                       (HOST, _os.getpid(), f"{HOST}:{_os.getpid()}:normal:deadbeef-1", lib.now(), orphan["id"]))
    busy = queue.enqueue(lib, "test_sleep", payload={"seconds": 1.0})
    runner = Runner(lib, until_empty=True)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        assert wait_for(lambda: queue.get_job(lib, orphan["id"])["status"] == "completed", timeout=10)
        assert wait_for(lambda: queue.get_job(lib, busy["id"])["status"] == "running", timeout=10)
        # A second runner in the same process must not mistake the live one's job for an orphan.
        assert Runner(lib).recover(lib.now()) == []
    finally:
        thread.join(30)
    assert queue.get_job(lib, busy["id"])["attempts"] == 1


@pytest.mark.sqlite_only   # holds SQLite's file write lock from a raw sqlite3 connection
def test_a_locked_database_delays_work_but_loses_nothing(open_library, library_path, tmp_path):
    """Another process holds the catalog's write lock far past busy_timeout (a slow disk, a long
    writer): the runner's writes fail as "database is locked", which it must treat as retryable,
    never as a dead slot or a failed job."""
    import sqlite3
    lib = open_library({"pipeline": {"busy_timeout_ms": 50, "heartbeat_ms": 100}})
    log = tmp_path / "items.log"
    job = queue.enqueue(lib, "test_items", payload={"log": str(log), "filenames": ["a", "b", "c"],
                                                    "seconds": 0.3})
    later = queue.enqueue(lib, "test_noop")
    runner = Runner(lib, until_empty=True)
    thread = threading.Thread(target=runner.run)
    thread.start()
    blocker = sqlite3.connect(library_path / ".photojobs" / "catalog.db", isolation_level=None)
    try:
        assert wait_for(lambda: log.exists() and "start a" in log.read_text())
        blocker.execute("BEGIN IMMEDIATE")       # the write lock, held for 1.5 s
        time.sleep(1.5)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    thread.join(30)
    assert not thread.is_alive()
    final = queue.job_detail(lib, job["id"])
    assert final["status"] == "completed" and final["attempts"] == 1
    assert final["items_summary"]["done"] == 3
    assert log.read_text().split().count("done") == 3
    assert queue.get_job(lib, later["id"])["status"] == "completed"
