"""The queue in one process: enqueue, lanes, retries, cancel, retry, unique jobs, chains, events."""

from __future__ import annotations

import threading
import time

import pytest

from photojobs.engine import queue, tasks
from photojobs.engine.events import read_after
from photojobs.engine.runner import Runner
from photojobs.errors import NotFound, PhotojobsError, UnknownJobType
from photojobs.storage import atomic
from photojobs.storage.repos import jobs as jobs_repo

# The engine contract: every test here that opens a library runs on both catalogs.
BACKENDS = ("sqlite", "postgresql")


def drain(lib, **kw):
    runner = Runner(lib, until_empty=True, **kw)
    runner.run()
    return runner


def test_enqueue_refuses_unknown_type(lib):
    with pytest.raises(UnknownJobType, match="Unknown job type: nope"):
        queue.enqueue(lib, "nope")
    assert queue.list_jobs(lib) == []


def test_enqueue_with_items_is_one_transaction_and_counts_total(lib):
    job = queue.enqueue(lib, "test_items", payload={"log": "/dev/null", "filenames": ["a", "b", "c"]})
    assert job["progress_total"] == 3
    detail = queue.job_detail(lib, job["id"])
    assert detail["items_summary"]["pending"] == 3
    assert [i["filename"] for i in detail["items"]] == ["a", "b", "c"]


def test_claim_order_priority_then_age(lib, tmp_path):
    log = tmp_path / "order.log"
    ids = [queue.enqueue(lib, "test_record", payload={"log": str(log)}, priority=p)["id"]
           for p in (10, 50, 50, 80)]
    drain(lib)  # one normal slot runs them one at a time, in claim order
    ran = [int(line.split()[0]) for line in log.read_text().splitlines()]
    assert ran == [ids[3], ids[1], ids[2], ids[0]]


def test_run_after_is_honoured(lib, tmp_path):
    log = tmp_path / "log"
    later = queue.enqueue(lib, "test_record", payload={"log": str(log)}, run_after=lib.now() + 0.4)
    now = queue.enqueue(lib, "test_record", payload={"log": str(log)})
    t0 = time.time()
    drain(lib)
    lines = [line.split() for line in log.read_text().splitlines()]
    assert [int(x[0]) for x in lines] == [now["id"], later["id"]]
    assert float(lines[1][1]) >= t0 + 0.3


def test_retry_with_backoff_then_success(open_library):
    lib = open_library({"pipeline": {"retry_base_seconds": 0.05}})
    job = queue.enqueue(lib, "test_fail", payload={"succeed_on": 3}, max_attempts=3)
    drain(lib)
    final = queue.get_job(lib, job["id"])
    assert final["status"] == "completed" and final["attempts"] == 3
    events = [e["data"] for e in read_after(lib.conn(), 0) if e["job_id"] == job["id"]]
    requeues = [e for e in events if e["status"] == "queued" and e["error_message"]]
    assert len(requeues) == 2
    assert "retry 2/3" in requeues[0]["error_message"]


def test_backoff_grows_exponentially_with_jitter(open_library):
    lib = open_library({"pipeline": {"retry_base_seconds": 10.0, "retry_max_seconds": 1000.0}})
    job = queue.enqueue(lib, "test_fail", max_attempts=5)
    runner = Runner(lib, max_jobs=1)
    runner.run()
    row = jobs_repo.get(lib.conn(), job["id"])
    first_delay = row["run_after"] - row["updated_at"]
    assert row["status"] == "queued" and 5.0 <= first_delay <= 15.0  # base 10 s, jitter x0.5..1.5
    with atomic(lib.conn()) as conn:  # make it due now and run the second attempt
        conn.execute("UPDATE jobs SET run_after = 0 WHERE id = ?", (job["id"],))
    Runner(lib, max_jobs=1).run()
    row = jobs_repo.get(lib.conn(), job["id"])
    assert 10.0 <= row["run_after"] - row["updated_at"] <= 30.0  # 20 s x0.5..1.5


def test_retries_are_bounded(open_library):
    lib = open_library({"pipeline": {"retry_base_seconds": 0.01}})
    job = queue.enqueue(lib, "test_fail", max_attempts=2)
    drain(lib)
    final = queue.get_job(lib, job["id"])
    assert final["status"] == "failed" and final["attempts"] == 2
    assert "after 2 attempts" in final["error_message"]


def test_permanent_failure_is_not_retried(lib):
    job = queue.enqueue(lib, "test_fail", payload={"permanent": True})
    drain(lib)
    final = queue.get_job(lib, job["id"])
    assert final["status"] == "failed" and final["attempts"] == 1
    assert final["error_message"] == "permanent failure requested"


def test_unknown_type_row_from_another_version_fails_without_retry(lib):
    with atomic(lib.conn()) as conn:
        row, _ = jobs_repo.insert(conn, project_id=None, type="from_the_future", priority=10, payload="{}",
                                  max_attempts=3, now=lib.now())
    drain(lib)
    final = queue.get_job(lib, row["id"])
    assert final["status"] == "failed" and final["attempts"] == 1
    assert final["error_message"] == "Unknown job type: from_the_future"


@pytest.mark.sqlite_only   # PRAGMA foreign_keys: orphaning a job needs SQLite
def test_missing_project_fails_at_once(lib):
    from photojobs.photos.projects import create_project
    project = create_project(lib, "Gone")
    job = queue.enqueue(lib, "test_project_noop", project=project["id"])
    # Another version (or a hand edit) removed the project row without its jobs.
    conn = lib.conn()
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("DELETE FROM projects WHERE id = ?", (project["id"],))
    conn.execute("PRAGMA foreign_keys = ON")
    drain(lib)
    final = queue.get_job(lib, job["id"])
    assert final["status"] == "failed" and final["attempts"] == 1
    assert "no longer exists" in final["error_message"]


