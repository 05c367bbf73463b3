"""Maintenance: start the maintenance task (or one maintenance job type) for one project or all."""

from __future__ import annotations

from typing import Any

from photojobs.engine.queue import enqueue, start_task
from photojobs.errors import UsageError
from photojobs.library import Library
from photojobs.storage.repos import projects as projects_repo

from .projects import require
from .scan import reported

# The maintenance job types: unique per project while queued (see their @handler), run on a
# schedule and by `maintenance run`.
MAINTENANCE_TYPES = ("trash_maintenance", "manifest_check", "folder_check", "manifest_cleaning")


def start(lib: Library, project: str | int | None, type: str | None = None, *, force: bool = False,
          source: str = "cli") -> list[dict[str, Any]]:
    """Queue maintenance for `project` (None: every project). Without `type`, the whole chain
    trash_maintenance -> manifest_check -> folder_check -> manifest_cleaning; with it, that
    job alone (unique per project while queued: an already queued one is returned).
    `force` lets manifest_check/manifest_cleaning reconcile a folder that looks empty."""
    if type is not None and type not in MAINTENANCE_TYPES:
        raise UsageError(f"--type must be one of {', '.join(MAINTENANCE_TYPES)}, got {type!r}")
    if force and type not in ("manifest_check", "manifest_cleaning"):
        # The chain's later steps are queued without a payload, so force must name its job.
        raise UsageError("--force goes with --type manifest_check or --type manifest_cleaning")
    rows = [require(lib, project)] if project is not None else projects_repo.list_all(lib.conn())
    payload = {"force": True} if force else None
    jobs = []
    for row in rows:
        if type is None:
            jobs.append(start_task(lib, "maintenance", project=row["id"], payload=payload, source=source))
        else:
            jobs.append(enqueue(lib, type, project=row["id"], payload=payload, source=source))
    return jobs


def news(lib: Library, outcome: dict[str, Any] | None) -> list[str]:
    """What a finished maintenance task did that the photographer must hear of, one line each
    (cron mails it): files that are not photos, the first time they are seen, and files moved to
    .trash, each said once; expired trash entries that could not be deleted, at every run until
    someone mends them."""
    lines = []
    for job in (outcome or {}).get("jobs", []):
        data = reported(lib, job) if job["type"] in ("folder_check", "trash_maintenance") else None
        if not data:
            continue
        folder = data.get("project_folder") or job.get("project_folder")
        stuck = data.get("could_not_delete") or []
        if stuck:
            lines.append(f"{folder}: could not delete from .trash (see the log; tried again at the next run): "
                         f"{', '.join(stuck)}")
        stuck = data.get("deleted_projects_could_not_delete") or []
        if stuck:
            lines.append(f"could not delete deleted projects from the library's .trash (see the log; tried again "
                         f"at the next run): {', '.join(stuck)}")
        new = data.get("new_not_photos") or []
        if new:
            lines.append(f"{folder}: {len(new)} {'file that is' if len(new) == 1 else 'files that are'} not photos, "
                         f"left where {'it is' if len(new) == 1 else 'they are'}: {', '.join(new)}")
        if data.get("trashed"):
            lines.append(f"{folder}: moved to .trash, not photos (maintenance.foreign_files is trash): "
                         f"{', '.join(data['trashed'])}")
    return lines
