"""CLI hand-off: with a daemon the CLI's jobs run there (it returns at once or follows the stream), else inline."""

from __future__ import annotations

import pytest

import json
import subprocess
import sys

from photojobs.engine import queue
from photojobs.photos import projects
from test_daemon_fixtures import job_reached, read_events, start_daemon  # noqa: F401 - fixture


def _pids(log) -> list[int]:
    return [int(line.split()[2]) for line in log.read_text().splitlines()]


def test_enqueue_hands_over_to_the_daemon_and_returns_at_once(start_daemon, lib, cli_proc, tmp_path):
    projects.create_project(lib, "P")
    d = start_daemon()
    log = tmp_path / "record.log"
    with d.api().events(read_timeout=30) as stream:
        r = cli_proc("-v", "jobs", "enqueue", "P", "test_record", "--payload", json.dumps({"log": str(log)}))
        assert r.code == 0, r
        job_id = int(r.out)                               # the job id, alone, on stdout
        assert f"handed job {job_id} to the daemon (pid {d.pid})" in r.err
        read_events(stream, job_reached(job_id, "completed"))
    assert _pids(log) == [d.pid]


def test_wait_follows_the_daemon_until_the_job_ends(start_daemon, lib, cli_proc, tmp_path):
    projects.create_project(lib, "P")
    d = start_daemon()
    log = tmp_path / "items.log"
    r = cli_proc("jobs", "enqueue", "P", "test_items", "--wait", "--json", "--payload",
                 json.dumps({"log": str(log), "filenames": ["a", "b", "c"], "seconds": 0.05}))
    assert r.code == 0, r
    outcome = r.json()
    assert outcome["status"] == "completed" and outcome["jobs"][0]["progress_done"] == 3
    assert log.read_text().count("done ") == 3
    failed = cli_proc("jobs", "enqueue", "P", "test_fail", "--wait", "--payload", '{"permanent": true}')
    assert failed.code == 6 and "failed" in failed.out   # a job that failed: 6, as every command
    assert queue.get_job(lib, outcome["jobs"][0]["id"])["worker_id"] is None


def test_without_a_daemon_the_cli_runs_inline_or_leaves_it_queued(lib, cli_proc, tmp_path):
    projects.create_project(lib, "P")
    log = tmp_path / "record.log"
    payload = json.dumps({"log": str(log)})
    queued = cli_proc("-v", "jobs", "enqueue", "P", "test_record", "--payload", payload)
    assert queued.code == 0 and "stays queued" in queued.err
    assert queue.get_job(lib, int(queued.out))["status"] == "queued"
    ran = cli_proc("-v", "jobs", "enqueue", "P", "test_record", "--wait", "--payload", payload)
    assert ran.code == 0, ran
    assert "running job" in ran.err and "here" in ran.err
    assert ran.out.startswith("job completed")
    # The inline runner ran both (it runs the queue until its own job ends), in the CLI process.
    assert len(_pids(log)) == 2 and len(set(_pids(log))) == 1


def test_a_stale_record_does_not_fool_the_cli(lib, cli_proc, tmp_path):
    from photojobs.daemon import state
    projects.create_project(lib, "P")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state.write_state(lib.root, {"pid": dead.pid, "host": __import__("socket").gethostname(),
                                 "url": "http://127.0.0.1:9", "port": 9})
    r = cli_proc("-v", "jobs", "enqueue", "P", "test_noop", "--wait")
    assert r.code == 0 and "no daemon running" in r.err
    assert state.read_state(lib.root) is None


def test_the_cli_takes_over_when_the_daemon_dies_while_it_waits(start_daemon, lib, tmp_path):
    projects.create_project(lib, "P")
    d = start_daemon()
    log = tmp_path / "items.log"
    names = [f"{i}.jpg" for i in range(6)]
    with d.api().events(read_timeout=30) as stream:
        cli = subprocess.Popen(
            [sys.executable, "-m", "photojobs", "--library", str(lib.root), "-v", "jobs", "enqueue", "P",
             "test_items", "--wait", "--payload", json.dumps({"log": str(log), "filenames": names, "seconds": 0.2})],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        read_events(stream, lambda evs: any(e.get("type") == "item" and e.get("status") == "done" for e in evs))
        d.signal(9)
        d.wait_exit()
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, (out, err)
    # Under load the CLI may first look for the daemon after the kill: it then says so instead.
    assert ("the daemon went away; running the rest here" in err
            or "no daemon running; running job" in err), err
    done = [line.split()[1] for line in log.read_text().splitlines() if line.startswith("done ")]
    assert sorted(set(done)) == sorted(names)


@pytest.mark.both_backends
def test_upload_commit_and_maintenance_hand_over_too(start_daemon, lib, cli_proc, tmp_path, backend):
    from imagegen import make_jpeg
    card = tmp_path / "card"
    card.mkdir()
    for i in range(3):
        make_jpeg(card / f"IMG_{i}.JPG", size=(320, 240), seed=i)
    projects.create_project(lib, "P")
    d = start_daemon()
    with d.api().events(read_timeout=60) as stream:
        up = cli_proc("-v", "upload", card, "--project", "P", "--json")
        assert up.code == 0, up
        report = json.loads(up.out)
        job = report["job"]
        assert "handed job" in up.err and report["task"] is None      # returned at once
        read_events(stream, lambda evs: any(e.get("task_id") == job["task_id"] and e.get("job_type") == "folder_check"
                                            and e.get("status") == "completed" for e in evs))
    assert len(list((lib.root / "P" / ".thumb").iterdir())) == 3
    assert all(j["worker_id"] is None and j["status"] == "completed"
               for j in queue.task_status(lib, job["task_id"])["jobs"])
    for i in range(3, 5):
        make_jpeg(card / f"IMG_{i}.JPG", size=(320, 240), seed=i)
    human = cli_proc("upload", card, "--project", "P")   # people are told where the work went
    assert human.code == 0 and "handed to the daemon as job" in human.out and "jobs run" not in human.out

    assert cli_proc("keep", "P", "IMG_1", "--no-jpg").code == 0
    commit = cli_proc("-v", "commit", "P", "--yes", "--wait", "--json")
    assert commit.code == 0, commit
    assert "handed job" in commit.err and json.loads(commit.out)["task"]["status"] == "completed"
    assert not (lib.root / "P" / "IMG_1.JPG").exists()

    maint = cli_proc("-v", "maintenance", "run", "P", "--wait", "--json")
    assert maint.code == 0, maint
    assert "handed job" in maint.err and json.loads(maint.out)[0]["task"]["status"] == "completed"
