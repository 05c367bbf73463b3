"""Periodic work: the per-project schedules and library-wide chores the domain defines, each run once when due, last runs kept in the catalog."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import CatalogCorrupt, PhotojobsError, UnknownJobType
from ..library import Library
from ..storage import Connection, atomic
from ..storage.repos import projects as projects_repo
from ..storage.repos import schedule_runs as runs_repo
from . import registry
from .queue import enqueue

log = logging.getLogger("photojobs.scheduler")


@dataclass(frozen=True)
class Schedule:
    """A job queued for every project every `config_key` minutes."""
    job_type: str
    config_key: str    # interval in minutes; 0 turns the schedule off
    priority: int


@dataclass(frozen=True)
class Chore:
    """Library-wide work the scheduler does itself, not through the queue (e.g. a backup).

    `due_at(lib)` says when it next comes due (None: never); `run(lib, now)` does it when due
    and keeps its own record of the last run, so a restart neither repeats nor skips one. A
    failure of a `retry_on` type is logged and tried again `retry_seconds` later (the
    schedules go on); CatalogCorrupt stops the scheduler, which would only write more into
    a damaged catalog."""
    name: str
    due_at: Callable[[Library], float | None]
    run: Callable[[Library, float], Any]
    retry_on: tuple[type[PhotojobsError], ...] = ()
    retry_seconds: float = 3600


# What the domain defined (when its handlers were loaded, see registry.load).
_SCHEDULES: dict[str, Schedule] = {}
_CHORES: dict[str, Chore] = {}


def define(job_type: str, config_key: str, priority: int) -> Schedule:
    """Queue `job_type` for every project every `config_key` minutes (one schedule per type)."""
    _SCHEDULES[job_type] = Schedule(job_type, config_key, priority)
    return _SCHEDULES[job_type]


def define_chore(chore: Chore) -> Chore:
    _CHORES[chore.name] = chore
    return chore


def defined_schedules() -> tuple[Schedule, ...]:
    registry.load()
    return tuple(_SCHEDULES.values())


def defined_chores() -> tuple[Chore, ...]:
    registry.load()
    return tuple(_CHORES.values())


@dataclass(frozen=True)
class Due:
    project_id: int
    project_folder: str
    schedule: Schedule
    interval: float
    due_at: float


@dataclass(frozen=True)
class Tick:
    """What one tick did: the jobs it queued, and when the earliest schedule or chore next comes
    due (None when nothing is), so the caller knows how long to sleep."""
    queued: list[dict]
    next_due_at: float | None


class Scheduler:
    """Decides from the catalog alone, so a restart neither repeats nor skips a run.

    A project's first run of each job comes one interval after the project was created (an
    upload already checks what it imported). A run missed while the machine slept (or the
    daemon was down) is queued once when noticed, not once per missed interval, because the
    next one is counted from the moment it was queued. `schedules` and `chores` default to
    the ones the domain defined."""

    def __init__(self, lib: Library, schedules: tuple[Schedule, ...] | None = None,
                 chores: tuple[Chore, ...] | None = None):
        self.lib = lib
        self.schedules = defined_schedules() if schedules is None else schedules
        self.chores = defined_chores() if chores is None else chores
        self._unknown_logged: set[str] = set()
        self._retry_at: dict[str, float] = {}   # chore name -> when a failed one is tried again
        self.damaged: str | None = None   # the catalog failed its check: queue nothing more

    def interval_seconds(self, schedule: Schedule) -> float | None:
        minutes = self.lib.config.get(schedule.config_key, 0) or 0
        return float(minutes) * 60 if minutes > 0 else None

    def _active(self) -> list[tuple[Schedule, float]]:
        out = []
        for s in self.schedules:
            interval = self.interval_seconds(s)
            if interval is None:
                continue
            try:
                registry.get(s.job_type)
            except UnknownJobType:
                if s.job_type not in self._unknown_logged:
                    self._unknown_logged.add(s.job_type)
                    log.warning("scheduler: no handler for %s yet; not scheduling it", s.job_type)
                continue
            out.append((s, interval))
        return out

    def plan(self, conn: Connection) -> list[Due]:
        """Every (project, schedule) with the time it next comes due."""
        last = runs_repo.last_runs(conn)
        active = self._active()
        out = []
        for p in projects_repo.list_all(conn):
            for s, interval in active:
                base = last.get((p["id"], s.job_type), p["created_at"])
                out.append(Due(p["id"], p["folder"], s, interval, base + interval))
        return out

    def run_chores(self, now: float) -> None:
        """Each chore that is due (and not waiting out a failure's retry)."""
        for chore in self.chores:
            if now < self._retry_at.get(chore.name, 0.0):
                continue
            try:
                chore.run(self.lib, now)
            except CatalogCorrupt as exc:
                self.damaged = exc.message
                log.error("scheduler stopped: %s", exc.message)
                return
            except chore.retry_on as exc:
                self._retry_at[chore.name] = now + chore.retry_seconds
                log.error("%s; trying again in %g minutes", exc.message, chore.retry_seconds / 60)

    def tick(self, now: float | None = None) -> Tick:
        """Run the chores that are due, then queue every due job (unique jobs return their
        queued twin), from one plan of the catalog."""
        now = self.lib.now() if now is None else now
        self.run_chores(now)
        if self.damaged:
            return Tick([], None)
        queued: list[dict] = []
        next_times: list[float] = []
        for d in self.plan(self.lib.conn()):
            if d.due_at > now:
                next_times.append(d.due_at)
                continue
            conn = self.lib.conn()
            with atomic(conn):
                if projects_repo.get(conn, d.project_id) is None:
                    continue
                # Claim the period and queue its job in one transaction: another scheduler (an old
                # leader handing over, another host) that just queued it leaves us nothing to claim.
                if not runs_repo.claim_run(conn, d.project_id, d.schedule.job_type, now, d.interval):
                    last = runs_repo.get(conn, d.project_id, d.schedule.job_type)
                    next_times.append((last if last is not None else now) + d.interval)
                    continue
                job = enqueue(self.lib, d.schedule.job_type, project=d.project_id, priority=d.schedule.priority,
                              source="scheduler", conn=conn)
            queued.append(job)
            next_times.append(now + d.interval)
        for chore in self.chores:
            at = chore.due_at(self.lib)
            if at is not None:
                next_times.append(max(at, self._retry_at.get(chore.name, 0.0)))
        return Tick(queued, min(next_times, default=None))
