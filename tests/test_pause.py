"""Pause and resume: durable lane flags honoured by inline runners, runner processes and the CLI."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest

from waiting import wait_for
from photojobs.engine import pause, queue
from photojobs.engine.events import read_after
from photojobs.engine.runner import Runner
from photojobs.errors import PhotojobsError

PRIORITY = 95  # at or above pipeline.priority_threshold (90): the priority lane
NORMAL = 50

# The engine contract: every test here that opens a library runs on both catalogs.
BACKENDS = ("sqlite", "postgresql")


def status(lib, job):
    return queue.get_job(lib, job["id"])["status"]


def pause_events(lib):
    return [e for e in read_after(lib.conn(), 0) if e["kind"] == "pause"]


def test_a_paused_lane_claims_nothing_while_the_other_lane_runs(lib):
    pause.pause(lib, "normal")
    normal = queue.enqueue(lib, "test_noop", priority=NORMAL)
    urgent = queue.enqueue(lib, "test_noop", priority=PRIORITY)
    Runner(lib, until_empty=True).run()  # "empty" means nothing claimable: a paused lane counts as empty
    assert status(lib, urgent) == "completed"
    assert status(lib, normal) == "queued"
    assert queue.get_job(lib, normal["id"])["attempts"] == 0

    pause.resume(lib, "normal")
    Runner(lib, until_empty=True).run()
    assert status(lib, normal) == "completed"


def test_pause_all_lets_the_running_job_finish_every_item_and_claims_nothing_new(lib, tmp_path):
    log = tmp_path / "items.log"
    names = [f"IMG_{i:04d}.JPG" for i in range(5)]
    running = queue.enqueue(lib, "test_items", priority=NORMAL,
                            payload={"log": str(log), "filenames": names, "seconds": 0.05})
    waiting = [queue.enqueue(lib, "test_noop", priority=p) for p in (NORMAL, PRIORITY)]
    # One slot in all, so `waiting` can only start after `running`, and only if nothing is paused.
    runner = Runner(lib, until_empty=True)
    for lane in runner.lanes:
        lane.slots = 1 if lane.name == "normal" else 0
    t = threading.Thread(target=runner.run)
    t.start()
    assert wait_for(lambda: log.exists() and "start IMG_0000.JPG" in log.read_text())
    pause.pause(lib)
    t.join(30)
    assert not t.is_alive()
    detail = queue.job_detail(lib, running["id"])
    assert detail["status"] == "completed"
    assert detail["items_summary"]["done"] == 5
    assert [status(lib, j) for j in waiting] == ["queued", "queued"]

    pause.resume(lib)
    Runner(lib, until_empty=True).run()
    assert [status(lib, j) for j in waiting] == ["completed", "completed"]


def test_resuming_one_lane_after_pausing_all_keeps_the_other_paused(lib):
    state = pause.pause(lib)
    assert state["all"] and state["lanes"] == {"priority": True, "normal": True}
    state = pause.resume(lib, "priority")
    assert not state["all"]
    assert state["lanes"] == {"priority": False, "normal": True}
    normal = queue.enqueue(lib, "test_noop", priority=NORMAL)
    urgent = queue.enqueue(lib, "test_noop", priority=PRIORITY)
    Runner(lib, until_empty=True).run()
    assert (status(lib, urgent), status(lib, normal)) == ("completed", "queued")
    assert pause.resume(lib)["any"] is False


def test_each_real_change_is_one_event_and_repeats_are_quiet(lib):
    first = pause.pause(lib, "normal")
    again = pause.pause(lib, "normal")
    assert first == again  # the original date of the pause is kept
    pause.resume(lib, "priority")  # was not paused: no change
    pause.resume(lib, "normal")
    events = pause_events(lib)
    assert [(e["data"]["action"], e["data"]["lane"]) for e in events] == [("pause", "normal"), ("resume", "normal")]
    assert events[0]["data"]["paused"]["lanes"]["normal"] is True
    assert events[1]["data"]["paused"]["any"] is False


def test_unknown_lane_is_refused(lib):
    with pytest.raises(PhotojobsError, match="unknown lane: fast"):
        pause.pause(lib, "fast")


def test_cli_pause_and_resume(cli, lib):
    r = cli("jobs", "pause", "--lane", "normal")
    assert r.code == 0, r
    assert "normal lane paused" in r.out
    assert pause.state(lib)["lanes"] == {"priority": False, "normal": True}
    r = cli("jobs", "pause", "--json")
    assert r.code == 0 and r.json()["all"] is True
    r = cli("jobs", "watch", "--once", "--json")
    assert r.json()["paused"]["lanes"] == {"priority": True, "normal": True}
    assert r.json()["lanes"]["normal"]["paused"] is True
    r = cli("jobs", "resume")
    assert r.code == 0 and "both lanes running" in r.out
    assert pause.state(lib)["any"] is False
    r = cli("jobs", "pause", "--lane", "sideways")
    assert r.code == 2
    assert "sideways" in r.err


def _runner_proc(library_path, *args):
    return subprocess.Popen([sys.executable, "-m", "photojobs", "--library", str(library_path), "jobs", "run", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_runner_process_honours_a_pause_set_by_another_process(lib, library_path, cli_proc):
    assert cli_proc("jobs", "pause", "--lane", "normal").code == 0
    normal = queue.enqueue(lib, "test_noop", priority=NORMAL)
    urgent = queue.enqueue(lib, "test_noop", priority=PRIORITY)
    proc = _runner_proc(library_path, "--until-empty")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert (status(lib, urgent), status(lib, normal)) == ("completed", "queued")


def test_resume_wakes_an_idle_runner_process(lib, library_path, cli_proc):
    pause.pause(lib)
    proc = _runner_proc(library_path)
    try:
        job = queue.enqueue(lib, "test_noop", priority=NORMAL)
        assert cli_proc("jobs", "resume").code == 0
        assert wait_for(lambda: status(lib, job) == "completed")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_commands_do_not_wait_on_a_paused_lane(cli, lib):
    """Without a daemon a command runs its task here; a paused lane must not make it hang."""
    from photojobs.engine import queue
    assert cli("project", "create", "P").code == 0
    assert cli("jobs", "pause", "--lane", "normal").code == 0
    r = cli("jobs", "enqueue", "P", "test_project_noop", "--wait")
    assert "stays queued: the normal lane is paused" in r.err
    job_id = int(r.out.split()[0])
    assert queue.get_job(lib, job_id)["status"] == "queued"
    assert cli("jobs", "resume").code == 0
    r = cli("jobs", "enqueue", "P", "test_project_noop", "--wait")
    assert r.code == 0 and "stays queued" not in r.err
    assert queue.get_job(lib, job_id)["status"] == "completed"   # the resumed inline run took both


def test_an_idle_runner_with_its_only_work_paused_sleeps_instead_of_spinning(lib):
    """A queued job in a paused lane is not due: the lane's slots sleep as if it were empty
    (they spun on a 1 ms claim loop, a core's worth of CPU for as long as the pause lasted)."""
    import resource
    import time
    pause.pause(lib, "normal")
    queue.enqueue(lib, "test_noop", priority=NORMAL)
    runner = Runner(lib)
    thread = threading.Thread(target=runner.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)   # started and settled into its idle wait
        before = resource.getrusage(resource.RUSAGE_SELF)
        time.sleep(1.5)
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        runner.request_stop()
        thread.join(30)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < 0.3, f"{cpu:.2f} s of CPU in 1.5 s of idling"
    assert not thread.is_alive()
