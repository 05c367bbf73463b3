"""file_removal: move the files a commit drops into .trash and record it in the catalog."""

from __future__ import annotations

from photojobs.engine.registry import handler
from photojobs.storage.repos import photos as photos_repo

from .. import catalog
from ..culling import plan_for
from ..derivatives import regenerate, remove_derivatives
from ..events import photos_changed
from ..reconcile import checked_scan
from ..trash import COMMIT, move_to_trash
from ..writing import writing


@handler("file_removal", priority=100)
def run(ctx) -> None:
    with writing(ctx.lib):  # files going to .trash are not news for the folder watcher
        _remove(ctx)


def _remove(ctx) -> None:
    path = ctx.project_path
    # A file we cannot see counts as removed only in a folder that is really there: an unplugged
    # drive (folder or marker gone, or suddenly empty) fails the job before anything changes.
    on_disk = checked_scan(ctx.lib, ctx.project).names
    from_raw: list[int] = []
    changed = 0
    for item in ctx.open_items():
        ctx.check()
        ctx.start_item(item)
        row = photos_repo.get(ctx.conn, item["photo_id"]) if item["photo_id"] is not None else None
        if row is None:
            ctx.finish_item(item, "skipped", "photo no longer in the catalog")
            continue
        change = plan_for(row)  # flags as they are now, not as they were at commit time
        if change is None:
            ctx.finish_item(item, "skipped", "nothing to remove (kept since the commit)")
            continue
        moved, gone = [], []
        for role in ("jpg", "raw"):
            name = change[role]
            if not name:
                continue
            # A file that vanishes after the scan (the drive pulled out now) makes move_to_trash
            # raise: the job fails and is retried, and this photo's flags stay as they are.
            if name in on_disk:
                moved.append(move_to_trash(path, name, now=ctx.now(), reason=COMMIT))
            gone.append(role)  # missing from a mounted folder (an attempt that crashed moved it): removed
        for name in change["sidecars"]:
            if name in on_disk:
                moved.append(move_to_trash(path, name, now=ctx.now(), reason=COMMIT))
        if change["jpg"]:
            remove_derivatives(path, row["basename"])
        if change["regenerate_from_raw"]:
            from_raw.append(row["id"])

        def record(conn, photo_id=row["id"], gone=gone, change=change):
            catalog.drop_files(conn, photo_id, roles=gone, sidecars=change["sidecars"], now=ctx.now())
            if change["regenerate_from_raw"]:
                photos_repo.mark_derivatives_pending(conn, [photo_id], ctx.now())
            elif change["jpg"]:  # derivatives came from the JPG and nothing replaces them
                photos_repo.set_derivatives(conn, photo_id, None, None, None, ctx.now())
        ctx.finish_item(item, "done", f"to trash: {', '.join(moved)}" if moved else None, before_commit=record)
        changed += 1
    if changed:
        photos_changed(ctx, changed=changed)
    # The JPG was the derivatives' source; the RAW stays, so make them again from it.
    regenerate(ctx.lib, ctx.project["id"], from_raw, source=f"file_removal:{ctx.job_id}")
