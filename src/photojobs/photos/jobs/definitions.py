"""The photo domain's tasks, schedules and chores, and what its item events say of a photo, defined with the engine."""

from __future__ import annotations

from typing import Any

from photojobs.engine import registry, scheduler, tasks
from photojobs.errors import BackupFailed
from photojobs.library import Library
from photojobs.storage import Connection, Row
from photojobs.storage.repos import photos as photos_repo

from .. import catalog_care
from ..filenames import Rules

# The original's task definitions: each step queued when the one before completes, at its
# priority. Maintenance runs in the background and is shown to the user only on request.
tasks.define("upload_postprocess", (("upload_postprocess", 90), ("manifest_check", 95), ("folder_check", 95)),
             label="Upload Post-Process")
tasks.define("change_commit", (("file_removal", 100), ("manifest_check", 95), ("folder_check", 95),
                               ("manifest_cleaning", 80)), label="Commit Changes")
tasks.define("maintenance", (("trash_maintenance", 100), ("manifest_check", 95), ("folder_check", 95),
                             ("manifest_cleaning", 80)), label="Maintenance", user_relevant=False)

# The seed's schedule: trash hourly, checks every 6 h, cleaning daily (intervals in config).
scheduler.define("trash_maintenance", "scheduler.trash_maintenance_minutes", 100)
scheduler.define("manifest_check", "scheduler.manifest_check_minutes", 95)
scheduler.define("folder_check", "scheduler.folder_check_minutes", 95)
scheduler.define("manifest_cleaning", "scheduler.manifest_cleaning_minutes", 80)

# The daily catalog backup; the backups themselves record the last one.
scheduler.define_chore(scheduler.Chore("catalog_backup", catalog_care.next_backup_due, catalog_care.backup_if_due,
                                       retry_on=(BackupFailed,)))


@registry.item_describer
def describe_photo(lib: Library, conn: Connection, item: Row | dict,
                   photo_id: int | None) -> dict[str, Any]:
    """The original's item event keys: `filename` is the photo's basename however the item was
    queued (by photo, by file name or by basename), as web clients find photos by it, and the
    photo's thumbnail_status and preview_status as they are now."""
    photo = photos_repo.get(conn, photo_id) if photo_id is not None else None
    if photo is None:
        return {"filename": Rules.from_config(lib.config).classify(item["filename"])[0]}
    return {"filename": photo["basename"], "thumbnail_status": photo["thumbnail_status"],
            "preview_status": photo["preview_status"]}
