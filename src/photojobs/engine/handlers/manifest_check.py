"""manifest_check: catalog availability := what is on disk, from one folder scan (idempotent)."""

from __future__ import annotations

from ..registry import handler
from ..reconcile import checked_scan, manifest_check


@handler("manifest_check", priority=95, unique=True)
def run(ctx) -> None:
    scan = checked_scan(ctx.lib, ctx.project, force=bool(ctx.payload.get("force")))
    ctx.check()
    result = manifest_check(ctx.lib, ctx.project, scan)
    ctx.set_progress(result.checked, result.checked)
    changed = len(result.now_missing) + len(result.now_present) + result.sidecars_changed
    if changed:
        ctx.emit("manifest_check", {"project_folder": ctx.project_folder, **result.to_dict()})
        ctx.photos_changed(changed=changed)
