"""manifest_cleaning: drop catalog rows none of whose photo files is on disk any more."""

from __future__ import annotations

from photojobs.engine.registry import handler

from ..events import photos_changed
from ..reconcile import checked_scan, manifest_cleaning


@handler("manifest_cleaning", priority=80, unique=True)
def run(ctx) -> None:
    scan = checked_scan(ctx.lib, ctx.project, force=bool(ctx.payload.get("force")))
    ctx.check()
    dropped = manifest_cleaning(ctx.lib, ctx.project, scan)
    ctx.set_progress(len(dropped), len(dropped))
    if dropped:
        ctx.emit("manifest_cleaning", {"project_folder": ctx.project_folder, "dropped": dropped})
        photos_changed(ctx, removed=dropped)
