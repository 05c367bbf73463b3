"""The project an import without --project goes to: named after the source folder, the shoot's date or the card."""

from __future__ import annotations

import os
import re
from pathlib import Path

from photojobs.errors import PhotojobsError

from .. import media
from .accepting import Candidate


# DCIM and the numbered folders under it (DCF: three digits and five letters, 100CANON, 101MSDCF...).
_CAMERA_FOLDER = re.compile(r"DCIM|[1-9][0-9]{2}[0-9A-Z_]{5}", re.IGNORECASE)


def default_project_name(sources: list[Path], candidates: list[Candidate]) -> tuple[str, str]:
    """(name, what it is named after) of the project an import without --project goes to: the
    first source's folder, unless that is a camera's folder (DCIM, 100CANON...), whose name
    says nothing about the shoot; then the shoot's date from EXIF ("2026-11-28", or a range),
    else the card's name (the volume label, the folder DCIM is in)."""
    first = sources[0].expanduser()
    folder = (first if first.is_dir() else first.parent).resolve()
    if not _CAMERA_FOLDER.fullmatch(folder.name):
        if not folder.name:
            raise PhotojobsError(f"cannot name a project after {first}; use --project")
        return folder.name, "the source folder"
    days = _shoot_days(candidates)
    if days:
        return (days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"), "the shoot's date"
    card = next((p for p in folder.parents if not _CAMERA_FOLDER.fullmatch(p.name)), None)
    if card is None or not card.name:
        raise PhotojobsError(f"cannot name a project after {first}: no shoot date in its photos; use --project")
    return card.name, "the card's name"


def _shoot_days(candidates: list[Candidate]) -> list[str]:
    """The days (YYYY-MM-DD) the photos were taken, from the EXIF of each photo's JPG (else its
    other image, else its RAW): headers only, no pixel is decoded."""
    order = {role: n for n, role in enumerate(("jpg", "other", "raw"))}
    primary: dict[tuple[str, str], Candidate] = {}
    for c in candidates:
        key = (c.basename.lower(), os.path.dirname(c.shown))
        if c.role in order and (key not in primary or order[c.role] < order[primary[key].role]):
            primary[key] = c
    days = set()
    for c in primary.values():
        try:
            taken = media.read_metadata(c.path, kind=c.kind)["date_time_original"]
        except OSError:
            continue
        if taken:
            days.add(taken[:10])
    return sorted(days)
