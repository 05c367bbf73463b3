"""manifest_check: catalog availability := what is on disk, from one folder scan (idempotent); forgotten derivatives get a job."""

from __future__ import annotations

from photojobs.engine.registry import handler

from ..derivatives import queue_needed
from ..events import photos_changed
from ..reconcile import checked_scan, manifest_check


@handler("manifest_check", priority=95, unique=True)
def run(ctx) -> None:
    scan = checked_scan(ctx.lib, ctx.project, force=bool(ctx.payload.get("force")))
    ctx.check()
    result = manifest_check(ctx.lib, ctx.project, scan)
    ctx.set_progress(result.checked, result.checked)
    # Photos whose derivatives no job will make (an import killed before it queued them, a file
    # that came back): after the availability is right, so that what is gone is not queued.
    job = queue_needed(ctx.lib, ctx.project["id"], source=f"manifest_check:{ctx.job_id}")
    changed = len(result.now_missing) + len(result.now_present) + result.sidecars_changed
    if changed or job:
        ctx.emit("manifest_check", {"project_folder": ctx.project_folder, **result.to_dict(),
                                    "derivatives_queued": job["progress_total"] if job else 0})
    if changed:
        photos_changed(ctx, changed=changed)
