"""Asking for a project's catalog-versus-disk checks: by hand (`photojobs scan`) or from the folder watcher."""

from __future__ import annotations

import json

from photojobs.engine.queue import enqueue
from photojobs.library import Library
from photojobs.storage.repos import events as events_repo

from .projects import require


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


def reported(lib: Library, job: dict) -> dict | None:
    """What a finished job reported, read from the event its handler wrote to the durable log
    (so it is the same whether it ran here or in the daemon); None when it reported nothing."""
    rows = events_repo.of_job(lib.conn(), job["id"], job["type"])
    return json.loads(rows[-1]["data"]) if rows else None


def changes(lib: Library, job: dict) -> str | None:
    """What a finished check changed, in a few words; None when nothing."""
    data = reported(lib, job)
    if data is None:
        return None
    if job["type"] == "folder_check":
        strangers = len(data.get("not_photos") or [])
        parts = [(len(data.get("added") or []), "added"), (len(data.get("back") or []), "back"),
                 (len(data.get("trashed") or []), "moved to .trash"),
                 (strangers, f"not {'a photo' if strangers == 1 else 'photos'} (left in place)"),
                 (len(data.get("clashes") or []), "left alone (a second file for a photo)"),
                 (len(data.get("swept") or []), "leftover temp files removed")]
    else:
        parts = [(len(data.get("now_missing") or []), "now missing"), (len(data.get("now_present") or []), "back"),
                 (data.get("derivatives_queued") or 0, "queued for thumbnails and previews")]
    return ", ".join(f"{n} {what}" for n, what in parts if n) or None
