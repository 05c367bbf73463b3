"""The maintenance scheduler with an injected clock: due runs, restarts, missed runs, unique jobs."""

from __future__ import annotations

import pytest

from photojobs.engine import queue
from photojobs.engine.scheduler import Schedule, Scheduler, defined_schedules
from photojobs.photos import projects
from photojobs.storage.repos import schedule_runs

HOUR = 3600.0
T0 = 1_700_000_000.0
# Test job types stand in for the maintenance handlers (another issue writes those); the
# intervals come from the real config keys.
HOURLY = Schedule("test_unique", "scheduler.trash_maintenance_minutes", 100)
SIX_HOURLY = Schedule("test_noop", "scheduler.manifest_check_minutes", 95)

# The engine contract: every test here that opens a library runs on both catalogs.
BACKENDS = ("sqlite", "postgresql")


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def slib(open_library, clock):
    return open_library(clock=clock)


def _jobs(lib, type_):
    return queue.list_jobs(lib, type=[type_], limit=1000)


def test_first_run_one_interval_after_creation_then_each_interval(slib, clock):
    p = projects.create_project(slib, "Wedding")
    sched = Scheduler(slib, (HOURLY, SIX_HOURLY))
    first = sched.tick()
    assert first.queued == []                       # a new project is not swept at once
    assert first.next_due_at == T0 + HOUR
    clock.t = T0 + HOUR - 1
    assert sched.tick().queued == []
    clock.t = T0 + HOUR
    jobs = sched.tick().queued
    assert [(j["type"], j["priority"], j["project_id"], j["source"]) for j in jobs] == [
        ("test_unique", 100, p["id"], "scheduler")]
    assert schedule_runs.get(slib.conn(), p["id"], "test_unique") == T0 + HOUR
    clock.t = T0 + 6 * HOUR
    assert sorted(j["type"] for j in sched.tick().queued) == ["test_noop", "test_unique"]


def test_restart_neither_repeats_nor_skips(open_library, clock, library_path):
    lib1 = open_library(clock=clock)
    p = projects.create_project(lib1, "A")
    clock.t = T0 + HOUR
    assert len(Scheduler(lib1, (HOURLY,)).tick().queued) == 1
    lib1.close()
    # A "restarted daemon": a new library object and scheduler on the same catalog.
    clock.t = T0 + HOUR + 60
    lib2 = open_library(clock=clock)
    sched = Scheduler(lib2, (HOURLY,))
    after_restart = sched.tick()
    assert after_restart.queued == []               # not re-run just because we restarted
    assert after_restart.next_due_at == T0 + 2 * HOUR
    clock.t = T0 + 2 * HOUR
    assert [j["project_id"] for j in sched.tick().queued] == [p["id"]]   # and not skipped either


def test_missed_runs_while_asleep_run_once(slib, clock):
    projects.create_project(slib, "A")
    sched = Scheduler(slib, (HOURLY, SIX_HOURLY))
    clock.t = T0 + 50 * HOUR                         # the machine slept for two days
    woken = sched.tick()
    assert sorted(j["type"] for j in woken.queued) == ["test_noop", "test_unique"]
    assert woken.next_due_at == T0 + 51 * HOUR      # counted from the wake-up, not from the past
    again = sched.tick()
    assert again.queued == []                       # once, not once per missed interval
    assert again.next_due_at == T0 + 51 * HOUR
    assert len(_jobs(slib, "test_noop")) == 1


def test_unique_jobs_do_not_pile_up(slib, clock):
    projects.create_project(slib, "A")
    sched = Scheduler(slib, (HOURLY,))
    for hours in range(1, 6):                        # nobody runs the queue for five hours
        clock.t = T0 + hours * HOUR
        sched.tick()
    jobs = _jobs(slib, "test_unique")
    assert [j["status"] for j in jobs] == ["queued"]


def test_each_project_has_its_own_schedule(slib, clock):
    a = projects.create_project(slib, "A")
    clock.t = T0 + 0.5 * HOUR
    b = projects.create_project(slib, "B")
    sched = Scheduler(slib, (HOURLY,))
    clock.t = T0 + HOUR
    assert [j["project_id"] for j in sched.tick().queued] == [a["id"]]
    clock.t = T0 + 1.5 * HOUR
    assert [j["project_id"] for j in sched.tick().queued] == [b["id"]]


def test_zero_interval_disables_and_unknown_types_are_skipped(open_library, clock):
    # catalog.backups 0: no daily catalog backup either, so nothing at all is scheduled
    lib = open_library({"scheduler": {"trash_maintenance_minutes": 0}, "catalog": {"backups": 0}}, clock=clock)
    projects.create_project(lib, "A")
    ghost = Schedule("no_such_handler", "scheduler.folder_check_minutes", 95)
    sched = Scheduler(lib, (HOURLY, ghost))
    clock.t = T0 + 100 * HOUR
    idle = sched.tick()
    assert idle.queued == [] and idle.next_due_at is None


def test_default_schedule_matches_the_seed():
    # The photo domain defines it with the engine when its job types load.
    assert [(s.job_type, s.priority) for s in defined_schedules()] == [
        ("trash_maintenance", 100), ("manifest_check", 95), ("folder_check", 95), ("manifest_cleaning", 80)]
