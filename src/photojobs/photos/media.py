"""What kind of photo file a path is: by extension, by content, and its basic metadata."""

from __future__ import annotations

import contextlib
import io
import os
import struct
from pathlib import Path
from typing import Any

EXT_JPEG = frozenset({"jpg", "jpeg", "jpe", "jfif"})
EXT_RAW = frozenset({
    "cr2", "cr3", "nef", "arw", "dng", "raf", "orf", "rw2", "pef", "srw", "nrw", "rwl",
    "3fr", "iiq", "erf", "mef", "mos", "x3f",
})
# Decodable without LibRaw. HEIC/HEIF are listed so they are imported as photos even
# though Pillow cannot decode them without a plugin (their derivatives then fail).
EXT_OTHER_IMAGE = frozenset({"png", "tif", "tiff", "webp", "avif", "heic", "heif"})
# Editor side files that travel with a photo: Lightroom/darktable (xmp), RawTherapee
# (pp3), DxO (dop), ON1 (on1), camera thumbnails (thm), Capture One (cos), ACDSee (arp).
SIDECAR_EXTS = frozenset({"xmp", "pp3", "dop", "on1", "thm", "cos", "arp"})

# Content kinds each extension may hold. TIFF-based raws sniff as plain "tiff".
_CONTENT_FOR_EXT: dict[str, frozenset[str]] = {
    **{ext: frozenset({"jpeg"}) for ext in EXT_JPEG},
    "png": frozenset({"png"}),
    "tif": frozenset({"tiff"}),
    "tiff": frozenset({"tiff"}),
    "webp": frozenset({"webp"}),
    "avif": frozenset({"avif"}),
    "heic": frozenset({"heic"}),
    "heif": frozenset({"heic", "avif"}),
    **{ext: frozenset({"tiff"}) for ext in (
        "dng", "nef", "nrw", "arw", "cr2", "pef", "srw", "3fr", "iiq", "erf", "mef", "mos")},
    "cr3": frozenset({"cr3"}),
    "raf": frozenset({"raf"}),
    "orf": frozenset({"orf"}),
    "rw2": frozenset({"rw2"}),
    "rwl": frozenset({"rw2"}),  # Leica RWL is Panasonic's RW2 container
    "x3f": frozenset({"x3f"}),
}

_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
SNIFF_BYTES = 64


def _norm(ext: str) -> str:
    return ext.lower().lstrip(".")


def role_of(ext: str) -> str | None:
    """"jpg", "raw", "other" (png/tiff/webp/...), "sidecar", or None for unknown
    extensions. Accepts "JPG", ".jpg" or "jpg"."""
    ext = _norm(ext)
    if ext in EXT_JPEG:
        return "jpg"
    if ext in EXT_RAW:
        return "raw"
    if ext in EXT_OTHER_IMAGE:
        return "other"
    if ext in SIDECAR_EXTS:
        return "sidecar"
    return None


