"""Asking for a project's catalog-versus-disk checks: by hand (`photojobs scan`) or from the folder watcher."""

from __future__ import annotations

from .library import Library
from .queue import enqueue, resolve_project


def request_checks(lib: Library, project: str | int, *, manifest: bool = True, folder: bool = True,
                   source: str = "cli") -> list[dict]:
    """Queue a manifest_check (files gone or back) and/or a folder_check (new files) for `project`.

    Both are unique per project while queued, so asking again before they start returns the
    queued ones instead of piling up work. manifest_check goes first: after a rename the old
    name is marked missing before the new one is added."""
    proj = resolve_project(lib.conn(), project)
    jobs = []
    if manifest:
        jobs.append(enqueue(lib, "manifest_check", project=proj["id"], source=source))
    if folder:
        jobs.append(enqueue(lib, "folder_check", project=proj["id"], source=source))
    return jobs
