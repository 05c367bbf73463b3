"""folder_check: new files become photos (with an upload_postprocess job), returning ones available again; the rest are listed or go to .trash."""

from __future__ import annotations

from photojobs.engine.queue import enqueue
from photojobs.engine.registry import handler

from ..events import photos_changed
from ..reconcile import checked_scan, folder_check
from ..writing import writing


@handler("folder_check", priority=95, unique=True)
def run(ctx) -> None:
    # No "empty folder" refusal here: adding files cannot lose any, but a missing or
    # unmarked folder is still not ours to touch.
    scan = checked_scan(ctx.lib, ctx.project, allow_empty=True)
    ctx.check()
    with writing(ctx.lib):  # what it moves to .trash must not make the watcher check again
        result = folder_check(ctx.lib, ctx.project, scan)
    ctx.set_progress(len(scan.names), len(scan.names))
    if result.photo_items:
        # Its own job, not a chain: a folder_check at the end of an upload task must not loop.
        enqueue(ctx.lib, "upload_postprocess", project=ctx.project["id"], items=result.photo_items,
                source=f"folder_check:{ctx.job_id}")
    if result.worth_telling():
        ctx.emit("folder_check", {"project_folder": ctx.project_folder, **result.to_dict()})
    if result.added:
        photos_changed(ctx, created=len(result.added))