def sniff_bytes(head: bytes) -> str | None:
    """The content kind of a file from its first bytes (see `sniff`)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"  # includes DNG, NEF, ARW, CR2, PEF, ... and BigTIFF
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return "orf"
    if head[:4] == b"IIU\x00":
        return "rw2"
    if head.startswith(b"FUJIFILMCCD-RAW"):
        return "raf"
    if head.startswith(b"FOVb"):
        return "x3f"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"crx ":
            return "cr3"
        if brand in _AVIF_BRANDS:
            return "avif"
        if brand in _HEIC_BRANDS:
            return "heic"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def sniff(path: str | os.PathLike) -> str | None:
    """The content kind from magic bytes: "jpeg", "png", "tiff", "cr3", "raf", "orf",
    "rw2", "x3f", "webp", "heic", "avif", "gif", or None. Reads SNIFF_BYTES bytes; a
    missing or unreadable file raises OSError so callers can tell it from junk."""
    with open(path, "rb") as f:
        return sniff_bytes(f.read(SNIFF_BYTES))


def content_matches(ext: str, kind: str | None) -> bool:
    """Whether a file named *.ext may hold content of `kind` (from `sniff`). Sidecars
    have no content rule and always match; unknown extensions never do."""
    ext = _norm(ext)
    if ext in SIDECAR_EXTS:
        return True
    allowed = _CONTENT_FOR_EXT.get(ext)
    return allowed is not None and kind in allowed


# --- metadata ----------------------------------------------------------------------

_EXIF_IFD = 0x8769
_TAG_MAKE, _TAG_MODEL, _TAG_ORIENTATION = 0x010F, 0x0110, 0x0112
_TAG_DATETIME_ORIGINAL, _TAG_OFFSET_ORIGINAL, _TAG_SUBSEC_ORIGINAL = 0x9003, 0x9011, 0x9291
# Pillow format names for the kinds we open with Pillow.
PILLOW_FORMAT = {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF", "webp": "WEBP",
                 "avif": "AVIF", "gif": "GIF"}
# LibRaw's `flip` -> EXIF orientation (LibRaw maps orientation o to "50132467"[o]).
FLIP_TO_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}


def empty_metadata() -> dict[str, Any]:
    return {"date_time_original": None, "make": None, "model": None,
            "orientation": None, "width": None, "height": None}


@contextlib.contextmanager
def open_pillow(path: str | os.PathLike, kind: str):
    """Open with the Pillow plugin for `kind`, from a file object (a context manager).

    Going to the plugin directly skips Image.open's process-wide MAX_IMAGE_PIXELS check,
    so callers apply their own limit (ImagingSettings.max_pixels) without touching
    global state. A file object (not a filename) keeps Pillow from memory-mapping
    uncompressed TIFFs: Pillow 13 maps them at the orientation-swapped size, which
    scrambles I;16/L TIFFs tagged with orientation 5-8."""
    from PIL import Image

    fmt = PILLOW_FORMAT.get(kind or "")
    if fmt is None:
        raise ValueError(f"not an image Pillow reads: {kind}")
    # The usual formats' plugins (JPEG, PNG, GIF...); all ~45 of Pillow's only for another one:
    # loading them all cost each process (the CLI, every derivative worker) ~25 ms more.
    Image.preinit()
    if fmt not in Image.OPEN:
        Image.init()
    factory, _accept = Image.OPEN[fmt]
    with open(path, "rb") as fp, factory(fp, "") as im:
        yield im


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", " ").strip()
    return value or None


def _iso_datetime(value, subsec=None, offset=None) -> str | None:
    """EXIF 'YYYY:MM:DD HH:MM:SS' (+ SubSecTimeOriginal, OffsetTimeOriginal) -> ISO 8601."""
    text = _text(value)
    if not text or len(text) < 19:
        return None
    date, _, time = text[:19].partition(" ")
    parts = date.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or int(parts[0]) == 0:
        return None  # "0000:00:00 00:00:00" and blanks mean "unknown"
    tparts = time.split(":")
    if len(tparts) != 3 or not all(p.isdigit() for p in tparts):
        return None
    iso = f"{parts[0]}-{parts[1]}-{parts[2]}T{time}"
    sub = _text(subsec)
    if sub and sub.isdigit():
        iso += "." + sub
    off = _text(offset)
    if off and len(off) == 6 and off[0] in "+-" and off[3] == ":":
        iso += off
    return iso


def valid_orientation(value) -> int | None:
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _from_exif(exif, meta: dict[str, Any]) -> None:
    """Fill make/model/orientation/date from a PIL.Image.Exif, keeping what is set."""
    meta["make"] = meta["make"] or _text(exif.get(_TAG_MAKE))
    meta["model"] = meta["model"] or _text(exif.get(_TAG_MODEL))
    if meta["orientation"] is None:
        meta["orientation"] = valid_orientation(exif.get(_TAG_ORIENTATION))
    if meta["date_time_original"] is None:
        try:
            sub = exif.get_ifd(_EXIF_IFD)
        except Exception:  # a broken pointer must not cost us the IFD0 fields
            sub = {}
        meta["date_time_original"] = _iso_datetime(
            sub.get(_TAG_DATETIME_ORIGINAL), sub.get(_TAG_SUBSEC_ORIGINAL),
            sub.get(_TAG_OFFSET_ORIGINAL))


def _tiff_exif(path: Path, meta: dict[str, Any]) -> None:
    """IFD0 and ExifIFD of a TIFF-structured file, ORF/RW2 included, read without asking
    Pillow to understand the image data (a CFA raw is not an image to Pillow)."""
    from PIL import Image

    with open(path, "rb") as f:
        head = f.read(8)
        if head[:2] not in (b"II", b"MM"):
            return
        # ORF and RW2 use a private magic number, so pass the byte order and IFD0
        # offset ourselves instead of letting Pillow parse the header.
        endian = "<" if head[:2] == b"II" else ">"
        offset = struct.unpack(endian + "I", head[4:8])[0]
        exif = Image.Exif()
        exif.endian = endian
        exif.load_from_fp(f, offset)
        _from_exif(exif, meta)  # reads the ExifIFD from f, so still inside the with


def _cr3_exif(path: Path, meta: dict[str, Any]) -> None:
    """Canon CR3 keeps IFD0 and the Exif IFD as little TIFFs in CMT1/CMT2 boxes near the
    start of the file; look for them in the first 512 KiB."""
    from PIL import Image

    with open(path, "rb") as f:
        data = f.read(512 * 1024)
    for box, target in ((b"CMT1", None), (b"CMT2", _EXIF_IFD)):
        pos = data.find(box)
        if pos < 4:
            continue
        size = struct.unpack(">I", data[pos - 4:pos])[0]
        tiff = data[pos + 4:pos - 4 + size]
        exif = Image.Exif()
        exif.load(tiff)
        if target is None:
            _from_exif(exif, meta)
        elif meta["date_time_original"] is None:
            sub = dict(exif)
            meta["date_time_original"] = _iso_datetime(
                sub.get(_TAG_DATETIME_ORIGINAL), sub.get(_TAG_SUBSEC_ORIGINAL),
                sub.get(_TAG_OFFSET_ORIGINAL))


def _raf_exif(path: Path, meta: dict[str, Any]) -> None:
    """Fujifilm RAF embeds a JPEG (offset/length at bytes 84/88) carrying the EXIF."""
    from PIL import Image

    with open(path, "rb") as f:
        header = f.read(92)
        offset, length = struct.unpack(">II", header[84:92])
        f.seek(offset)
        # the EXIF APP1 segment comes first and is at most 64 KiB
        jpeg = f.read(min(length, 256 * 1024))
    with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as im:
        _from_exif(im.getexif(), meta)


def _raw_metadata(path: Path, kind: str | None, meta: dict[str, Any]) -> None:
    if kind in ("tiff", "orf", "rw2"):
        try:
            _tiff_exif(path, meta)
        except Exception:
            pass  # odd structure: LibRaw below may still know the size
    elif kind == "cr3":
        try:
            _cr3_exif(path, meta)
        except Exception:
            pass
    elif kind == "raf":
        try:
            _raf_exif(path, meta)
        except Exception:
            pass
    try:
        import rawpy

        # opening parses the headers only; rawpy unpacks the raw data lazily
        with rawpy.imread(os.fspath(path)) as raw:
            sizes = raw.sizes
    except Exception:
        return
    # IFD0 of a raw is often a small thumbnail, so the size comes from LibRaw.
    meta["width"], meta["height"] = int(sizes.width), int(sizes.height)
    if meta["orientation"] is None:
        meta["orientation"] = FLIP_TO_ORIENTATION.get(sizes.flip)


# Content kinds that are camera RAWs of their own format (TIFF-based RAWs sniff as "tiff").
RAW_KINDS = frozenset({"cr3", "raf", "orf", "rw2", "x3f"})


def is_raw(path: Path, kind: str | None) -> bool:
    """A camera RAW, by its extension or its content: decoded with LibRaw, not Pillow."""
    return role_of(Path(path).suffix) == "raw" or kind in RAW_KINDS


def stored_size(im, kind: str | None) -> tuple[int, int]:
    """Pixel size as the file stores it. Pillow 13 reports TIFF sizes already oriented; the
    stored size is in the TIFF tags."""
    if kind == "tiff":
        w, h = im.tag_v2.get(256), im.tag_v2.get(257)
        if isinstance(w, int) and isinstance(h, int):
            return w, h
    return im.size


def read_metadata(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """date_time_original (ISO 8601 or None), make, model, orientation (1-8 or None),
    width and height (as stored, before orientation). Never decodes pixels; a merely
    odd file gives the fields that could be read. A missing file raises OSError. `kind`: the
    content kind the caller already sniffed (else it is sniffed here)."""
    path = Path(path)
    meta = empty_metadata()
    if kind is None:
        kind = sniff(path)
    if is_raw(path, kind):
        _raw_metadata(path, kind, meta)
        return meta
    if kind not in PILLOW_FORMAT:
        return meta
    try:
        with open_pillow(path, kind) as im:
            meta["width"], meta["height"] = stored_size(im, kind)
            _from_exif(_png_exif(path, im) if kind == "png" else im.getexif(), meta)
    except Exception:
        pass  # unreadable header: nothing more to say than the empty fields
    return meta


# An eXIf chunk longer than this is not EXIF but junk (JPEG caps EXIF at 64 KiB).
_PNG_EXIF_MAX = 1 << 20


def _png_exif(path: Path, im):
    """A PNG's EXIF, without decoding a pixel. Pillow's PngImageFile.getexif decodes the whole
    image to look for an eXIf chunk after the pixel data -- 2 GB for a 246 KB PNG of 45000x45000
    pixels, before anyone could check its size. We skip over the pixel data instead."""
    from PIL import Image

    if "exif" not in im.info:
        with open(path, "rb") as f:
            f.seek(8)  # the signature
            while True:
                header = f.read(8)
                if len(header) < 8:
                    break
                length, chunk = struct.unpack(">I4s", header)
                if chunk == b"eXIf" and length <= _PNG_EXIF_MAX:
                    im.info["exif"] = f.read(length)
                    break
                if chunk == b"IEND":
                    break
                f.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
    # The base class's getexif reads what is in info (eXIf, or a "Raw profile type exif" text) and never decodes.
    return Image.Image.getexif(im)
