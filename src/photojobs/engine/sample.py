"""A small generated sample shoot, so photojobs can be tried without photos of one's own."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003


def make_sample_shoot(dest: Path, count: int = 8, size: tuple[int, int] = (3000, 2000)) -> list[Path]:
    """Write `count` camera-like JPEGs (EXIF date, make, model, orientation) into dest/DCIM/100DEMO."""
    folder = Path(dest) / "DCIM" / "100DEMO"
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 6, 20, 15, 0, 0)
    paths = []
    for i in range(count):
        orientation = (1, 6, 1, 8, 3, 1)[i % 6]
        w, h = size if orientation in (1, 3) else (size[1], size[0])
        img = Image.linear_gradient("L").resize((w, h)).convert("RGB")
        draw = ImageDraw.Draw(img)
        hue = (i * 47) % 255
        draw.rectangle((w // 8, h // 8, w * 7 // 8, h * 7 // 8), outline=(hue, 255 - hue, 128), width=max(4, w // 100))
        draw.ellipse((w // 3, h // 3, w * 2 // 3, h * 2 // 3), fill=(255 - hue, hue, 200))
        exif = Image.Exif()
        exif[0x010F] = "photojobs"            # Make
        exif[0x0110] = "Sample Camera"        # Model
        exif[0x0112] = orientation            # Orientation
        exif.get_ifd(_EXIF_IFD)[_DATETIME_ORIGINAL] = (start + timedelta(seconds=37 * i)).strftime("%Y:%m:%d %H:%M:%S")
        path = folder / f"DEMO{i + 1:04d}.JPG"
        tmp = path.with_name(f".{path.name}.tmp")
        img.save(tmp, "JPEG", quality=90, exif=exif)
        os.replace(tmp, path)
        paths.append(path)
    return paths
