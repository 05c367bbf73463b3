"""`jobs watch`: the queue model, --once snapshots and --json streams against inline runners."""

from __future__ import annotations

import pytest

import json
import os
import pty
import queue as queue_mod
import select
import signal
import subprocess
import sys
import threading
import time

from waiting import wait_for
from photojobs.engine import pause, queue
from photojobs.engine import monitor as watch_engine
from photojobs.engine.events import last_event_id
from photojobs.engine.runner import Runner
from photojobs.photos import projects

NORMAL, PRIORITY = 50, 95


def comparable(snapshot):
    """A snapshot without what depends on the moment it was taken."""
    out = json.loads(json.dumps(snapshot))
    out.pop("taken_at")
    for failure in out["recent_failures"]:
        failure.pop("at")  # the event's clock reading, or the row's: taken a few microseconds apart
    for task in out["recently_finished"]:
        task.pop("finished_at")
    for lane in out["lanes"].values():
        for job in lane["running"] + lane["queued"]:
            for key in ("rate_per_second", "eta_seconds", "started_at", "current_file"):
                job.pop(key)
    return out


def run_in_terminal(args, *, columns, rows, until=None, timeout=60.0, env=None):
    """Run `python -m photojobs ARGS` in a pseudo-terminal of `columns` x `rows`; return what it drew
    (escape sequences removed) and its exit code. With `until(text)`, stop it with SIGINT once true."""
    import fcntl
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "photojobs", *map(str, args)], stdin=slave, stdout=slave,
                            stderr=slave, env={**os.environ, "TERM": "xterm", **(env or {})}, start_new_session=True)
    os.close(slave)
    raw = bytearray()
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                raw.extend(chunk)
                if until is not None and proc.poll() is None and until(_plain(raw)):
                    proc.send_signal(signal.SIGINT)
                    until = None
            elif proc.poll() is not None:
                break
        if proc.poll() is None:   # still drawing at the deadline: stop it as a person would
            proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return _plain(raw), proc.returncode


def _plain(raw: bytes) -> str:
    import re
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r", "", raw.decode(errors="replace"))


