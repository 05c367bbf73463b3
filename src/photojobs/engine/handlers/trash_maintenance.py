"""trash_maintenance: delete the committed .trash entries older than maintenance.trash_ttl_hours."""

from __future__ import annotations

from ..registry import handler
from ..trash import expire


@handler("trash_maintenance", priority=100, unique=True)
def run(ctx) -> None:
    path = ctx.project_path
    if not path.is_dir():
        return  # nothing mounted, nothing to expire; not an error for a cleanup
    removed, kept = expire(path, now=ctx.now(), ttl_hours=float(ctx.config.get("maintenance.trash_ttl_hours", 24)))
    ctx.set_progress(len(removed), len(removed))
    if removed:
        # The record of what was deleted names what was not, and why, beside it.
        ctx.emit("trash_maintenance", {"project_folder": ctx.project_folder, "removed": removed,
                                       "kept_not_committed": kept})
