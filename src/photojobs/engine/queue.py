"""The durable queue's public operations: enqueue, tasks, cancel, retry, inspect, prune."""

from __future__ import annotations

import json
from typing import Any, Iterable

from ..errors import BadPayload, NotFound, PhotojobsError, UsageError
from ..library import Library, resolve_project
from ..storage import Connection, Row
from ..storage import atomic
from ..storage.repos import job_items as items_repo
from ..storage.repos import jobs as jobs_repo
from ..storage.repos import projects as projects_repo
from ..timefmt import iso
from . import registry, tasks
from .events import emit

JOB_EVENT = "job"
ITEM_EVENT = "item"


def task_payload(r: Row | dict) -> dict[str, Any] | None:
    """What the original design kept in a job's `payload_json`: the payload, and for a step of a
    task its task_id, task_type and source (web clients group a task's steps by them)."""
    payload = json.loads(r["payload"] or "{}")
    if r["task_id"]:
        return {**payload, "task_id": r["task_id"], "task_type": r["task_type"], "source": r["source"]}
    return payload or None


def job_to_dict(row: Row | dict) -> dict[str, Any]:
    """The job object of --json output and the HTTP API (the original's fields, payload_json and
    heartbeat_at included, beside ours)."""
    r = dict(row)
    return {
        "id": r["id"], "project_id": r["project_id"], "project_folder": r.get("project_folder"),
        "type": r["type"], "status": r["status"], "priority": r["priority"],
        "attempts": r["attempts"], "max_attempts": r["max_attempts"],
        "progress_done": r["progress_done"], "progress_failed": r["progress_failed"],
        "progress_total": r["progress_total"], "payload": json.loads(r["payload"] or "{}"),
        "payload_json": task_payload(r),
        "error_message": r["error_message"], "task_id": r["task_id"], "task_type": r["task_type"],
        "task_step": r["task_step"], "source": r["source"], "worker_id": r["worker_id"],
        "created_at": iso(r["created_at"]), "started_at": iso(r["started_at"]),
        "finished_at": iso(r["finished_at"]), "run_after": iso(r["run_after"]),
        "heartbeat_at": iso(r["heartbeat_at"]),
    }


def job_event(row: Row | dict, project_folder: str | None) -> dict[str, Any]:
    """A job's update: the original's keys (id, status, progress, task_id, task_type, source), and
    ours. No `type` key: a web client merges the update into its job row, whose `type` is the
    job's own (our `job_type`); the stream says what an event is in `kind`."""
    r = dict(row)
    return {"id": r["id"], "status": r["status"], "progress_done": r["progress_done"],
            "progress_failed": r["progress_failed"], "progress_total": r["progress_total"],
            "task_id": r["task_id"], "task_type": r["task_type"], "source": r["source"],
            "project_folder": project_folder, "job_type": r["type"], "priority": r["priority"],
            "attempts": r["attempts"], "error_message": r["error_message"]}


def item_event(lib: Library, conn: Connection, job_id: int, item: Row | dict,
               project_folder: str | None, status: str, message: str | None, *,
               photo_id: int | None = None) -> dict[str, Any]:
    """A job item's update: the original's {type:'item', project_folder, filename, ...} and ours.
    The item's own name is `item_filename`; `filename` and whatever else the event says of the
    item's subject (its catalog row: `photo_id`, else the item's) come from the domain's
    registered item describer, read as they are now."""
    photo_id = photo_id if photo_id is not None else item["photo_id"]
    data: dict[str, Any] = {"type": "item", "job_id": job_id, "item_id": item["id"],
                            "project_folder": project_folder, "filename": item["filename"],
                            "item_filename": item["filename"], "status": status, "message": message}
    data.update(registry.describe_item(lib, conn, item, photo_id))
    return data


def emit_job(lib: Library, conn: Connection, row: Row | dict,
             project_folder: str | None = None) -> None:
    r = dict(row)
    if project_folder is None and r.get("project_id") is not None:
        project_folder = r.get("project_folder")
        if project_folder is None:
            p = projects_repo.get(conn, r["project_id"])
            project_folder = p["folder"] if p else None
    emit(lib, conn, JOB_EVENT, job_event(r, project_folder), project_id=r["project_id"], job_id=r["id"])


