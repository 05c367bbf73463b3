"""A live model of the queue for `jobs watch`: lanes, progress with rate and ETA, counts, failures, pauses.

The model is seeded once from the catalog (one consistent read) and then kept current by
applying events in id order, whether they come from tailing the event log here or from the
daemon's SSE stream. Nothing in it knows how it is drawn.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ..library import Library
from ..storage.db import data_version, read_snapshot
from ..storage.repos import events as events_repo
from ..storage.repos import job_items as items_repo
from ..storage.repos import jobs as jobs_repo
from . import tasks
from .events import row_to_event
from .lanes import LANES, lane_of
from .pause import PAUSE_EVENT, paused_state
from ..timefmt import iso
from .queue import JOB_EVENT, job_event, resolve_project

STATUSES = ("queued", "running", "completed", "failed", "canceled")
OPEN = ("queued", "running")
RATE_WINDOW_SECONDS = 30.0
FAILURES_KEPT = 8
QUEUED_SHOWN = 10
FINISHED_KEPT = 5          # tasks whose last finished step is shown
FINISHED_LOOKBACK = 30     # finished jobs read at seed time to rebuild those tasks


@dataclass
class JobState:
    id: int
    type: str
    status: str
    priority: int
    project_id: int | None
    project_folder: str | None
    task_type: str | None = None
    progress_done: int = 0
    progress_failed: int = 0
    progress_total: int = 0
    attempts: int = 0
    error_message: str | None = None
    started_at: float | None = None
    current_file: str | None = None
    # (time, items finished) pairs from progress events, for the rate over the last seconds.
    samples: deque = field(default_factory=lambda: deque(maxlen=256))

    def rate(self, now: float) -> float | None:
        """Items per second over the last RATE_WINDOW_SECONDS (falls back to the average since start)."""
        finished = self.progress_done + self.progress_failed
        window = [s for s in self.samples if s[0] >= now - RATE_WINDOW_SECONDS]
        if len(window) >= 2 and window[-1][1] > window[0][1]:
            # Measured to `now`, not to the last event: a stalled job's rate decays instead of freezing.
            span = max(now, window[-1][0]) - window[0][0]
            return (window[-1][1] - window[0][1]) / span if span > 0 else None
        if self.started_at is not None and finished and now > self.started_at:
            return finished / (now - self.started_at)
        return None

    def to_dict(self, now: float) -> dict:
        rate = self.rate(now) if self.status == "running" else None
        remaining = max(0, self.progress_total - self.progress_done - self.progress_failed)
        eta = remaining / rate if rate and self.progress_total else None
        return {"id": self.id, "type": self.type, "status": self.status, "priority": self.priority,
                "project_folder": self.project_folder, "task_type": self.task_type,
                "progress_done": self.progress_done, "progress_failed": self.progress_failed,
                "progress_total": self.progress_total, "attempts": self.attempts,
                "current_file": self.current_file, "rate_per_second": round(rate, 3) if rate else None,
                "eta_seconds": round(eta, 1) if eta is not None else None,
                "started_at": iso(self.started_at), "error_message": self.error_message}


class QueueModel:
    """The queue as `jobs watch` shows it; `apply(event)` keeps it current."""

    def __init__(self, *, priority_threshold: int, project_id: int | None = None,
                 project_folder: str | None = None):
        self.priority_threshold = priority_threshold
        self.project_id = project_id
        self.project_folder = project_folder
        self.jobs: dict[int, JobState] = {}          # queued and running jobs in scope
        self.statuses: dict[int, str] = {}           # every job in scope, for the counts
        self.counts: Counter = Counter()
        self.failures: deque = deque(maxlen=FAILURES_KEPT)
        self.failed_items: set[int] = set()           # ids of failed items in scope
        self.finished: deque = deque(maxlen=FINISHED_KEPT)  # a summary per task, newest first
        self.paused: dict = {"all": False, "lanes": {l: False for l in LANES}, "any": False, "since": {}}
        self.last_event_id = 0

    def lane(self, priority: int) -> str:
        return lane_of(priority, self.priority_threshold)

    def wants(self, event: dict) -> bool:
        """Whether an event concerns this view (pauses concern every view)."""
        if self.project_id is None or event.get("kind") == PAUSE_EVENT:
            return True
        if event.get("project_id") is not None:
            return event["project_id"] == self.project_id
        return (event.get("data") or {}).get("project_folder") == self.project_folder

    # --- keeping current ------------------------------------------------------------------
    def apply(self, event: dict) -> None:
        self.last_event_id = max(self.last_event_id, int(event.get("id") or 0))
        if not self.wants(event):
            return
        kind, data = event.get("kind"), event.get("data") or {}
        at = event.get("created_at") or time.time()
        if kind == JOB_EVENT:
            self._apply_job(data, event.get("project_id"), at)
        elif kind == "item":
            job = self.jobs.get(data.get("job_id"))
            # The item's own name (a file name), as the seed shows it; older events have only `filename`.
            name = data.get("item_filename") or data.get("filename")
            if job is not None and name:
                job.current_file = name
            if data.get("item_id") is not None:
                if data.get("status") == "failed":
                    self.failed_items.add(data["item_id"])
                else:   # retried: pending again
                    self.failed_items.discard(data["item_id"])
            if data.get("status") == "failed":
                self.failures.appendleft({
                    "job_id": data.get("job_id"), "type": job.type if job else None,
                    "project_folder": data.get("project_folder"), "filename": name,
                    "message": data.get("message"), "at": iso(at)})
        elif kind == PAUSE_EVENT and isinstance(data.get("paused"), dict):
            self.paused = data["paused"]

    def _apply_job(self, data: dict, project_id: int | None, at: float) -> None:
        job_id, status = data["id"], data["status"]
        previous = self.statuses.get(job_id)
        if previous != status:
            if previous is not None:
                self.counts[previous] -= 1
            self.counts[status] += 1
            self.statuses[job_id] = status
        if status not in OPEN:
            self.jobs.pop(job_id, None)
            if previous != status:
                self._finished(data, at)
            if status == "failed" and previous != "failed":
                self.failures.appendleft({
                    "job_id": job_id, "type": data.get("job_type"), "project_folder": data.get("project_folder"),
                    "filename": None, "message": data.get("error_message"), "at": iso(at)})
            return
        job = self.jobs.get(job_id)
        if job is None:
            job = self.jobs[job_id] = JobState(
                id=job_id, type=data.get("job_type") or "?", status=status, priority=data.get("priority", 0),
                project_id=project_id, project_folder=data.get("project_folder"))
        job.status = status
        job.priority = data.get("priority", job.priority)
        job.task_type = data.get("task_type")
        job.attempts = data.get("attempts", job.attempts)
        job.error_message = data.get("error_message")
        job.progress_done = data.get("progress_done", 0)
        job.progress_failed = data.get("progress_failed", 0)
        job.progress_total = data.get("progress_total", 0)
        if status == "running":
            if previous != "running":
                job.started_at, job.current_file = at, None
                job.samples.clear()
            job.samples.append((at, job.progress_done + job.progress_failed))
        else:
            job.started_at, job.current_file = None, None
            job.samples.clear()

    def _finished(self, data: dict, at: float) -> None:
        """Keep one line per task (a job alone is its own task): which jobs, how far, how it ended."""
        key = data.get("task_id") or f"job-{data['id']}"
        entry = next((e for e in self.finished if e["key"] == key), None)
        if entry is None:
            entry = {"key": key, "task_id": data.get("task_id"), "type": data.get("task_type") or data.get("job_type"),
                     "project_folder": data.get("project_folder"), "jobs": [], "status": None,
                     "progress_done": 0, "progress_failed": 0, "progress_total": 0, "error_message": None}
        else:
            self.finished.remove(entry)
        entry["jobs"] = sorted({*entry["jobs"], data["id"]})
        if data.get("progress_total", 0) > entry["progress_total"]:
            # The counts of the step with the most items (an upload's photos, not its checks).
            entry.update(progress_done=data.get("progress_done", 0), progress_failed=data.get("progress_failed", 0),
                         progress_total=data.get("progress_total", 0))
        status = data["status"]
        if entry["status"] not in ("failed", "canceled"):
            last = data.get("task_type") is None or tasks.is_last_step(data["task_type"], data.get("job_type"))
            entry["status"] = status if status != "completed" or last else "step done"
            entry["error_message"] = data.get("error_message")
        entry["finished_at"] = iso(at)
        self.finished.appendleft(entry)

    # --- reading ----------------------------------------------------------------------------
    def snapshot(self, now: float | None = None) -> dict:
        """A JSON-ready picture of the queue (what `jobs watch --once --json` prints)."""
        now = time.time() if now is None else now
        lanes = {}
        for name in LANES:
            mine = [j for j in self.jobs.values() if self.lane(j.priority) == name]
            running = sorted((j for j in mine if j.status == "running"), key=lambda j: j.id)
            queued = sorted((j for j in mine if j.status == "queued"), key=lambda j: (-j.priority, j.id))
            lanes[name] = {"paused": bool(self.paused["lanes"].get(name)),
                           "running": [j.to_dict(now) for j in running],
                           "queued": [j.to_dict(now) for j in queued[:QUEUED_SHOWN]],
                           "queued_total": len(queued)}
        return {"kind": "snapshot", "taken_at": iso(now), "last_event_id": self.last_event_id,
                "project": self.project_folder, "paused": self.paused,
                "counts": {s: max(0, self.counts.get(s, 0)) for s in STATUSES},
                "failed_items": len(self.failed_items),
                "lanes": lanes, "recent_failures": list(self.failures),
                "recently_finished": [{k: v for k, v in e.items() if k != "key"} for e in self.finished]}


def stream_envelope(event_id: int, payload: dict, *, now: float | None = None) -> dict:
    """Turn a daemon stream payload back into an event-log envelope, so a model (and
    `jobs watch --json`) sees the same shape from either source."""
    data = {k: v for k, v in payload.items() if k not in ("event_id", "event_at", "job_id", "project_id", "kind")}
    if payload.get("event_at") is not None:
        now = float(payload["event_at"])
    if "job_id" in payload and payload.get("kind") == "item":
        data["job_id"] = payload["job_id"]   # an item event's own field, not only the envelope's
    return {"id": event_id, "kind": payload.get("kind") or "message",
            "created_at": time.time() if now is None else now,
            "project_id": payload.get("project_id"), "job_id": payload.get("job_id"), "data": data}


def load(lib: Library, *, project: str | int | None = None) -> QueueModel:
    """Seed a model from the catalog in one read snapshot, so no event is missed or counted twice."""
    conn = lib.catalog.new_connection()
    try:
        with read_snapshot(conn):  # jobs, items and the last event id agree
            return _seed(lib, conn, project)
    finally:
        conn.close()


def _seed(lib: Library, conn, project: str | int | None) -> QueueModel:
    proj = resolve_project(conn, project, note=lib.note)
    project_id = proj["id"] if proj is not None else None
    model = QueueModel(priority_threshold=lib.config.pipeline.priority_threshold, project_id=project_id,
                       project_folder=proj["folder"] if proj is not None else None)
    model.last_event_id = events_repo.last_id(conn)
    model.statuses = jobs_repo.status_map(conn, project_id=project_id)
    model.counts = Counter(model.statuses.values())
    open_rows = jobs_repo.list_jobs(conn, project_id=project_id, statuses=OPEN, limit=len(model.statuses) + 1,
                                    newest_first=False)
    for row in open_rows:
        job_id = row["id"]
        job = JobState(id=row["id"], type=row["type"], status=row["status"], priority=row["priority"],
                       project_id=row["project_id"], project_folder=row["project_folder"],
                       task_type=row["task_type"], progress_done=row["progress_done"],
                       progress_failed=row["progress_failed"], progress_total=row["progress_total"],
                       attempts=row["attempts"], error_message=row["error_message"])
        if row["status"] == "running":
            job.started_at = row["started_at"]
            item = items_repo.current(conn, job_id)
            job.current_file = item["filename"] if item is not None else None
        model.jobs[job_id] = job
    failures = [{"job_id": r["id"], "type": r["type"], "project_folder": r["project_folder"], "filename": None,
                 "message": r["error_message"], "at": r["finished_at"]}
                for r in jobs_repo.recent_failed(conn, limit=FAILURES_KEPT, project_id=project_id)]
    failures += [{"job_id": r["job_id"], "type": r["job_type"], "project_folder": r["project_folder"],
                  "filename": r["filename"], "message": r["message"], "at": r["updated_at"]}
                 for r in items_repo.recent_failed(conn, limit=FAILURES_KEPT, project_id=project_id)]
    failures.sort(key=lambda f: f["at"] or 0, reverse=True)
    for f in reversed(failures[:FAILURES_KEPT]):
        f["at"] = iso(f["at"])
        model.failures.appendleft(f)
    model.failed_items = items_repo.failed_ids(conn, project_id=project_id)
    for row in jobs_repo.recent_finished(conn, limit=FINISHED_LOOKBACK, project_id=project_id):
        model._finished(job_event(row, row["project_folder"]), row["finished_at"])
    model.paused = paused_state(conn)
    return model


def follow(lib: Library, after_id: int, *, should_stop: Callable[[], bool], tick_seconds: float = 0.5,
           poll_seconds: float = 0.05, batch: int = 500) -> Iterator[list[dict]]:
    """Yield batches of events after `after_id` as other connections commit them.

    The data version of a private connection tells, for the price of one page read,
    whether anyone committed since the last look, so an idle queue costs a short sleep per
    poll and no queries. An empty batch is yielded at least every `tick_seconds` so a
    display can refresh its clocks (rate, ETA)."""
    conn = lib.catalog.new_connection()
    # Where the catalog notifies (PostgreSQL), sleep until it does instead of polling.
    changed = threading.Event()
    changed.set()
    stop_listening = lib.catalog.listen(changed.set)
    try:
        seen_version = None
        last_yield = time.monotonic()
        while not should_stop():
            if stop_listening is not None:
                version = seen_version if not changed.is_set() else (seen_version or 0) + 1
                changed.clear()
            else:
                version = data_version(conn)
            events: list[dict] = []
            if version != seen_version:
                seen_version = version
                while True:
                    rows = events_repo.read_after(conn, after_id, limit=batch)
                    if not rows:
                        break
                    events.extend(row_to_event(r) for r in rows)
                    after_id = rows[-1]["id"]
            if events or time.monotonic() - last_yield >= tick_seconds:
                last_yield = time.monotonic()
                yield events
            elif stop_listening is not None:
                changed.wait(max(0.0, tick_seconds - (time.monotonic() - last_yield)))
            else:
                time.sleep(poll_seconds)
    finally:
        if stop_listening is not None:
            stop_listening()
        conn.close()
