"""The photo domain's job types, one module per type, with its tasks, schedules and hooks; importing this package registers them all."""

from . import (  # noqa: F401 - imported for their registrations
    definitions,
    file_removal,
    folder_check,
    generate_derivatives,
    manifest_check,
    manifest_cleaning,
    trash_maintenance,
    upload_postprocess,
)

# The job types a user may queue: the seed's, plus file_removal for commit.
USER_TYPES = ("generate_derivatives", "upload_postprocess", "trash_maintenance", "manifest_check",
              "folder_check", "manifest_cleaning", "file_removal")
