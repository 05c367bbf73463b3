"""trash_maintenance: delete the committed .trash entries older than maintenance.trash_ttl_hours (and deleted projects' folders)."""

from __future__ import annotations

from photojobs.engine.registry import handler

from ..library_trash import expire_deleted
from ..trash import expire


@handler("trash_maintenance", priority=100, unique=True)
def run(ctx) -> None:
    # The library's trash has no project of its own to schedule it: every project's run expires
    # it too (a scan of one small folder), so it expires as long as the library has a project.
    projects = expire_deleted(ctx.lib)
    path = ctx.project_path
    if not path.is_dir():
        return  # nothing mounted, nothing to expire; not an error for a cleanup
    done = expire(path, now=ctx.now(), ttl_hours=float(ctx.config.get("maintenance.trash_ttl_hours", 24)))
    # Progress counts the entries that were due: one that could not be deleted failed.
    removed, stuck = len(done.removed) + len(projects.removed), len(done.stuck) + len(projects.stuck)
    ctx.set_progress(removed, removed + stuck, failed=stuck)
    if removed or stuck:
        # The record of what was deleted names what was not, and why, beside it.
        ctx.emit("trash_maintenance", {"project_folder": ctx.project_folder, "removed": done.removed,
                                       "kept_not_committed": done.kept, "could_not_delete": done.stuck,
                                       "deleted_projects_expired": projects.removed,
                                       "deleted_projects_could_not_delete": projects.stuck})
