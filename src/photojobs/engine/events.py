"""The one place that records lifecycle events: a durable row, then in-process notification."""

from __future__ import annotations

import json

from ..library import Library
from ..storage import Connection, Row, after_commit
from ..storage.db import transaction_state
from ..storage.repos import events as events_repo


def emit(lib: Library, conn: Connection, kind: str, data: dict, *, project_id: int | None = None,
         job_id: int | None = None) -> None:
    """Append an event inside the caller's transaction; subscribers hear of it after the commit
    (by then it has its id)."""
    now = lib.now()
    event = {"id": None, "kind": kind, "created_at": now, "project_id": project_id, "job_id": job_id,
             "data": data}
    events_repo.append(conn, kind=kind, data=data, now=now, project_id=project_id, job_id=job_id,
                       on_id=lambda event_id: event.__setitem__("id", event_id))
    state = transaction_state(conn)
    batch = state.get("events") if state is not None else None
    if batch is not None:
        batch.append(event)  # one wake-up per transaction, however many events it holds
        return
    batch = [event]
    if state is not None:
        state["events"] = batch

    def _notify() -> None:
        # Idle lane slots look at the queue again only if the transaction may have made a job
        # claimable (storage's notify_change(work=True)); every other sleeper wakes either way.
        lib.waker.notify(work=True if state is None else state.get("work", False))
        lib.publish(batch)

    after_commit(conn, _notify)


def row_to_event(row: Row) -> dict:
    return {"id": row["id"], "kind": row["kind"], "created_at": row["created_at"],
            "project_id": row["project_id"], "job_id": row["job_id"], "data": json.loads(row["data"])}


def read_after(conn: Connection, after_id: int, *, limit: int = 500,
               project_id: int | None = None) -> list[dict]:
    return [row_to_event(r) for r in events_repo.read_after(conn, after_id, limit=limit, project_id=project_id)]


def last_event_id(conn: Connection) -> int:
    return events_repo.last_id(conn)