def reopen_items(lib: Library, conn: Connection, job: Row | dict, why: str, *,
                 include_failed: bool = False) -> int:
    """Put a job's interrupted (and, on a retry, failed) items back to pending, one item event
    each: the event log holds every item state change, so watchers never keep a stale `running`."""
    j = dict(job)
    folder = j.get("project_folder")
    if folder is None and j.get("project_id") is not None:
        p = projects_repo.get(conn, j["project_id"])
        folder = p["folder"] if p else None
    rows = items_repo.reopen(conn, j["id"], lib.now(), include_failed=include_failed)
    for item in rows:
        emit(lib, conn, ITEM_EVENT, item_event(lib, conn, j["id"], item, folder, "pending", why),
             project_id=j.get("project_id"), job_id=j["id"])
    return len(rows)


def enqueue(lib: Library, type: str, *, project: str | int | None = None, payload: dict | None = None,
            priority: int | None = None, items: Iterable[tuple[int | None, str]] | None = None,
            max_attempts: int | None = None, source: str = "cli", run_after: float | None = None,
            _task: tuple[str, str, int] | None = None, conn: Connection | None = None) -> dict:
    """Queue one job (with its items, in the same transaction). Returns the job as a dict.

    Unknown types are refused ("Unknown job type: X"); a type registered `unique` has one
    queued job per project at most, so the queued twin is returned instead of a new row."""
    spec = registry.get(type)
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise BadPayload("payload must be a JSON object")
    if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)):
        raise BadPayload("priority must be a whole number")
    if priority is not None and not -2**63 <= priority < 2**63:  # what an SQLite INTEGER holds
        raise BadPayload(f"priority {priority} is out of range")
    conn = conn or lib.conn()
    with atomic(conn):
        proj = resolve_project(conn, project, note=lib.note)
        if spec.needs_project and proj is None:
            raise PhotojobsError(f"job type {type} needs a project")
        if items is None and isinstance(payload.get("filenames"), list):
            items = [(None, str(f)) for f in payload["filenames"]]
        unique_key = None
        if spec.unique and _task is None:
            unique_key = f"{proj['id'] if proj else '-'}:{type}"
        task_id, task_type, task_step = _task or (None, None, None)
        row, created = jobs_repo.insert(
            conn, project_id=proj["id"] if proj else None, type=type,
            priority=spec.priority if priority is None else priority,
            payload=json.dumps(payload), max_attempts=max_attempts or lib.config.pipeline.max_attempts_default,
            now=lib.now(), run_after=run_after, task_id=task_id, task_type=task_type, task_step=task_step,
            source=source, unique_key=unique_key)
        if created:
            item_list = list(items or [])
            if item_list:
                items_repo.insert_many(conn, row["id"], item_list, lib.now())
                jobs_repo.set_progress(conn, row["id"], done=0, failed=0, total=len(item_list), now=lib.now())
                row = jobs_repo.get(conn, row["id"])
            emit_job(lib, conn, row, proj["folder"] if proj else None)
    return job_to_dict(row)


def start_task(lib: Library, task_type: str, *, project: str | int, payload: dict | None = None,
               items: Iterable[tuple[int | None, str]] | None = None, source: str = "cli",
               conn: Connection | None = None) -> dict:
    """Queue the first step of a task chain; the runner queues each next step as one completes."""
    chain = tasks.steps(task_type)
    first_type, first_priority = chain[0]
    return enqueue(lib, first_type, project=project, payload=payload, priority=first_priority, items=items,
                   source=source, _task=(tasks.new_task_id(), task_type, 0), conn=conn)


def get_job(lib: Library, job_id: int) -> dict:
    row = jobs_repo.get(lib.conn(), int(job_id))
    if row is None:
        raise NotFound(f"no such job: {job_id}")
    return job_to_dict(row)


