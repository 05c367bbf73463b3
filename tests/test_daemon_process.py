"""The daemon as a process: SIGKILL mid-job and recovery on restart, graceful SIGTERM, the priority lane."""

from __future__ import annotations

import signal

from photojobs.daemon import state
from photojobs.engine import queue
from photojobs.photos import projects
from test_daemon_fixtures import job_reached, read_events, start_daemon  # noqa: F401 - fixture


def _item_done(name: str):
    return lambda evs: any(e.get("type") == "item" and e.get("filename") == name and e.get("status") == "done"
                           for e in evs)


def test_sigkill_mid_job_then_restart_recovers_it_at_once(start_daemon, lib, tmp_path):
    project = projects.create_project(lib, "P")
    d = start_daemon()
    log = tmp_path / "items.log"
    names = ["a", "b", "c", "d"]
    with d.http() as http, d.api().events(read_timeout=30) as stream:
        job = http.post(f"/api/projects/{project['folder']}/jobs", json={
            "type": "test_items", "payload": {"log": str(log), "filenames": names, "seconds": 0.3}}).json()["job"]
        read_events(stream, _item_done("a"))
    d.signal(signal.SIGKILL)
    d.wait_exit()
    assert queue.get_job(lib, job["id"])["status"] == "running"      # its worker is dead, the row says running
    # stale_seconds is 600 here: finishing now proves the restart recovered it without waiting.
    d2 = start_daemon()
    with d2.api().events(after=0, read_timeout=30) as stream:
        read_events(stream, job_reached(job["id"], "completed"))
    final = queue.job_detail(lib, job["id"])
    assert final["status"] == "completed" and final["attempts"] == 2
    assert final["items_summary"]["done"] == 4
    done = [line.split()[1] for line in log.read_text().splitlines() if line.startswith("done ")]
    assert done.count("a") == 1 and sorted(set(done)) == names   # done items were not redone


def test_sigterm_lets_the_running_item_finish_and_requeues_the_rest(start_daemon, lib, tmp_path):
    project = projects.create_project(lib, "P")
    d = start_daemon()
    log = tmp_path / "items.log"
    names = ["a", "b", "c", "d", "e"]
    with d.http() as http, d.api().events(read_timeout=30) as stream:
        job = http.post(f"/api/projects/{project['folder']}/jobs", json={
            "type": "test_items", "payload": {"log": str(log), "filenames": names, "seconds": 0.3}}).json()["job"]
        read_events(stream, _item_done("a"))
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0, d.log_text()
    lines = log.read_text().splitlines()
    started = [line.split()[1] for line in lines if line.startswith("start ")]
    done = [line.split()[1] for line in lines if line.startswith("done ")]
    assert started == done and len(done) < len(names)        # the item in flight finished; no more began
    after = queue.job_detail(lib, job["id"])
    assert after["status"] == "queued" and after["attempts"] == 0        # given back, attempt refunded
    assert after["items_summary"]["done"] == len(done) and after["items_summary"]["running"] == 0
    assert state.read_state(lib.root) is None and state.lock_holder(lib.root) is None


def test_priority_job_starts_while_the_normal_lane_is_busy(start_daemon, lib, tmp_path):
    project = projects.create_project(lib, "P")
    d = start_daemon()
    rec = tmp_path / "record.log"
    folder = project["folder"]
    with d.http() as http, d.api().events(read_timeout=30) as stream:
        long = http.post(f"/api/projects/{folder}/jobs",
                         json={"type": "test_sleep", "payload": {"seconds": 30}}).json()["job"]
        read_events(stream, job_reached(long["id"], "running"))
        waiting = http.post(f"/api/projects/{folder}/jobs", json={"type": "test_noop"}).json()["job"]
        urgent = http.post(f"/api/projects/{folder}/jobs",
                           json={"type": "test_record", "priority": 95, "payload": {"log": str(rec)}}).json()["job"]
        read_events(stream, job_reached(urgent["id"], "completed"))
        assert queue.get_job(lib, long["id"])["status"] == "running"
        assert queue.get_job(lib, waiting["id"])["status"] == "queued"
        http.post(f"/api/jobs/{long['id']}/cancel").raise_for_status()
        read_events(stream, job_reached(waiting["id"], "completed"))
    assert queue.get_job(lib, long["id"])["status"] == "canceled"
    assert int(rec.read_text().split()[2]) == d.pid


def test_scheduled_maintenance_runs_in_the_daemon(start_daemon, lib):
    """A project whose checks are overdue (its last runs recorded long ago) gets them on start."""
    from photojobs.storage import atomic
    from photojobs.storage.repos import schedule_runs
    project = projects.create_project(lib, "P")
    with atomic(lib.conn()) as conn:
        for job_type in ("trash_maintenance", "manifest_check", "folder_check", "manifest_cleaning"):
            schedule_runs.record(conn, project["id"], job_type, lib.now() - 7 * 86400)
    d = start_daemon()
    with d.api().events(after=0, read_timeout=30) as stream:
        got = read_events(stream, lambda evs: {e.get("job_type") for e in evs if e.get("status") == "completed"}
                          >= {"trash_maintenance", "manifest_check", "folder_check", "manifest_cleaning"})
    sources = {e["source"] for e in got if e.get("kind") == "job"}
    assert sources == {"scheduler"}
    runs = schedule_runs.last_runs(lib.conn())
    assert all(runs[(project["id"], t)] > lib.now() - 3600 for t in ("trash_maintenance", "folder_check"))
