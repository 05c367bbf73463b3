"""Jobs fed items while they run: an import hands each verified photo to its processing job at once.

An open feed is a row in the settings table (`feed.<job id>` -> who feeds it), written in the
transaction that queues the job and deleted in the one that closes the feed. The job's handler
waits for more items while the feed is open and its feeder alive; a feeder killed mid-import
(its process gone, or silent for pipeline.stale_seconds on another host) counts as closed, so
no job waits forever and no photo it was given stays pending.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Callable, Iterable

from ..library import Library
from ..storage import Connection, atomic
from ..storage.repos import job_items as items_repo
from ..storage.repos import jobs as jobs_repo
from ..storage.repos import settings as settings_repo
from .queue import emit_job, start_task

PREFIX = "feed."
# Feeds open in this process, by token: a key naming our pid but no live token was left by an
# earlier life of this pid (a daemon restarted as pid 1 in a container), as for runners.
_LIVE: set[str] = set()


def _key(job_id: int) -> str:
    return f"{PREFIX}{job_id}"


class Feed:
    """The processing task of one import, started with its first photo and fed the rest as they land.

    `add` and `close` may be called from the import's thread only. Without `incremental`, the
    photos are collected and the task is queued by `close` with all of them (the flow before
    feeds: nothing is processed until the import ends)."""

    def __init__(self, lib: Library, task_type: str, project_id: int, *, source: str, incremental: bool = True,
                 on_start: Callable[[dict], None] | None = None):
        self.lib = lib
        self.on_start = on_start
        self.task_type = task_type
        self.project_id = project_id
        self.source = source
        self.incremental = incremental
        self.job: dict | None = None
        self._token = uuid.uuid4().hex[:12]
        self._given: set[int] = set()      # photos handed to the job (or collected)
        self._collected: dict[int, str] = {}
        self._closed = False

    def add(self, photos: Iterable[tuple[int, str]]) -> None:
        """Hand photos (id, display name) to the job. A photo given before whose item has not started
        yet is not given twice; one whose item already ran is given again (it changed since)."""
        photos = dict(photos)
        if not photos or self._closed:
            return
        if not self.incremental:
            self._collected.update(photos)
            return
        if self.job is None:
            self._start(sorted(photos.items()))
            return
        conn = self.lib.conn()
        with atomic(conn):
            row = jobs_repo.get(conn, self.job["id"])
            if row is None or row["status"] in jobs_repo.TERMINAL:
                return  # canceled (or failed) meanwhile: its photos stay pending, as with any canceled job
            waiting = items_repo.pending_photo_ids(conn, row["id"], [p for p in photos if p in self._given])
            items = [(p, name) for p, name in sorted(photos.items()) if p not in waiting]
            if not items:
                return
            items_repo.insert_many(conn, row["id"], items, self.lib.now())
            counts = items_repo.counts(conn, row["id"])
            jobs_repo.set_progress(conn, row["id"], done=counts["done"] + counts["skipped"], failed=counts["failed"],
                                   total=sum(counts.values()), now=self.lib.now())
            settings_repo.put(conn, _key(row["id"]), self._who(), self.lib.now())
            emit_job(self.lib, conn, jobs_repo.get(conn, row["id"]))
        self._given.update(p for p, _ in items)

    def close(self) -> dict | None:
        """No more photos: the job finishes once it has done what it was given. Returns the job
        (queued now when not incremental), or None when no photo was given."""
        if self._closed:
            return self.job
        self._closed = True
        if not self.incremental:
            if self._collected:
                self.job = start_task(self.lib, self.task_type, project=self.project_id,
                                      items=sorted(self._collected.items()), source=self.source)
                if self.on_start is not None:
                    self.on_start(self.job)
            return self.job
        if self.job is not None:
            conn = self.lib.conn()
            with atomic(conn):
                settings_repo.delete(conn, _key(self.job["id"]))
            _LIVE.discard(self._token)
            self.lib.waker.notify()  # a handler waiting in this process looks again now
        return self.job

    def _start(self, items: list[tuple[int, str]]) -> None:
        conn = self.lib.conn()
        _LIVE.add(self._token)
        with atomic(conn):
            self.job = start_task(self.lib, self.task_type, project=self.project_id, items=items,
                                  source=self.source, conn=conn)
            settings_repo.put(conn, _key(self.job["id"]), self._who(), self.lib.now())
        self._given.update(p for p, _ in items)
        if self.on_start is not None:
            self.on_start(self.job)

    def _who(self) -> str:
        from .recovery import host_id
        return json.dumps({"pid": os.getpid(), "host": host_id(self.lib.config), "token": self._token,
                           "at": self.lib.now()})


def is_open(lib: Library, conn: Connection, job_id: int) -> bool:
    """True while job `job_id` may still be given items: its feed is open and its feeder alive."""
    raw = settings_repo.get(conn, _key(job_id))
    if raw is None:
        return False
    from .recovery import host_id, pid_alive
    try:
        who = json.loads(raw)
        pid, host, token, at = int(who["pid"]), who["host"], who["token"], float(who["at"])
    except (ValueError, KeyError, TypeError):
        return False
    if host != host_id(lib.config):
        return lib.now() - at < lib.config.pipeline.stale_seconds
    if pid == os.getpid():
        return token in _LIVE
    return pid_alive(pid)


def forget(lib: Library, conn: Connection, job_id: int) -> None:
    """Delete the feed record of a job whose feeder is gone (inside the caller's transaction)."""
    if not is_open(lib, conn, job_id):
        settings_repo.delete(conn, _key(job_id))
