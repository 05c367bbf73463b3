"""Asking for a project's catalog-versus-disk checks: by hand (`photojobs scan`) or from the folder watcher."""

from __future__ import annotations

import json

from ..storage.repos import events as events_repo
from .library import Library
from .projects import require
from .queue import enqueue


def request_checks(lib: Library, project: str | int, *, manifest: bool = True, folder: bool = True,
                   source: str = "cli") -> list[dict]:
    """Queue a manifest_check (files gone or back) and/or a folder_check (new files) for `project`.

    Both are unique per project while queued, so asking again before they start returns the
    queued ones instead of piling up work. manifest_check goes first: after a rename the old
    name is marked missing before the new one is added."""
    proj = require(lib, project)
    jobs = []
    if manifest:
        jobs.append(enqueue(lib, "manifest_check", project=proj["id"], source=source))
    if folder:
        jobs.append(enqueue(lib, "folder_check", project=proj["id"], source=source))
    return jobs


def changes(lib: Library, job: dict) -> str | None:
    """What a finished check changed, read from the event its handler wrote to the durable log
    (so it is the same whether the check ran here or in the daemon); None when nothing."""
    rows = events_repo.of_job(lib.conn(), job["id"], job["type"])
    if not rows:
        return None
    data = json.loads(rows[-1]["data"])
    if job["type"] == "folder_check":
        parts = [(len(data.get("added") or []), "added"), (len(data.get("trashed") or []), "moved to .trash"),
                 (len(data.get("clashes") or []), "left alone (a second file for a photo)")]
    else:
        parts = [(len(data.get("now_missing") or []), "now missing"), (len(data.get("now_present") or []), "back")]
    return ", ".join(f"{n} {what}" for n, what in parts if n) or None
