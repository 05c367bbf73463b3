"""Built-in job handlers, one module per job type; importing this package registers them all."""

from . import (  # noqa: F401 - imported for their @handler registrations
    file_removal,
    folder_check,
    generate_derivatives,
    manifest_check,
    manifest_cleaning,
    trash_maintenance,
    upload_postprocess,
)