def job_detail(lib: Library, job_id: int, *, item_limit: int = 200) -> dict:
    """A job with its items summary by status and the failed items' messages."""
    job = get_job(lib, job_id)
    conn = lib.conn()
    job["items_summary"] = items_repo.counts(conn, job["id"])
    job["items"] = [{"id": r["id"], "filename": r["filename"], "status": r["status"], "message": r["message"]}
                    for r in items_repo.list_items(conn, job["id"], limit=item_limit)]
    if job["task_id"]:
        chain = [job_to_dict(r) for r in jobs_repo.task_jobs(conn, job["task_id"])]
        job["task"] = {"id": job["task_id"], "type": job["task_type"], "status": tasks.summarize(chain),
                       "jobs": [{"id": j["id"], "type": j["type"], "status": j["status"]} for j in chain]}
    return job


STATUSES = ("queued", "running", "completed", "failed", "canceled")


def list_jobs(lib: Library, *, project: str | int | None = None, status: Iterable[str] = (),
              type: Iterable[str] = (), limit: int = 50, offset: int = 0,
              with_failed_items: bool = False) -> list[dict]:
    """Jobs, newest first. `with_failed_items`: only jobs with a failed item, whatever their
    status (a completed job may have some)."""
    status = list(status)
    unknown = [s for s in status if s not in STATUSES]
    if unknown:
        raise UsageError(f"unknown job status: {', '.join(unknown)} (use {', '.join(STATUSES)})")
    conn = lib.conn()
    proj = resolve_project(conn, project, note=lib.note)
    rows = jobs_repo.list_jobs(conn, project_id=proj["id"] if proj else None, statuses=status, types=type,
                               limit=limit, offset=offset, with_failed_items=with_failed_items)
    return [job_to_dict(r) for r in rows]


def task_status(lib: Library, task_id: str) -> dict:
    jobs = [job_to_dict(r) for r in jobs_repo.task_jobs(lib.conn(), task_id)]
    if not jobs:
        raise NotFound(f"no such task: {task_id}")
    return {"id": task_id, "type": jobs[0]["task_type"], "status": tasks.summarize(jobs), "jobs": jobs}


def cancel(lib: Library, job_id: int) -> dict:
    """Cancel a queued job at once; ask a running one to stop between items."""
    conn = lib.conn()
    with atomic(conn):
        row = jobs_repo.get(conn, int(job_id))
        if row is None:
            raise NotFound(f"no such job: {job_id}")
        if row["status"] == "queued":
            jobs_repo.cancel_queued(conn, row["id"], lib.now())
            row = jobs_repo.get(conn, row["id"])
            emit_job(lib, conn, row)
        elif row["status"] == "running":
            jobs_repo.request_cancel(conn, row["id"], lib.now())
            row = jobs_repo.get(conn, row["id"])
        else:
            raise PhotojobsError(f"job {job_id} is already {row['status']}")
    return job_to_dict(row)


def retry(lib: Library, job_id: int) -> dict:
    """Requeue a failed or canceled job; its done items stay done, failed ones run again."""
    conn = lib.conn()
    with atomic(conn):
        row = jobs_repo.get(conn, int(job_id))
        if row is None:
            raise NotFound(f"no such job: {job_id}")
        if row["status"] not in ("failed", "canceled"):
            raise PhotojobsError(f"job {job_id} is {row['status']}; only failed or canceled jobs can be retried")
        reopen_items(lib, conn, row, "retried by user", include_failed=True)
        jobs_repo.retry(conn, row["id"], lib.now())
        counts = items_repo.counts(conn, row["id"])
        if sum(counts.values()):
            jobs_repo.set_progress(conn, row["id"], done=counts["done"] + counts["skipped"], failed=0,
                                   total=sum(counts.values()), now=lib.now())
        row = jobs_repo.get(conn, row["id"])
        emit_job(lib, conn, row)
    return job_to_dict(row)


def prune(lib: Library, *, older_than_days: float | None = None) -> dict:
    """Delete finished jobs and events older than the retention setting."""
    from ..storage.repos import events as events_repo
    days = lib.config.pipeline.retention_days if older_than_days is None else older_than_days
    before = lib.now() - days * 86400
    conn = lib.conn()
    with atomic(conn):
        jobs = jobs_repo.prune(conn, finished_before=before)
        events = events_repo.prune(conn, before=before)
    return {"jobs": jobs, "events": events}


def counts(lib: Library) -> dict[str, int]:
    return jobs_repo.count_by_status(lib.conn())