class WatchProc:
    """`photojobs jobs watch ...` as a real process, its stdout read line by line in a thread."""

    def __init__(self, library_path, *args, config=None, verbose=False):
        extra = (["--config", str(config)] if config else []) + (["-v"] if verbose else [])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "photojobs", "--library", str(library_path), *extra, "jobs", "watch", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
        self.lines: queue_mod.Queue = queue_mod.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_json(self, timeout=30.0):
        line = self.lines.get(timeout=timeout)
        assert line is not None, self.proc.stderr.read()
        return json.loads(line)

    def until(self, predicate, timeout=30.0):
        seen = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            event = self.next_json(timeout=max(0.1, deadline - time.time()))
            seen.append(event)
            if predicate(event):
                return seen
        raise AssertionError(f"not seen; got {seen[-5:]}")

    def interrupt(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        rest = []
        while True:
            line = self.lines.get(timeout=10)
            if line is None:
                break
            rest.append(line)
        return self.proc.returncode, "".join(rest), self.proc.stderr.read()


def test_the_model_kept_by_events_matches_a_fresh_load(lib, tmp_path):
    projects.create_project(lib, "Wedding")
    model = watch_engine.load(lib)
    log = tmp_path / "items.log"
    queue.enqueue(lib, "test_items", priority=NORMAL, payload={
        "log": str(log), "filenames": ["a.jpg", "b.jpg", "c.jpg"], "fail": ["b.jpg"]})
    queue.enqueue(lib, "test_fail", priority=PRIORITY, payload={"permanent": True})
    queue.enqueue(lib, "test_noop", priority=NORMAL)
    pause.pause(lib, "normal")
    queue.enqueue(lib, "test_noop", priority=NORMAL)  # stays queued behind the pause
    pause.resume(lib, "normal")
    Runner(lib, until_empty=True).run()
    pause.pause(lib, "priority")
    queue.enqueue(lib, "test_noop", priority=PRIORITY)
    end = last_event_id(lib.conn())
    for events in watch_engine.follow(lib, model.last_event_id, should_stop=lambda: model.last_event_id >= end):
        for e in events:
            model.apply(e)
    fresh = watch_engine.load(lib)
    assert comparable(model.snapshot()) == comparable(fresh.snapshot())
    snap = model.snapshot()
    assert snap["counts"] == {"queued": 1, "running": 0, "completed": 3, "failed": 1, "canceled": 0}
    assert snap["lanes"]["priority"]["paused"] and not snap["lanes"]["normal"]["paused"]
    assert snap["lanes"]["priority"]["queued_total"] == 1
    messages = {(f["type"], f["filename"], f["message"]) for f in snap["recent_failures"]}
    assert ("test_items", "b.jpg", "planned item failure") in messages
    assert ("test_fail", None, "permanent failure requested") in messages
    # The failed item of a completed job counts too, and every finished job left a line.
    assert snap["failed_items"] == 1
    finished = {(t["type"], t["status"], t["progress_done"], t["progress_failed"]) for t in snap["recently_finished"]}
    assert ("test_items", "completed", 2, 1) in finished and ("test_fail", "failed", 0, 0) in finished


def test_rate_and_eta_come_from_progress_events():
    model = watch_engine.QueueModel(priority_threshold=90)

    def job_event(eid, at, status, done, total=100):
        return {"id": eid, "kind": "job", "created_at": at, "project_id": 1, "job_id": 7, "data": {
            "id": 7, "status": status, "progress_done": done, "progress_failed": 0,
            "progress_total": total, "job_type": "generate_derivatives", "priority": 50,
            "project_folder": "Wedding", "attempts": 1, "error_message": None, "task_id": None, "task_type": None}}

    model.apply(job_event(1, 1000.0, "queued", 0))
    model.apply(job_event(2, 1000.0, "running", 0))
    for i in range(1, 11):
        model.apply(job_event(2 + i, 1000.0 + i, "running", 2 * i))  # 2 items a second
    model.apply({"id": 20, "kind": "item", "created_at": 1010.0, "project_id": 1, "job_id": 7,
                 "data": {"job_id": 7, "filename": "IMG_0020.JPG", "status": "done"}})
    job = model.snapshot(now=1010.0)["lanes"]["normal"]["running"][0]
    assert job["rate_per_second"] == 2.0
    assert job["eta_seconds"] == 40.0  # 80 items left
    assert job["current_file"] == "IMG_0020.JPG"
    stalled = model.snapshot(now=1020.0)["lanes"]["normal"]["running"][0]
    assert stalled["rate_per_second"] < 2.0  # no progress for 10 s: the estimate slows down
    model.apply(job_event(30, 1030.0, "completed", 100))
    snap = model.snapshot(now=1030.0)
    assert snap["lanes"]["normal"]["running"] == []
    assert snap["counts"]["completed"] == 1 and snap["counts"]["running"] == 0


def test_once_shows_a_running_job_with_progress_and_current_file(lib, tmp_path, cli):
    log = tmp_path / "items.log"
    names = [f"IMG_{i:04d}.JPG" for i in range(40)]
    job = queue.enqueue(lib, "test_items", priority=NORMAL,
                        payload={"log": str(log), "filenames": names, "seconds": 0.05})
    waiting = queue.enqueue(lib, "test_noop", priority=NORMAL)
    runner = Runner(lib, until_empty=True)
    for lane in runner.lanes:
        lane.slots = 1 if lane.name == "normal" else 0
    t = threading.Thread(target=runner.run)
    t.start()
    try:
        assert wait_for(lambda: queue.get_job(lib, job["id"])["progress_done"] >= 3)
        r = cli("jobs", "watch", "--once", "--json")
        assert r.code == 0, r
        snap = r.json()
        running = snap["lanes"]["normal"]["running"]
        assert [j["id"] for j in running] == [job["id"]]
        assert running[0]["progress_total"] == 40 and running[0]["progress_done"] >= 3
        assert running[0]["current_file"] in names
        assert [j["id"] for j in snap["lanes"]["normal"]["queued"]] == [waiting["id"]]
        assert snap["counts"]["running"] == 1 and snap["counts"]["queued"] == 1
        r = cli("jobs", "watch", "--once")
        assert r.code == 0, r
        assert "normal lane" in r.out and "test_items" in r.out and f"/40" in r.out
    finally:
        runner.request_stop()
        t.join(30)


def test_once_for_one_project_leaves_the_others_out(lib, cli):
    projects.create_project(lib, "Wedding")
    projects.create_project(lib, "Portraits")
    mine = queue.enqueue(lib, "test_unique", project="Wedding")
    queue.enqueue(lib, "test_unique", project="Portraits")
    r = cli("jobs", "watch", "--once", "--json", "--project", "Wedding")
    assert r.code == 0, r
    snap = r.json()
    assert snap["project"] == "Wedding"
    assert [j["id"] for j in snap["lanes"]["normal"]["queued"]] == [mine["id"]]
    assert snap["counts"]["queued"] == 1
    r = cli("jobs", "watch", "--once", "--project", "Nowhere")
    assert r.code == 3 and "no such project: Nowhere" in r.err


@pytest.mark.both_backends
def test_json_stream_follows_an_inline_runner_and_ctrl_c_exits_0(lib, library_path, tmp_path, backend):
    projects.create_project(lib, "Wedding")
    projects.create_project(lib, "Portraits")
    watcher = WatchProc(library_path, "--json", "--project", "Wedding")
    try:
        first = watcher.next_json()
        assert first["kind"] == "snapshot" and first["project"] == "Wedding"
        other = queue.enqueue(lib, "test_unique", project="Portraits")
        job = queue.enqueue(lib, "test_unique", project="Wedding")
        pause.pause(lib, "priority")
        Runner(lib, until_empty=True).run()
        seen = watcher.until(lambda e: e["kind"] == "job" and e["job_id"] == job["id"]
                             and e["data"]["status"] == "completed")
        statuses = [e["data"]["status"] for e in seen if e["kind"] == "job"]
        assert statuses == ["queued", "running", "completed"]
        assert all(e["job_id"] != other["id"] for e in seen)
        assert [e["data"]["paused"]["lanes"]["priority"] for e in seen if e["kind"] == "pause"] == [True]
    finally:
        code, rest, err = watcher.interrupt()
    assert code == 0, err
    assert "Traceback" not in err


def test_live_view_in_a_terminal_redraws_and_exits_cleanly_on_ctrl_c(lib, library_path):
    """The rich view needs a terminal: give it a real pseudo-terminal and read what it draws."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "photojobs", "--library", str(library_path), "jobs", "watch"],
                            stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                            env={**os.environ, "COLUMNS": "160", "LINES": "50", "TERM": "xterm"})
    os.close(slave)
    screen = bytearray()

    def drawn(text):
        deadline = time.time() + 30
        while time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    screen.extend(os.read(master, 65536))
                except OSError:
                    break
                if text in screen.decode(errors="replace"):
                    return True
        return False

    try:
        assert drawn("normal lane")
        job = queue.enqueue(lib, "test_noop", priority=NORMAL)
        Runner(lib, until_empty=True).run()
        assert queue.get_job(lib, job["id"])["status"] == "completed"
        assert drawn("completed 1")
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    err = proc.stderr.read().decode()
    assert proc.returncode == 0, err
    assert "Traceback" not in err


# --- against a running daemon ----------------------------------------------------------------------

from test_daemon_fixtures import start_daemon  # noqa: E402,F401 - fixture: a real `photojobs daemon run`


def test_once_against_a_running_daemon_shows_its_running_job(lib, start_daemon, tmp_path, cli):
    d = start_daemon()
    log = tmp_path / "items.log"
    job = queue.enqueue(lib, "test_items", priority=NORMAL, payload={
        "log": str(log), "filenames": [f"IMG_{i}.JPG" for i in range(100)], "seconds": 0.05})
    try:
        assert wait_for(lambda: queue.get_job(lib, job["id"])["progress_done"] >= 2)
        r = cli("jobs", "watch", "--once", "--json")
        assert r.code == 0, r
        running = r.json()["lanes"]["normal"]["running"]
        assert [j["id"] for j in running] == [job["id"]] and running[0]["progress_total"] == 100
    finally:
        queue.cancel(lib, job["id"])


def test_json_stream_from_the_daemon_resumes_after_dropped_connections(lib, library_path, start_daemon):
    # Streams end after 0.4 s without events, so the watcher must reconnect between the jobs.
    d = start_daemon({"daemon": {"sse_idle_timeout_seconds": 0.4, "sse_keepalive_seconds": 0.2}})
    projects.create_project(lib, "Wedding")
    watcher = WatchProc(library_path, "--json", config=d.config_path, verbose=True)
    try:
        start = watcher.next_json()["last_event_id"]
        jobs = []
        for _ in range(3):
            jobs.append(queue.enqueue(lib, "test_unique", project="Wedding"))
            assert wait_for(lambda: queue.get_job(lib, jobs[-1]["id"])["status"] == "completed")
            time.sleep(0.6)  # longer than the idle timeout: the stream drops before the next job
        pause.pause(lib, "normal")
        seen = watcher.until(lambda e: e["kind"] == "pause")
    finally:
        code, rest, err = watcher.interrupt()
    assert code == 0, err
    ids = [e["id"] for e in seen]
    assert ids == list(range(start + 1, start + 1 + len(ids)))  # every event once, in order, no gap
    done = [e["job_id"] for e in seen if e["kind"] == "job" and e["data"]["status"] == "completed"]
    assert done == [j["id"] for j in jobs]
    assert all(e["project_id"] == jobs[0]["project_id"] for e in seen if e["kind"] == "job")
    assert "following the daemon's event stream" in err
    assert "event stream resumed after event" in err


def test_json_stream_goes_on_from_the_event_log_when_the_daemon_stops(lib, library_path, start_daemon):
    d = start_daemon()
    watcher = WatchProc(library_path, "--json", verbose=True)
    try:
        watcher.next_json()
        first = queue.enqueue(lib, "test_noop", priority=NORMAL)
        watcher.until(lambda e: e["kind"] == "job" and e["job_id"] == first["id"] and e["data"]["status"] == "completed")
        d.stop()
        second = queue.enqueue(lib, "test_noop", priority=NORMAL)
        Runner(lib, until_empty=True).run()  # inline now: the daemon is gone
        watcher.until(lambda e: e["kind"] == "job" and e["job_id"] == second["id"] and e["data"]["status"] == "completed")
    finally:
        code, rest, err = watcher.interrupt()
    assert code == 0, err
    assert "the daemon went away; following the event log" in err


def test_pause_and_resume_are_honoured_by_the_daemon(lib, start_daemon, cli):
    d = start_daemon()
    assert cli("jobs", "pause", "--lane", "normal").code == 0
    waiting = queue.enqueue(lib, "test_noop", priority=NORMAL)
    urgent = queue.enqueue(lib, "test_noop", priority=PRIORITY)
    assert wait_for(lambda: queue.get_job(lib, urgent["id"])["status"] == "completed")
    assert queue.get_job(lib, waiting["id"])["status"] == "queued"
    # --wait hands the job to the daemon and sees it cannot start: it says so instead of hanging.
    assert cli("project", "create", "P").code == 0
    handed = cli("jobs", "enqueue", "P", "test_project_noop", "--wait")
    assert "stays queued in the daemon: the normal lane is paused" in handed.err
    assert cli("jobs", "resume").code == 0
    assert wait_for(lambda: queue.get_job(lib, waiting["id"])["status"] == "completed")
    assert wait_for(lambda: queue.get_job(lib, int(handed.out.split()[0]))["status"] == "completed")


def test_live_view_fits_80_columns_and_keeps_finished_tasks_and_failed_items(lib, library_path, tmp_path):
    """At 80x24 and 160x24: whole file names, failed items of completed jobs in the header, and a
    line for each finished task."""
    projects.create_project(lib, "Smith wedding 2024")
    log = tmp_path / "items.log"
    queue.enqueue(lib, "test_items", project="Smith wedding 2024", payload={
        "log": str(log), "filenames": [f"DSC{i:05d}.JPG" for i in range(8)], "fail": ["DSC00003.JPG", "DSC00005.JPG"]})
    Runner(lib, until_empty=True).run()
    names = [f"DSC{i:05d}_LONG_CAMERA_NAME.JPG" for i in range(200)]
    job = queue.enqueue(lib, "test_items", project="Smith wedding 2024",
                        payload={"log": str(log), "filenames": names, "seconds": 0.2})
    runner = Runner(lib, until_empty=True)
    t = threading.Thread(target=runner.run)
    t.start()
    try:
        assert wait_for(lambda: queue.get_job(lib, job["id"])["progress_done"] >= 2)
        for columns in (80, 160):
            screen, code = run_in_terminal(["--library", library_path, "jobs", "watch"], columns=columns, rows=24,
                                           until=lambda text: "_LONG_CAMERA_NAME.JPG" in text and "recent" in text)
            assert code == 0, screen
            assert "failed 0 · canceled 0 · failed items 2" in screen, screen
            assert "test_items · Smith wedding 2024  6 done, 2 failed  completed" in screen, screen
            drawn = [line for line in screen.splitlines() if "_LONG_CAMERA_NAME" in line]
            assert any(n in line for line in drawn for n in names), drawn   # the whole name, not cut
            assert all(len(line) <= columns for line in screen.splitlines()), screen
    finally:
        if queue.get_job(lib, job["id"])["status"] == "running":
            queue.cancel(lib, job["id"])
        runner.request_stop()
        t.join(30)
