"""Retries, cancels and shutdown: no job is lost or stuck in a race, a dead worker or a second signal."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest

from photojobs.daemon import state
from photojobs.engine import queue
from photojobs.engine.registry import handler
from photojobs.engine.runner import Runner
from photojobs.errors import PermanentJobError
from test_daemon_fixtures import start_daemon  # noqa: F401 - fixture
from waiting import wait_for

# The engine contract: every test here that opens a library runs on both catalogs.
BACKENDS = ("sqlite", "postgresql")


@contextmanager
def runner_in_thread(runner: Runner):
    """`runner.run()` in a thread for the block; joined at its end (the block stops the runner)."""
    t = threading.Thread(target=runner.run)
    t.start()
    try:
        yield runner
    finally:
        t.join(30)


@handler("review_unique_flaky", priority=50, unique=True, needs_project=False)
def _unique_flaky(ctx) -> None:
    """A unique job that, on its first attempt, sees a twin queued while it runs, then fails."""
    if ctx.payload.get("twin") and ctx.row["attempts"] == 1:
        queue.enqueue(ctx.lib, "review_unique_flaky", source="test")
        raise RuntimeError("transient failure")


@handler("review_item_then_fail", priority=50, needs_project=False)
def _item_then_fail(ctx) -> None:
    """Starts its first item, then fails in the middle of it (permanently when asked)."""
    item = ctx.open_items()[0]
    ctx.start_item(item)
    if ctx.payload.get("permanent"):
        raise PermanentJobError("cannot go on")
    raise RuntimeError("broke mid-item")


@pytest.mark.parametrize("permanent", [True, False])
def test_a_job_that_ends_failed_mid_item_leaves_no_item_running(open_library, permanent):
    lib = open_library({"pipeline": {"retry_base_seconds": 0.01, "retry_max_seconds": 0.01}})
    job = queue.enqueue(lib, "review_item_then_fail", payload={"filenames": ["a", "b"], "permanent": permanent},
                        max_attempts=2)
    Runner(lib, until_empty=True).run()
    detail = queue.job_detail(lib, job["id"])
    assert detail["status"] == "failed"
    assert detail["items_summary"]["running"] == 0, detail["items"]
    assert detail["items_summary"]["pending"] == 2


def test_unique_job_retry_while_its_twin_is_queued_is_requeued_not_stuck(open_library):
    # A maintenance job is unique only while queued: a twin may be queued while it runs. Its
    # retry (or release, or recovery) must not hit the unique index and leave it running forever.
    lib = open_library({"pipeline": {"retry_base_seconds": 0.01, "retry_max_seconds": 0.01,
                                     "stale_seconds": 600}})
    first = queue.enqueue(lib, "review_unique_flaky", payload={"twin": True})
    Runner(lib, until_empty=True).run()
    jobs = queue.list_jobs(lib, type=["review_unique_flaky"])
    assert len(jobs) == 2
    assert {j["status"] for j in jobs} == {"completed"}, jobs
    assert queue.get_job(lib, first["id"])["attempts"] == 2


def test_manual_retry_of_a_unique_job_while_its_twin_is_queued(open_library):
    lib = open_library()
    first = queue.enqueue(lib, "test_unique")
    queue.cancel(lib, first["id"])
    twin = queue.enqueue(lib, "test_unique")
    assert twin["id"] != first["id"]
    retried = queue.retry(lib, first["id"])          # no IntegrityError: both are queued again
    assert retried["status"] == "queued"
    assert queue.enqueue(lib, "test_unique")["id"] in (first["id"], twin["id"])   # still deduplicated


def test_daemon_second_sigterm_during_the_grace_period_stops_at_once_and_exits_0(start_daemon, lib, tmp_path):
    # The HTTP server stops within moments of the first SIGTERM; the runner may still wait for
    # a long item. A second signal then must still be ours (release now, exit 0), not the
    # default action that kills the process with the job still marked running.
    d = start_daemon({"pipeline": {"shutdown_grace_seconds": 60}})
    log = tmp_path / "items.log"
    job = queue.enqueue(lib, "test_items", payload={"log": str(log), "filenames": ["a", "b"], "seconds": 60})
    assert wait_for(lambda: log.exists() and "start a" in log.read_text())
    d.signal(signal.SIGTERM)
    # The record goes as soon as the server has stopped; the runner is still in its grace period.
    assert wait_for(lambda: state.read_state(lib.root) is None)
    assert d.proc.poll() is None
    d.signal(signal.SIGTERM)
    assert d.wait_exit(timeout=20) == 0, d.log_text()
    after = queue.get_job(lib, job["id"])
    assert after["status"] == "queued" and after["attempts"] == 0, after


def test_a_cancel_requested_before_a_forced_stop_is_not_lost(open_library, tmp_path):
    # The user canceled a running job; the runner is stopped before the handler's next check.
    # Giving the job back must not clear the request: it ends canceled, it never runs again.
    lib = open_library({"pipeline": {"stale_seconds": 600}})
    log = tmp_path / "items.log"
    job = queue.enqueue(lib, "test_items", payload={"log": str(log), "filenames": ["a", "b"], "seconds": 3})
    with runner_in_thread(Runner(lib)) as runner:
        assert wait_for(lambda: log.exists() and "start a" in log.read_text())
        assert queue.cancel(lib, job["id"])["status"] == "running"
        runner.request_force_stop()
    after = queue.get_job(lib, job["id"])
    assert after["status"] == "canceled", after


def test_a_cancel_requested_for_a_job_whose_worker_died_is_not_lost(lib, library_path, tmp_path):
    log = tmp_path / "items.log"
    job = queue.enqueue(lib, "test_items", payload={"log": str(log), "filenames": ["a", "b"], "seconds": 30})
    proc = subprocess.Popen([sys.executable, "-m", "photojobs", "--library", str(library_path), "jobs", "run"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: log.exists() and "start a" in log.read_text())
        queue.cancel(lib, job["id"])
    finally:
        proc.kill()
        proc.wait(10)
    assert queue.get_job(lib, job["id"])["status"] == "running"
    Runner(lib).recover(lib.now(), include_stale=False)
    assert queue.get_job(lib, job["id"])["status"] == "canceled"


def test_heartbeats_go_on_during_the_shutdown_grace_period(open_library, tmp_path):
    # While a stopping runner waits for its running item (up to shutdown_grace_seconds), the
    # job is still its own: no other runner may presume it lost and run it a second time.
    lib = open_library({"pipeline": {"stale_seconds": 1, "heartbeat_ms": 50, "shutdown_grace_seconds": 30}})
    log = tmp_path / "items.log"
    job = queue.enqueue(lib, "test_items", payload={"log": str(log), "filenames": ["a", "b"], "seconds": 2.5})
    with runner_in_thread(Runner(lib)) as runner:
        assert wait_for(lambda: log.exists() and "start a" in log.read_text())
        runner.request_stop()
        time.sleep(1.8)                       # longer than stale_seconds, shorter than the item
        assert Runner(lib).recover(time.time()) == []
    after = queue.job_detail(lib, job["id"])
    assert after["status"] == "queued" and after["attempts"] == 0, after   # released by its own runner
    assert after["items_summary"]["done"] == 1
