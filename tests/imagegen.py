"""Generators of real test images (JPEG, PNG, TIFF, DNG) with a known marked corner."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageDraw

# The marker colours a test looks for in the *displayed* (upright) image.
MARK_TOP_LEFT = (230, 20, 20)  # red
MARK_TOP_RIGHT = (20, 200, 20)  # green

# Image.transpose method that turns the displayed image into the stored one, so that
# applying the EXIF orientation to the stored pixels gives the displayed image back.
# Orientation 6 is displayed by rotating 270 degrees (CW 90), so we store it rotated 90.
_STORE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def displayed_image(size: tuple[int, int], *, marker_corner: bool = True, noise: int = 0,
                    seed: int = 0) -> Image.Image:
    """The upright RGB picture: a soft gradient, optional noise, red top-left and green
    top-right squares. `noise` (0-255) adds texture so JPEGs get a realistic size."""
    w, h = size
    # uint8/int16 arithmetic with broadcasting: a 24 MP picture takes a fraction of a second
    x = np.linspace(40, 200, w).astype(np.int16)[None, :]
    y = np.linspace(60, 180, h).astype(np.int16)[:, None]
    rgb = np.empty((h, w, 3), dtype=np.int16)
    rgb[..., 0] = (x + y) // 2
    rgb[..., 1] = 220 - y
    rgb[..., 2] = 90 + x // 2
    if noise:
        rng = np.random.default_rng(seed)
        rgb += rng.integers(-noise, noise + 1, size=(h, w, 1), dtype=np.int16)
    im = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    if marker_corner:
        side = max(4, min(w, h) // 6)
        draw = ImageDraw.Draw(im)
        draw.rectangle((0, 0, side - 1, side - 1), fill=MARK_TOP_LEFT)
        draw.rectangle((w - side, 0, w - 1, side - 1), fill=MARK_TOP_RIGHT)
    return im


def stored_for(displayed: Image.Image, orientation: int | None) -> Image.Image:
    """The pixels a camera would store for `displayed` when tagging `orientation`."""
    method = _STORE_FOR_ORIENTATION.get(orientation or 1)
    return displayed.transpose(method) if method is not None else displayed


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(orientation=None, exif_datetime=None, make=None, model=None) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if make is not None:
        exif[0x010F] = make
    if model is not None:
        exif[0x0110] = model
    if exif_datetime is not None:
        exif.get_ifd(0x8769)[0x9003] = exif_datetime  # DateTimeOriginal
    return exif


def make_jpeg(path, size=(600, 400), orientation=None, exif_datetime=None, make=None,
              model=None, quality=92, mode="RGB", marker_corner=True, icc=False,
              noise=0, seed=0, displayed=None) -> Path:
    """A JPEG whose displayed (orientation-applied) image has the red marker top-left.
    `size` is the displayed size; `exif_datetime` is 'YYYY:MM:DD HH:MM:SS'. Pass
    `displayed` (from displayed_image) to reuse one picture for many files."""
    path = Path(path)
    if displayed is None:
        displayed = displayed_image(size, marker_corner=marker_corner, noise=noise, seed=seed)
    im = stored_for(displayed, orientation)
    if mode != "RGB":
        im = im.convert(mode)
    kwargs = {"quality": quality}
    exif = _exif(orientation, exif_datetime, make, model)
    if len(exif):
        kwargs["exif"] = exif.tobytes()
    if icc:
        kwargs["icc_profile"] = srgb_icc()
    im.save(path, "JPEG", **kwargs)
    return path


def make_cmyk_jpeg(path, size=(300, 200)) -> Path:
    return make_jpeg(path, size=size, mode="CMYK")


def make_truncated_jpeg(path, size=(800, 600), keep=0.5) -> Path:
    """A JPEG with a valid header whose entropy-coded data is cut short."""
    path = Path(path)
    buf = io.BytesIO()
    displayed_image(size, noise=20).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def make_png_alpha(path, size=(300, 200), mode="RGBA") -> Path:
    """A PNG (RGBA, LA or P with transparency) that is transparent except the markers
    and a band at the bottom, so flattening shows up as white in the middle."""
    path = Path(path)
    w, h = size
    im = displayed_image(size).convert("RGBA")
    alpha = Image.new("L", size, 0)
    side = max(4, min(w, h) // 6)
    draw = ImageDraw.Draw(alpha)
    draw.rectangle((0, 0, side - 1, side - 1), fill=255)
    draw.rectangle((w - side, 0, w - 1, side - 1), fill=255)
    draw.rectangle((0, h - side, w - 1, h - 1), fill=255)
    im.putalpha(alpha)
    if mode == "LA":
        im = im.convert("LA")
    elif mode == "P":
        im = im.convert("RGB").quantize(64)
        # make palette entries used by the fully transparent area transparent
        px = im.load()
        im.info["transparency"] = px[w // 2, h // 2]
    im.save(path, "PNG")
    return path


def make_tiff16(path, size=(300, 200), mode="RGB", orientation=None) -> Path:
    """A 16-bit TIFF: mode "RGB" (3x16 bit, written by hand as Pillow cannot) or "I;16"."""
    path = Path(path)
    stored = stored_for(displayed_image(size), orientation)
    arr = np.asarray(stored).astype(np.uint16) * 257
    if mode == "I;16":
        gray = np.asarray(stored.convert("L")).astype(np.uint16) * 257
        im = Image.fromarray(gray)  # uint16 -> mode "I;16"
        info = {0x0112: orientation} if orientation else {}
        im.save(path, "TIFF", tiffinfo=info)
        return path
    h, w = arr.shape[:2]
    data = arr.astype("<u2").tobytes()
    entries = [  # (tag, type, count, value) -- type 3 SHORT, 4 LONG
        (256, 4, 1, w), (257, 4, 1, h), (258, 3, 3, None), (259, 3, 1, 1),
        (262, 3, 1, 2), (273, 4, 1, None), (277, 3, 1, 3), (278, 4, 1, h),
        (279, 4, 1, len(data)), (284, 3, 1, 1),
    ]
    if orientation:
        entries.append((274, 3, 1, orientation))
    entries.sort()
    ifd_size = 2 + 12 * len(entries) + 4
    bps_offset = 8 + ifd_size
    data_offset = bps_offset + 6 + 2
    out = bytearray(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries)))
    for tag, typ, count, value in entries:
        if tag == 258:
            out += struct.pack("<HHII", tag, typ, count, bps_offset)
        elif tag == 273:
            out += struct.pack("<HHII", tag, typ, count, data_offset)
        elif typ == 3:
            out += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, typ, count, value)
    out += struct.pack("<I", 0) + struct.pack("<HHH", 16, 16, 16) + b"\x00\x00" + data
    path.write_bytes(bytes(out))
    return path


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def make_bomb_png(path, size=(100_000, 100_000)) -> Path:
    """A tiny PNG whose header claims `size` (a decompression bomb, cheap to create)."""
    path = Path(path)
    ihdr = struct.pack(">IIBBBBB", size[0], size[1], 8, 2, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))
    path.write_bytes(data)
    return path


def make_bilevel_bomb_png(path, size=(45_000, 45_000)) -> Path:
    """A valid black-and-white PNG of `size` whose all-zero pixels deflate to almost nothing: the
    default is 246 KB on disk and 2 GB once decoded (Pillow holds a byte per pixel)."""
    path = Path(path)
    w, h = size
    row = b"\x00" * (1 + (w + 7) // 8)     # filter byte + w bits
    deflate = zlib.compressobj(9)
    rows_per_step = 1000
    parts = [deflate.compress(row * min(rows_per_step, h - y)) for y in range(0, h, rows_per_step)]
    parts.append(deflate.flush())
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"".join(parts))
                     + _png_chunk(b"IEND", b""))
    return path


def make_png_exif_after_pixels(path, exif: bytes, size=(40, 30)) -> Path:
    """A PNG whose eXIf chunk comes after the pixel data (allowed; some editors write it there)."""
    path = Path(path)
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 120, 200)).save(buf, "PNG")
    data = buf.getvalue()
    iend = data.rindex(b"IEND") - 4               # the IEND chunk starts with its length
    path.write_bytes(data[:iend] + _png_chunk(b"eXIf", exif) + data[iend:])
    return path


# --- DNG ---------------------------------------------------------------------------

def _pidng():
    # pidng's IFD-pointer tags (SubIFDs, ExifIFD) build their placeholder value as a str
    # and then append bytes, which raises TypeError; give them a bytes placeholder.
    from pidng.dng import DNG, Tag, Type, dngIFD, dngTag

    class PointerTag(dngTag):
        def setValue(self, value):
            if self.DataType == Type.IFD:
                self.Value = b"\x00\x00\x00\x00"
                self.subIFD = value[0]
            else:
                super().setValue(value)

    return DNG, Tag, dngIFD, dngTag, PointerTag


def make_dng(path, size=(600, 400), with_preview=False, preview_size=None, orientation=None,
             make="Photojobs", model="Synthetic DNG", exif_datetime=None, noise=0) -> Path:
    """An uncompressed 16-bit RGGB Bayer DNG of the displayed `size` (stored rotated for
    `orientation`). With `with_preview`, a SubIFD carries a JPEG preview (NewSubFileType 1)
    of `preview_size` (default: full size), stored in the same orientation as the raw."""
    DNG, Tag, dngIFD, dngTag, PointerTag = _pidng()
    path = Path(path)
    displayed = displayed_image(size, noise=noise)
    stored = stored_for(displayed, orientation)
    w, h = stored.size
    w -= w % 2
    h -= h % 2
    rgb = np.asarray(stored, dtype=np.uint16)[:h, :w] * 16  # 12-bit linear-ish values
    cfa = np.empty((h, w), dtype=np.uint16)
    cfa[0::2, 0::2] = rgb[0::2, 0::2, 0]
    cfa[0::2, 1::2] = rgb[0::2, 1::2, 1]
    cfa[1::2, 0::2] = rgb[1::2, 0::2, 1]
    cfa[1::2, 1::2] = rgb[1::2, 1::2, 2]
    tile = cfa.astype("<u2").tobytes()

    dng = DNG()
    dng.ImageDataStrips.append(tile)
    raw = dngIFD()
    tile_offsets = dngTag(Tag.TileOffsets, [0])
    ident = [[1, 1], [0, 1], [0, 1], [0, 1], [1, 1], [0, 1], [0, 1], [0, 1], [1, 1]]
    raw.tags += [
        dngTag(Tag.NewSubfileType, [0]),
        dngTag(Tag.ImageWidth, [w]), dngTag(Tag.ImageLength, [h]),
        dngTag(Tag.TileWidth, [w]), dngTag(Tag.TileLength, [h]),
        tile_offsets, dngTag(Tag.TileByteCounts, [len(tile)]),
        dngTag(Tag.BitsPerSample, [16]), dngTag(Tag.Compression, [1]),
        dngTag(Tag.PhotometricInterpretation, [32803]), dngTag(Tag.SamplesPerPixel, [1]),
        dngTag(Tag.PlanarConfiguration, [1]),
        dngTag(Tag.CFARepeatPatternDim, [2, 2]), dngTag(Tag.CFAPattern, [0, 1, 1, 2]),
        dngTag(Tag.BlackLevel, [0]), dngTag(Tag.WhiteLevel, [4095]),
        dngTag(Tag.ColorMatrix1, ident), dngTag(Tag.CalibrationIlluminant1, [21]),
        dngTag(Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]]),
        dngTag(Tag.Make, make), dngTag(Tag.Model, model),
        dngTag(Tag.UniqueCameraModel, f"{make} {model}"),
        dngTag(Tag.Orientation, [orientation or 1]),
        dngTag(Tag.DNGVersion, [1, 4, 0, 0]), dngTag(Tag.DNGBackwardVersion, [1, 2, 0, 0]),
    ]
    if exif_datetime is not None:
        exif = dngIFD()
        exif.tags.append(dngTag(Tag.DateTimeOriginal, exif_datetime))
        raw.tags.append(PointerTag(Tag.EXIF_IFD, [exif]))
    preview_offsets = None
    if with_preview:
        pw, ph = preview_size or size
        # the preview is stored like the raw: unrotated, the reader applies orientation
        pv = stored_for(displayed.resize((pw, ph), Image.Resampling.BILINEAR), orientation)
        buf = io.BytesIO()
        pv.save(buf, "JPEG", quality=90)
        jpeg = buf.getvalue()
        dng.ImageDataStrips.append(jpeg)
        prev = dngIFD()
        preview_offsets = dngTag(Tag.StripOffsets, [0])
        prev.tags += [
            dngTag(Tag.NewSubfileType, [1]),
            dngTag(Tag.ImageWidth, [pv.width]), dngTag(Tag.ImageLength, [pv.height]),
            dngTag(Tag.BitsPerSample, [8, 8, 8]), dngTag(Tag.Compression, [7]),
            dngTag(Tag.PhotometricInterpretation, [6]), dngTag(Tag.SamplesPerPixel, [3]),
            dngTag(Tag.RowsPerStrip, [pv.height]), preview_offsets,
            dngTag(Tag.StripByteCounts, [len(jpeg)]), dngTag(Tag.PlanarConfiguration, [1]),
        ]
        raw.tags.append(PointerTag(Tag.SubIFD, [prev]))
    dng.IFDs.append(raw)
    total = dng.dataLen()  # also computes where each strip lands
    tile_offsets.setValue([dng.StripOffsets[0]])
    if preview_offsets is not None:
        preview_offsets.setValue([dng.StripOffsets[1]])
    buf = bytearray(total)
    dng.setBuffer(buf)
    dng.write()
    path.write_bytes(bytes(buf))
    return path
