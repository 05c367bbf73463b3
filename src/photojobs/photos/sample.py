"""A small generated sample shoot, so photojobs can be tried without photos of one's own."""

from __future__ import annotations

import io
import os
import struct
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
MAKE, MODEL = "photojobs", "Sample Camera"


def make_sample_shoot(dest: Path, count: int = 8, size: tuple[int, int] = (3000, 2000)) -> list[Path]:
    """Write a camera card into dest/DCIM/100DEMO: `count` shots with EXIF (date, make, model,
    orientation), as a camera set to RAW+JPEG writes them (DEMOnnnn.JPG + DEMOnnnn.DNG), the
    last one a RAW alone (its JPG deleted in camera, say), and then one JPG whose write was cut
    short, which imports but cannot be made into a preview: the failure a real card can hold."""
    folder = Path(dest) / "DCIM" / "100DEMO"
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 6, 20, 15, 0, 0)
    paths = []
    for i in range(count):
        orientation = (1, 6, 1, 8, 3, 1)[i % 6]
        picture = _picture(i, size if orientation in (1, 3) else (size[1], size[0]))
        when = (start + timedelta(seconds=37 * i)).strftime("%Y:%m:%d %H:%M:%S")
        stem = folder / f"DEMO{i + 1:04d}"
        raw_only = count > 1 and i == count - 1
        if not raw_only:
            paths.append(_write(stem.with_suffix(".JPG"), _jpeg(picture, orientation, when)))
        # The RAW is the same frame at half size: a real one would be as large as the JPG
        # and twice as heavy per pixel, more than a demo needs to show pairing.
        raw = picture.resize((picture.width // 2, picture.height // 2))
        paths.append(_write(stem.with_suffix(".DNG"), dng_bytes(raw, orientation, when)))
    cut = _jpeg(_picture(count, size), 1, (start + timedelta(seconds=37 * count)).strftime("%Y:%m:%d %H:%M:%S"))
    paths.append(_write(folder / f"DEMO{count + 1:04d}.JPG", cut[:len(cut) // 3]))
    return paths


def _picture(i: int, size: tuple[int, int]) -> Image.Image:
    w, h = size
    img = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    draw = ImageDraw.Draw(img)
    hue = (i * 47) % 255
    draw.rectangle((w // 8, h // 8, w * 7 // 8, h * 7 // 8), outline=(hue, 255 - hue, 128), width=max(4, w // 100))
    draw.ellipse((w // 3, h // 3, w * 2 // 3, h * 2 // 3), fill=(255 - hue, hue, 200))
    return img


def _jpeg(picture: Image.Image, orientation: int, when: str) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = MAKE
    exif[0x0110] = MODEL
    exif[0x0112] = orientation
    exif.get_ifd(_EXIF_IFD)[_DATETIME_ORIGINAL] = when
    buf = io.BytesIO()
    picture.save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


# --- a minimal DNG ------------------------------------------------------------------------------
# An uncompressed 16-bit RGGB Bayer mosaic with the tags LibRaw needs, written by hand as a
# little-endian TIFF: the demo runs without the test extras (pidng), and numpy comes with rawpy.

_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _SRATIONAL = 1, 2, 3, 4, 5, 10
_TYPE_SIZE = {_BYTE: 1, _ASCII: 1, _SHORT: 2, _LONG: 4, _RATIONAL: 8, _SRATIONAL: 8}
_PACK = {_BYTE: "B", _ASCII: "B", _SHORT: "H", _LONG: "I", _RATIONAL: "I", _SRATIONAL: "i"}


def dng_bytes(picture: Image.Image, orientation: int, when: str) -> bytes:
    """The DNG of an RGB picture (12-bit values in 16 bits), with make, model, orientation and
    DateTimeOriginal, readable by LibRaw (rawpy) and by photojobs' metadata reader."""
    import numpy as np

    rgb = np.asarray(picture.convert("RGB"), dtype=np.uint16) * 16
    h, w = (d - d % 2 for d in rgb.shape[:2])
    cfa = np.empty((h, w), dtype="<u2")
    cfa[0::2, 0::2] = rgb[0:h:2, 0:w:2, 0]   # R G
    cfa[0::2, 1::2] = rgb[0:h:2, 1:w:2, 1]   # G B
    cfa[1::2, 0::2] = rgb[1:h:2, 0:w:2, 1]
    cfa[1::2, 1::2] = rgb[1:h:2, 1:w:2, 2]
    pixels = cfa.tobytes()
    date = when.encode() + b"\0"
    ident = [1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1]  # identity ColorMatrix1, as fractions
    ifd0 = [
        (254, _LONG, [0]), (256, _LONG, [w]), (257, _LONG, [h]), (258, _SHORT, [16]), (259, _SHORT, [1]),
        (262, _SHORT, [32803]), (271, _ASCII, MAKE.encode() + b"\0"), (272, _ASCII, MODEL.encode() + b"\0"),
        (273, _LONG, ["pixels"]), (274, _SHORT, [orientation]), (277, _SHORT, [1]), (278, _LONG, [h]),
        (279, _LONG, [len(pixels)]), (284, _SHORT, [1]), (306, _ASCII, date),
        (33421, _SHORT, [2, 2]), (33422, _BYTE, [0, 1, 1, 2]), (_EXIF_IFD, _LONG, ["exif"]),
        (50706, _BYTE, [1, 4, 0, 0]), (50708, _ASCII, f"{MAKE} {MODEL}".encode() + b"\0"),
        (50714, _LONG, [0]), (50717, _LONG, [4095]), (50721, _SRATIONAL, ident),
        (50728, _RATIONAL, [1, 1, 1, 1, 1, 1]), (50778, _SHORT, [21]),
    ]
    exif = [(_DATETIME_ORIGINAL, _ASCII, date)]
    head = _tiff_head(ifd0, exif, pixels_at=0)   # once to learn where the pixels go
    pixels_at = len(head) + len(head) % 2
    head = _tiff_head(ifd0, exif, pixels_at=pixels_at)
    return head.ljust(pixels_at, b"\0") + pixels


def _tiff_head(ifd0: list, exif: list, *, pixels_at: int) -> bytes:
    """Header, IFD0, the Exif IFD, then the values too long to sit in their entry. A value
    "pixels" or "exif" stands for where the pixels or the Exif IFD start."""
    ifd0_at = 8
    exif_at = ifd0_at + _ifd_size(ifd0)
    extra_at = exif_at + _ifd_size(exif)
    where = {"pixels": pixels_at, "exif": exif_at}
    out, extra = bytearray(b"II*\0" + struct.pack("<I", ifd0_at)), bytearray()
    for entries in (ifd0, exif):
        out += struct.pack("<H", len(entries))
        for tag, typ, values in entries:
            if typ == _ASCII:
                data = bytes(values)
            else:
                data = struct.pack(f"<{len(values)}{_PACK[typ]}", *(where.get(v, v) for v in values))
            count = len(data) // _TYPE_SIZE[typ]
            if len(data) <= 4:
                out += struct.pack("<HHI", tag, typ, count) + data.ljust(4, b"\0")
            else:
                extra += b"\0" * (len(extra) % 2)   # TIFF values start on a word boundary
                out += struct.pack("<HHII", tag, typ, count, extra_at + len(extra))
                extra += data
        out += struct.pack("<I", 0)   # no next IFD
    return bytes(out + extra)


def _ifd_size(entries: list) -> int:
    return 2 + 12 * len(entries) + 4
