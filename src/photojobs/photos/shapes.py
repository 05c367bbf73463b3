"""How a photo is shown: the name it goes by, and its fields as --json output and the HTTP API show them."""

from __future__ import annotations

import json
from typing import Any

from photojobs.storage import Row
from photojobs.storage.repos import photos as photos_repo
from photojobs.timefmt import iso


def display_name(row: Row | dict) -> str:
    """The name a photo goes by in lists and job items: its JPG, else its RAW, else other file."""
    return row["jpg_name"] or row["raw_name"] or row["other_name"] or row["basename"]


def photo_to_dict(row: Row) -> dict[str, Any]:
    """A photo as --json output and the HTTP API show it."""
    metadata = json.loads(row["metadata"] or "{}")
    role = photos_repo.primary_role(row)
    primary = metadata.get(role or "", {}) if role else {}
    return {
        "id": row["id"], "basename": row["basename"],
        "filename": display_name(row),
        "jpg_name": row["jpg_name"], "raw_name": row["raw_name"], "other_name": row["other_name"],
        "sidecars": json.loads(row["sidecars"] or "[]"),
        "jpg_available": bool(row["jpg_available"]), "raw_available": bool(row["raw_available"]),
        "other_available": bool(row["other_available"]),
        "keep_jpg": bool(row["keep_jpg"]), "keep_raw": bool(row["keep_raw"]),
        "thumbnail_status": row["thumbnail_status"], "preview_status": row["preview_status"],
        "derivative_error": row["derivative_error"],
        "date_time_original": row["date_time_original"], "orientation": row["orientation"],
        "width": row["width"], "height": row["height"],
        "make": primary.get("make"), "model": primary.get("model"),
        "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]),
    }
