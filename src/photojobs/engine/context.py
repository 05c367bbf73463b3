"""What a handler sees of its job: payload, project, items, progress, cancellation and events."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

from ..config import Config
from ..library import Library
from ..storage import Connection, Row
from ..storage import atomic
from ..storage.db import retry_when_busy
from ..storage.repos import job_items as items_repo
from ..storage.repos import jobs as jobs_repo
from . import feed
from .events import emit
from .queue import ITEM_EVENT, emit_job, item_event, job_to_dict

T = TypeVar("T")
log = logging.getLogger("photojobs.jobs")


class JobInterrupted(Exception):
    """Base of the exceptions that end a handler early without it having failed."""


class JobCanceled(JobInterrupted):
    pass


class JobReleased(JobInterrupted):
    """The runner is stopping: give the job back to the queue (its done items stay done)."""


class LostOwnership(JobInterrupted):
    """Another runner took the job over (this one was presumed dead); stop touching it."""


class JobContext:
    """Handed to a handler; every write is checked against this worker's claim on the job, in
    the writing transaction (`_guard`): a worker whose job was taken over writes nothing more."""

    def __init__(self, lib: Library, row: Row, project: Row | None,
                 stopping: Callable[[], bool] = lambda: False):
        self.lib = lib
        self.config: Config = lib.config
        self.row = row
        self.job_id: int = row["id"]
        self.type: str = row["type"]
        self.worker_id: str = row["worker_id"]
        self.payload: dict[str, Any] = json.loads(row["payload"] or "{}")
        self.project = project
        self.project_folder: str | None = project["folder"] if project is not None else None
        self._stopping = stopping
        self._counts: dict[str, int] | None = None
        self._touched_items = False

    @property
    def conn(self) -> Connection:
        return self.lib.conn()

    @property
    def project_path(self) -> Path:
        assert self.project_folder is not None, "job has no project"
        return self.lib.project_path(self.project_folder)

    def now(self) -> float:
        return self.lib.now()

    # --- cancellation -------------------------------------------------------------------
    def check(self) -> None:
        """Call between items: raises if the job was canceled, taken over, or must be released."""
        state = jobs_repo.owned(self.conn, self.job_id, self.worker_id)
        if state is None:
            raise LostOwnership(f"job {self.job_id} is no longer owned by {self.worker_id}")
        if state["cancel_requested"]:
            raise JobCanceled("canceled by user")
        if self._stopping():
            raise JobReleased("runner stopping")

    @property
    def stopping(self) -> bool:
        return self._stopping()

    # --- items --------------------------------------------------------------------------
    def open_items(self, after_id: int = 0) -> list[Row]:
        """Items still to do (pending, or running when a crashed attempt left them so); with
        `after_id`, only items added after that one (a fed job's new arrivals)."""
        return items_repo.open_items(self.conn, self.job_id, after_id=after_id)

    def fed(self) -> bool:
        """True while an import may still add items to this job (see engine/feed.py)."""
        return feed.is_open(self.lib, self.conn, self.job_id)

    def forget_feed(self) -> None:
        """Drop the feed record a feeder that died left behind (an open feed is left alone)."""
        def write(conn: Connection) -> None:
            self._guard(conn)
            feed.forget(self.lib, conn, self.job_id)
        self._write(write)

    def has_items(self) -> bool:
        return sum(self._load_counts().values()) > 0

    def add_items(self, items: Iterable[tuple[int | None, str]]) -> int:
        """Create items for a job that was queued without them (e.g. from candidates)."""
        items = list(items)

        def write(conn: Connection) -> int:
            self._guard(conn)
            n = items_repo.insert_many(conn, self.job_id, items, self.now())
            self._counts = None
            self._write_progress(conn)
            return n
        return self._write(write)

    def start_item(self, item: Row | int) -> None:
        item_id = item if isinstance(item, int) else item["id"]

        def write(conn: Connection) -> None:
            self._guard(conn)
            items_repo.set_status(conn, item_id, "running", self.now())
        self._write(write)

    def finish_item(self, item: Row, status: str = "done", message: str | None = None,
                    event: dict[str, Any] | None = None, *, before_commit: Callable[[Connection], None] | None = None,
                    photo_id: int | None = None) -> None:
        """Record an item's outcome, emit its item event and the job's progress, in one transaction.

        `before_commit(conn)` lets the handler write its own result in the same transaction, so
        catalog and job never disagree after a crash. `photo_id` names the catalog row of an item
        queued by name (the event describes it as it is after the write)."""
        assert status in ("done", "failed", "skipped")

        def write(conn: Connection) -> None:
            self._guard(conn)
            if before_commit is not None:
                before_commit(conn)
            items_repo.set_status(conn, item["id"], status, self.now(), message)
            data = item_event(self.lib, conn, self.job_id, item, self.project_folder, status, message,
                              photo_id=photo_id)
            if event:
                data.update(event)
            emit(self.lib, conn, ITEM_EVENT, data, project_id=self.row["project_id"], job_id=self.job_id)
            self._counts = None  # recounted from the table: the truth after resumption too
            self._touched_items = True
            self._write_progress(conn)
        self._write(write)

    def has_counts(self) -> bool:
        """True once the handler touched items (so the runner can report item failures)."""
        return self._counts is not None or self._touched_items

    def counts(self) -> dict[str, int]:
        return dict(self._load_counts())

    def _load_counts(self) -> dict[str, int]:
        if self._counts is None:
            self._counts = items_repo.counts(self.conn, self.job_id)
        return self._counts

    def _write_progress(self, conn: Connection) -> None:
        c = self._load_counts()
        total = sum(c.values())
        jobs_repo.set_progress(conn, self.job_id, done=c["done"] + c["skipped"], failed=c["failed"],
                               total=total, now=self.now())
        emit_job(self.lib, conn, jobs_repo.get(conn, self.job_id), self.project_folder)

    def set_progress(self, done: int, total: int, failed: int = 0) -> None:
        """Progress for jobs without items (e.g. a folder scan); `failed` of `total` could not be
        done, and count as failed items do (`jobs list --failed-items`)."""
        def write(conn: Connection) -> None:
            self._guard(conn)
            jobs_repo.set_progress(conn, self.job_id, done=done, failed=failed, total=total, now=self.now())
            emit_job(self.lib, conn, jobs_repo.get(conn, self.job_id), self.project_folder)
        self._write(write)

    # --- events -------------------------------------------------------------------------
    def emit(self, kind: str, data: dict[str, Any]) -> None:
        self.emit_many([(kind, data)])

    def emit_many(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Emit (kind, data) events in one transaction: watchers see all of them or none."""
        def write(conn: Connection) -> None:
            self._guard(conn)
            for kind, data in events:
                emit(self.lib, conn, kind, data, project_id=self.row["project_id"], job_id=self.job_id)
        self._write(write)

    def _write(self, body: Callable[[Connection], T]) -> T:
        """Run `body` in a write transaction, waiting out a catalog locked by another process
        (a slow disk, a long writer) for as long as it takes: the work it records is done and
        must not be redone, nor the job's attempt spent on it."""
        def transaction() -> T:
            with atomic(self.conn) as conn:
                return body(conn)
        return retry_when_busy(transaction, give_up=self._stopping,
                               on_retry=lambda exc: log.warning("job %s: catalog busy; retrying its write",
                                                                self.job_id))

    def _guard(self, conn: Connection) -> None:
        """First in every write transaction: the job is still ours, and stays ours until it
        commits (the row is locked on PostgreSQL), or nothing is written (see jobs_repo.owned)."""
        if jobs_repo.owned(conn, self.job_id, self.worker_id) is None:
            raise LostOwnership(f"job {self.job_id} is no longer owned by {self.worker_id}")

    def job(self) -> dict[str, Any]:
        return job_to_dict(jobs_repo.get(self.conn, self.job_id))
