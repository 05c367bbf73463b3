"""Per-project periodic maintenance: which jobs are due now, queued once each, last runs kept in the catalog."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..errors import BackupFailed, CatalogCorrupt, UnknownJobType
from ..library import Library
from ..photos import catalog_care
from ..storage import Connection, atomic
from ..storage.repos import projects as projects_repo
from ..storage.repos import schedule_runs as runs_repo
from . import registry
from .queue import enqueue

log = logging.getLogger("photojobs.scheduler")


@dataclass(frozen=True)
class Schedule:
    job_type: str
    config_key: str    # interval in minutes; 0 turns the schedule off
    priority: int


# The seed's schedule: trash hourly, checks every 6 h, cleaning daily (intervals in config).
SCHEDULES = (
    Schedule("trash_maintenance", "scheduler.trash_maintenance_minutes", 100),
    Schedule("manifest_check", "scheduler.manifest_check_minutes", 95),
    Schedule("folder_check", "scheduler.folder_check_minutes", 95),
    Schedule("manifest_cleaning", "scheduler.manifest_cleaning_minutes", 80),
)


@dataclass(frozen=True)
class Due:
    project_id: int
    project_folder: str
    schedule: Schedule
    due_at: float


class Scheduler:
    """Decides from the catalog alone, so a restart neither repeats nor skips a run.

    A project's first run of each job comes one interval after the project was created (an
    upload already checks what it imported). A run missed while the machine slept (or the
    daemon was down) is queued once when noticed, not once per missed interval, because the
    next one is counted from the moment it was queued."""

    def __init__(self, lib: Library, schedules: tuple[Schedule, ...] = SCHEDULES):
        self.lib = lib
        self.schedules = schedules
        self._unknown_logged: set[str] = set()
        self._backup_retry_at = 0.0
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
                out.append(Due(p["id"], p["folder"], s, base + interval))
        return out

    def due(self, now: float | None = None) -> list[Due]:
        now = self.lib.now() if now is None else now
        return [d for d in self.plan(self.lib.conn()) if d.due_at <= now]

    def next_due_at(self) -> float | None:
        """When the earliest schedule (or the daily catalog backup) comes due (None when nothing is)."""
        if self.damaged:
            return None
        plan = self.plan(self.lib.conn())
        backup = catalog_care.next_backup_due(self.lib)
        if backup is not None:
            backup = max(backup, self._backup_retry_at)
        return min([d.due_at for d in plan] + [backup] * (backup is not None), default=None)

    def backup(self, now: float) -> None:
        """The daily catalog backup. One that cannot be written is retried in an hour (the
        maintenance schedule goes on); a catalog found damaged stops the schedule, which would
        only write more into it."""
        if now < self._backup_retry_at:
            return
        try:
            catalog_care.backup_if_due(self.lib, now)
        except CatalogCorrupt as exc:
            self.damaged = exc.message
            log.error("scheduler stopped: %s", exc.message)
        except BackupFailed as exc:
            self._backup_retry_at = now + 3600
            log.error("%s; trying again in an hour", exc.message)

    def tick(self, now: float | None = None) -> list[dict]:
        """Take the daily catalog backup when due, then queue every due job (unique jobs return
        their queued twin); returns the jobs."""
        now = self.lib.now() if now is None else now
        self.backup(now)
        if self.damaged:
            return []
        queued = []
        for d in self.due(now):
            conn = self.lib.conn()
            with atomic(conn):
                # Re-check inside the write lock: another scheduler may have just queued it.
                last = runs_repo.get(conn, d.project_id, d.schedule.job_type)
                if last is not None and last + self.interval_seconds(d.schedule) > now:
                    continue
                if projects_repo.get(conn, d.project_id) is None:
                    continue
                job = enqueue(self.lib, d.schedule.job_type, project=d.project_id, priority=d.schedule.priority,
                              source="scheduler", conn=conn)
                runs_repo.record(conn, d.project_id, d.schedule.job_type, now)
            queued.append(job)
        return queued
