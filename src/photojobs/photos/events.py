"""What web clients are told when a project's photos change: the original's item_removed and manifest_changed events."""

from __future__ import annotations

from typing import Any, Sequence

from photojobs.engine.context import JobContext

MANIFEST_CHANGED, ITEM_REMOVED = "manifest_changed", "item_removed"


def photos_changed(ctx: JobContext, *, removed: Sequence[str] = (), **counts: int) -> None:
    """Tell web clients the job's project's photos changed: one item_removed per dropped photo
    (by basename), then one manifest_changed with `counts` (changed, created) and the removed
    basenames; all in one transaction."""
    folder = ctx.project_folder
    events = [(ITEM_REMOVED, {"type": ITEM_REMOVED, "project_folder": folder, "filename": b}) for b in removed]
    summary: dict[str, Any] = {"type": MANIFEST_CHANGED, "project_folder": folder, **counts}
    if removed:
        summary.update(removed=len(removed), removed_filenames=list(removed))
    events.append((MANIFEST_CHANGED, summary))
    ctx.emit_many(events)
