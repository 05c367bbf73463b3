"""Built-in job handlers, one module per job type; importing this package registers them all."""

import importlib

for _name in ("generate_derivatives", "upload_postprocess", "trash_maintenance", "manifest_check",
              "folder_check", "manifest_cleaning", "file_removal"):
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as exc:  # a handler module not written yet
        if exc.name != f"{__name__}.{_name}":
            raise
