"""Helpers for the photo-library tests: real camera-like cards of JPEGs and DNGs, and catalog reads."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from imagegen import make_dng, make_jpeg

SMALL = (64, 48)


def shoot(folder: Path, basename: str, *, jpg: bool = True, raw: bool = True, seed: int = 0,
          orientation: int | None = None, when: str = "2024:05:01 10:00:00", ext_jpg: str = "JPG",
          ext_raw: str = "DNG", size=SMALL) -> list[Path]:
    """One camera shot: BASENAME.JPG (with EXIF) and/or BASENAME.DNG; `seed` changes the bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    if jpg:
        out.append(make_jpeg(folder / f"{basename}.{ext_jpg}", size=size, orientation=orientation,
                             exif_datetime=when, make="Canon", model="EOS R5", noise=8, seed=seed))
    if raw:
        out.append(make_dng(folder / f"{basename}.{ext_raw}", size=size, exif_datetime=when, noise=seed))
    return out


def dcim_card(root: Path) -> Path:
    """A card: DCIM/100CANON with two pairs, a JPG-only shot and a sidecar; DCIM/101CANON with one pair."""
    card = root / "CARD"
    d100 = card / "DCIM" / "100CANON"
    shoot(d100, "IMG_0001", orientation=6)
    shoot(d100, "IMG_0002", seed=1)
    shoot(d100, "IMG_0003", raw=False, seed=2)
    (d100 / "IMG_0001.xmp").write_text("<x:xmpmeta/>")
    shoot(card / "DCIM" / "101CANON", "IMG_0101", seed=3)
    return card


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree_hashes(folder: Path) -> dict[str, str]:
    """relative path -> content hash of every file under `folder` (hidden folders included)."""
    return {str(p.relative_to(folder)): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def photos(lib, folder: str) -> dict[str, dict]:
    from photojobs.photos.culling import list_photos
    return {p["basename"]: p for p in list_photos(lib, folder)}


def visible(folder: Path) -> set[str]:
    return {n for n in os.listdir(folder) if not n.startswith(".")}


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob(".photojobs-tmp-*")]


def project_jobs(lib, folder: str) -> list[dict]:
    from photojobs.engine.queue import list_jobs
    return list(reversed(list_jobs(lib, project=folder, limit=500)))


def items_of(lib, job_id: int) -> list[dict]:
    from photojobs.engine.queue import job_detail
    return job_detail(lib, job_id)["items"]


def as_json(text: str):
    return json.loads(text)