def test_cancel_queued_and_running(lib):
    queued = queue.enqueue(lib, "test_sleep", payload={"seconds": 0.1}, priority=10,
                           run_after=lib.now() + 60)
    assert queue.cancel(lib, queued["id"])["status"] == "canceled"
    with pytest.raises(PhotojobsError, match="already canceled"):
        queue.cancel(lib, queued["id"])

    running = queue.enqueue(lib, "test_sleep", payload={"seconds": 30})
    runner = Runner(lib, until_empty=True)
    thread = threading.Thread(target=runner.run)
    thread.start()
    deadline = time.time() + 10
    while queue.get_job(lib, running["id"])["status"] != "running" and time.time() < deadline:
        time.sleep(0.01)
    queue.cancel(lib, running["id"])
    thread.join(10)
    assert not thread.is_alive()
    final = queue.get_job(lib, running["id"])
    assert final["status"] == "canceled" and final["error_message"] == "canceled by user"


def test_retry_requeues_failed_job_and_keeps_done_items(lib, tmp_path):
    log = tmp_path / "items.log"
    job = queue.enqueue(lib, "test_items", payload={"log": str(log), "filenames": ["a", "b", "c"], "fail": ["b"]})
    drain(lib)
    first = queue.job_detail(lib, job["id"])
    assert first["status"] == "completed"
    assert (first["progress_done"], first["progress_failed"], first["progress_total"]) == (2, 1, 3)
    assert first["error_message"] == "1 of 3 items failed"
    with pytest.raises(PhotojobsError, match="only failed or canceled"):
        queue.retry(lib, job["id"])
    # A failed job: failed items run again on retry, done ones do not.
    with atomic(lib.conn()) as conn:
        conn.execute("UPDATE jobs SET status = 'failed' WHERE id = ?", (job["id"],))
    log.write_text("")
    again = queue.retry(lib, job["id"])
    assert again["status"] == "queued" and again["attempts"] == 0 and again["progress_failed"] == 0
    drain(lib)
    assert log.read_text().split() == ["start", "b"]


def test_unique_maintenance_jobs_do_not_pile_up(lib):
    a = queue.enqueue(lib, "test_unique")
    b = queue.enqueue(lib, "test_unique")
    assert a["id"] == b["id"]
    drain(lib)
    c = queue.enqueue(lib, "test_unique")  # the first one has run: a new one may be queued
    assert c["id"] != a["id"]
    assert len(queue.list_jobs(lib, type=["test_unique"])) == 2


def test_task_chain_enqueues_next_step_on_completion(lib, monkeypatch):
    monkeypatch.setitem(tasks.TASKS, "test_chain", (("test_noop", 90), ("test_noop", 95), ("test_noop", 20)))
    first = queue.enqueue(lib, "test_noop", priority=90, _task=(tasks.new_task_id(), "test_chain", 0))
    drain(lib)
    status = queue.task_status(lib, first["task_id"])
    assert status["status"] == "completed"
    assert [(j["task_step"], j["priority"], j["status"]) for j in status["jobs"]] == \
        [(0, 90, "completed"), (1, 95, "completed"), (2, 20, "completed")]


def test_failing_step_stops_the_chain(open_library, monkeypatch):
    lib = open_library({"pipeline": {"retry_base_seconds": 0.01}})
    monkeypatch.setitem(tasks.TASKS, "test_chain", (("test_noop", 90), ("test_fail", 95), ("test_noop", 20)))
    first = queue.enqueue(lib, "test_noop", priority=90, _task=(tasks.new_task_id(), "test_chain", 0))
    drain(lib)
    status = queue.task_status(lib, first["task_id"])
    assert status["status"] == "failed"
    assert [j["type"] for j in status["jobs"]] == ["test_noop", "test_fail"]


def test_every_state_change_is_an_event_with_monotonic_ids(lib):
    job = queue.enqueue(lib, "test_noop")
    drain(lib)
    events = [e for e in read_after(lib.conn(), 0) if e["job_id"] == job["id"]]
    assert [e["data"]["status"] for e in events] == ["queued", "running", "completed"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    data = events[-1]["data"]
    for key in ("id", "status", "progress_done", "progress_total", "task_id", "task_type", "source",
                "project_folder", "job_type"):
        assert key in data


def test_prune_removes_old_finished_jobs_and_events(lib):
    old = queue.enqueue(lib, "test_noop")
    drain(lib)
    keep = queue.enqueue(lib, "test_noop", run_after=lib.now() + 3600)
    with atomic(lib.conn()) as conn:
        conn.execute("UPDATE jobs SET finished_at = finished_at - 30 * 86400 WHERE id = ?", (old["id"],))
        conn.execute("UPDATE events SET created_at = created_at - 30 * 86400 WHERE job_id = ?", (old["id"],))
    result = queue.prune(lib)
    assert result["jobs"] == 1 and result["events"] == 3
    with pytest.raises(NotFound):
        queue.get_job(lib, old["id"])
    assert queue.get_job(lib, keep["id"])["status"] == "queued"


def test_the_built_in_job_types_are_exactly_the_seeds_plus_file_removal():
    import os
    import subprocess
    import sys
    from photojobs.photos.jobs import USER_TYPES
    env = {k: v for k, v in os.environ.items() if k != "PHOTOJOBS_PLUGINS"}
    out = subprocess.run([sys.executable, "-c", "from photojobs.engine.registry import known_types; "
                          "print(' '.join(known_types()))"], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == sorted(USER_TYPES) == sorted(
        ["generate_derivatives", "upload_postprocess", "trash_maintenance", "manifest_check", "folder_check",
         "manifest_cleaning", "file_removal"])
