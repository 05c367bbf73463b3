"""Thumbnail and preview derivatives of one photo from a single, reduced-size decode."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms, JpegImagePlugin

from photojobs.errors import StorageFull
from photojobs.photos import media, resampling

_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_WHITE = {"L": 255, "RGB": (255, 255, 255)}
_SAVE_FORMAT = {"jpeg": "JPEG", "webp": "WEBP"}


@dataclass(frozen=True)
class DerivativeSpec:
    max_dim: int  # long edge in pixels; smaller sources are never upscaled
    quality: int  # encoder quality, 1-100

    def __post_init__(self):
        if self.max_dim < 1 or not 1 <= self.quality <= 100:
            raise ValueError(f"bad derivative spec {self}")


@dataclass(frozen=True)
class ImagingSettings:
    thumbnail: DerivativeSpec
    preview: DerivativeSpec
    format: str = "jpeg"  # "jpeg" or "webp"
    max_pixels: int = 200_000_000  # larger sources are refused before decoding

    def __post_init__(self):
        if self.format not in _SAVE_FORMAT:
            raise ValueError(f"unknown derivative format {self.format!r}")
        # The thumbnail is made from the preview, so it cannot be larger.
        if self.thumbnail.max_dim > self.preview.max_dim:
            raise ValueError("thumbnail max_dim exceeds preview max_dim")


class ImagingError(Exception):
    """A photo could not be turned into derivatives. `permanent` says whether trying
    again can help: a corrupt, truncated, oversized or unsupported file will fail the same
    way forever; a vanished file may not. (A full disk is no photo's failure: StorageFull.)"""

    def __init__(self, message: str, permanent: bool):
        super().__init__(message)
        self.permanent = permanent

    def __reduce__(self):  # keep `permanent` when sent back from a worker process
        return (type(self), (str(self), self.permanent))


def fit(size: tuple[int, int], max_dim: int) -> tuple[int, int]:
    """`size` scaled so its long edge is `max_dim`, aspect kept; never enlarged."""
    w, h = size
    long_edge = max(w, h)
    if long_edge <= max_dim:
        return w, h
    if w >= h:
        return max_dim, max(1, round(h * max_dim / w))
    return max(1, round(w * max_dim / h)), max_dim


def dct_scale(size: tuple[int, int], max_dim: int) -> int:
    """The smallest JPEG DCT scale (1/8, 1/4, 1/2) whose decoded long edge is still at
    least `max_dim`; returns the denominator (1 means decode at full size)."""
    long_edge = max(size)
    for s in (8, 4, 2):
        if -(-long_edge // s) >= max_dim:  # libjpeg rounds scaled sizes up
            return s
    return 1


def _bomb_check(size: tuple[int, int], settings: ImagingSettings) -> None:
    pixels = size[0] * size[1]
    if pixels > settings.max_pixels:
        raise ImagingError(
            f"image is {size[0]}x{size[1]} = {pixels} pixels, over the limit of "
            f"{settings.max_pixels} (decompression bomb?)", permanent=True)


def _load(im: Image.Image) -> None:
    """Decode, turning Pillow's many failure types into ImagingError."""
    try:
        im.load()
    except Image.DecompressionBombError as e:  # Pillow's own limit, e.g. on TIFF load
        raise ImagingError(str(e), permanent=True) from e
    except MemoryError as e:
        raise ImagingError("out of memory while decoding", permanent=False) from e
    except OSError as e:
        if e.errno is not None:  # a real I/O failure (NFS hiccup, unplugged disk)
            raise ImagingError(f"cannot read file: {e}", permanent=False) from e
        if "truncated" in str(e):
            raise ImagingError(f"truncated image: {e}", permanent=True) from e
        raise ImagingError(f"corrupt image: {e}", permanent=True) from e
    except (SyntaxError, ValueError, TypeError, EOFError, IndexError) as e:
        raise ImagingError(f"corrupt image: {e}", permanent=True) from e


def _to_output_mode(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """An "L" or "RGB" image (alpha flattened onto white) and the ICC profile that still
    describes it."""
    mode = im.mode
    if mode in ("RGB", "L"):
        return im, icc
    if mode == "CMYK":
        if icc:
            # A CMYK profile cannot describe RGB pixels: convert through it to sRGB.
            try:
                srgb = ImageCms.createProfile("sRGB")
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                out = ImageCms.profileToProfile(im, src, srgb, outputMode="RGB")
                return out, ImageCms.ImageCmsProfile(srgb).tobytes()
            except (ImageCms.PyCMSError, OSError, ValueError):
                pass
        return im.convert("RGB"), None
    if mode.startswith("I;16") or mode == "I":
        # Pillow clips rather than scales 16-bit values when converting to "L".
        return im.convert("I").point(lambda v: v * (1 / 257)).convert("L"), icc
    if mode == "F":
        return im.convert("L"), icc
    if mode == "1":
        return im.convert("L"), icc
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
        mode = im.mode
        if not has_alpha:
            return im, icc
    if mode in ("LA", "La", "RGBA", "RGBa"):
        base = "L" if mode[0] == "L" else "RGB"
        rgba = im.convert(base + "A")  # un-premultiplies La/RGBa
        flat = Image.new(base, rgba.size, _WHITE[base])
        flat.paste(rgba.convert(base), mask=rgba.getchannel("A"))
        return flat, icc
    if mode == "LAB":
        return im.convert("RGB"), None
    return im.convert("RGB"), icc  # RGBX, YCbCr, HSV, ...


def _orient(im: Image.Image, orientation: int | None) -> Image.Image:
    method = _ORIENTATION_TRANSPOSE.get(orientation or 1)
    return im.transpose(method) if method is not None else im


def _preview_from_pillow(im: Image.Image, settings: ImagingSettings,
                         fallback_orientation: int | None = None):
    """Decode an opened (not loaded) Pillow image once, at the smallest JPEG DCT scale
    that keeps the preview sharp, and return (upright preview, icc)."""
    source_size = im.size
    _bomb_check(source_size, settings)
    target = fit(source_size, settings.preview.max_dim)
    box = None
    if im.format == "JPEG":
        # Our own draft: Image.thumbnail would draft for a square box and decode a
        # 6000x4000 JPEG at full size for any preview between 1024 and 3000 pixels.
        scale = dct_scale(source_size, settings.preview.max_dim)
        if scale > 1:
            drafted = im.draft("RGB", (source_size[0] // scale, source_size[1] // scale))
            if drafted is not None:
                box = drafted[1]  # the source area in drafted pixels (partial blocks)
    _load(im)
    # Read after loading: Pillow 13 applies a TIFF's orientation on load and drops the
    # tag, so whatever tag is left is one nobody has applied yet.
    orientation = media.valid_orientation(im.getexif().get(0x0112)) or fallback_orientation
    img, icc = _to_output_mode(im, im.info.get("icc_profile"))
    if box is not None and box == (0, 0, img.width, img.height):
        box = None
    preview = _orient(resampling.downscale(img, target, box), orientation)
    return preview, icc


def _open_error(e: BaseException, source: Path) -> ImagingError:
    if isinstance(e, FileNotFoundError):
        return ImagingError(f"source file vanished: {source}", permanent=False)
    if isinstance(e, OSError) and e.errno is not None:
        return ImagingError(f"cannot read {source}: {e}", permanent=False)
    return ImagingError(f"not a readable image: {e}", permanent=True)


def _preview_from_raw(source: Path, settings: ImagingSettings):
    """(upright preview, icc, source_kind, source_size) for a camera RAW: the embedded
    JPEG when big enough, else LibRaw's bitmap thumbnail, else a (half-size) demosaic."""
    import rawpy

    try:
        raw = rawpy.imread(os.fspath(source))
    except rawpy.LibRawIOError as e:
        if not source.exists():
            raise ImagingError(f"source file vanished: {source}", permanent=False) from e
        raise ImagingError(f"cannot read raw file: {e}", permanent=True) from e
    except rawpy.LibRawError as e:
        raise ImagingError(f"unsupported or corrupt raw file: {e}", permanent=True) from e
    except OSError as e:
        raise _open_error(e, source) from e
    with raw:
        sizes = raw.sizes
        _bomb_check((sizes.raw_width, sizes.raw_height), settings)
        size = (sizes.width, sizes.height)
        flip_orientation = media.FLIP_TO_ORIENTATION.get(sizes.flip, 1)
        # A preview at least this big loses nothing against a demosaic.
        need = min(settings.preview.max_dim, max(size))
        try:
            thumb = raw.extract_thumb()
        except rawpy.LibRawError:  # none, unsupported or broken: fall back to the raw
            thumb = None
        if thumb is not None and thumb.format == rawpy.ThumbFormat.JPEG:
            try:
                im = JpegImagePlugin.JpegImageFile(io.BytesIO(thumb.data))
            except (OSError, SyntaxError, ValueError):
                im = None
            if im is not None and max(im.size) >= need:
                # LibRaw writes the raw's orientation into the EXIF it puts in front of
                # a bare embedded JPEG; a JPEG with no orientation tag gets the flip.
                try:
                    preview, icc = _preview_from_pillow(im, settings, flip_orientation)
                    return preview, icc, "raw-embedded", size
                except ImagingError:
                    pass  # a broken preview must not hide a good raw
        elif thumb is not None and thumb.format == rawpy.ThumbFormat.BITMAP:
            img = Image.fromarray(thumb.data)
            if max(img.size) >= need:
                img, icc = _to_output_mode(img, None)
                preview = _orient(resampling.downscale(img, fit(img.size, settings.preview.max_dim)),
                                  flip_orientation)
                return preview, icc, "raw-bitmap", size
        half = max(size) // 2 >= settings.preview.max_dim
        try:
            rgb = raw.postprocess(half_size=half, use_camera_wb=True, output_bps=8)
        except MemoryError as e:
            raise ImagingError("out of memory while demosaicing", permanent=False) from e
        except rawpy.LibRawError as e:
            raise ImagingError(f"cannot decode raw data: {e}", permanent=True) from e
    # postprocess has already applied the flip
    img = Image.fromarray(rgb)
    preview = resampling.downscale(img, fit(img.size, settings.preview.max_dim))
    return preview, None, "raw-demosaic", size


def _save_atomic(img: Image.Image, out: Path, spec: DerivativeSpec, fmt: str,
                 icc: bytes | None) -> None:
    """Write to a temp file beside `out`, then rename, so `out` is never partial.
    No fsync: a derivative lost to a power cut is regenerated, not restored."""
    if fmt == "webp" and img.mode == "L":
        img = img.convert("RGB")
        if icc and icc[16:20] == b"GRAY":
            icc = None  # a grey profile does not describe RGB pixels
    params: dict[str, Any] = {"quality": spec.quality}
    if fmt == "jpeg":
        params["optimize"] = False
    if icc:
        params["icc_profile"] = icc
    tmp = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        with os.fdopen(fd, "wb") as f:
            img.save(f, _SAVE_FORMAT[fmt], **params)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; derivatives are served to others
        os.replace(tmp, out)
        tmp = None
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            # Not this photo's failure: the job goes back to the queue until there is room.
            raise StorageFull(f"the disk is full: cannot write {out}") from e
        raise ImagingError(f"cannot write {out}: {e}", permanent=False) from e
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def make_derivatives(source: Path, thumb_out: Path, preview_out: Path,
                     settings: ImagingSettings, kind: str | None = None) -> dict[str, Any]:
    """Write an upright thumbnail and preview of `source` (format per settings) from one
    decode; the thumbnail is made from the preview. Returns source_kind ("jpeg", "png",
    "tiff", "webp", ..., "raw-embedded", "raw-bitmap", "raw-demosaic"), source_size
    (as stored), preview_size and thumb_size. Raises ImagingError, or StorageFull when the disk is full.
    `kind`: the content kind (media.sniff) the caller already read, else it is sniffed here."""
    source, thumb_out, preview_out = Path(source), Path(thumb_out), Path(preview_out)
    if kind is None:
        try:
            kind = media.sniff(source)
        except OSError as e:
            raise _open_error(e, source) from e
    if media.is_raw(source, kind):
        preview, icc, source_kind, source_size = _preview_from_raw(source, settings)
    elif kind in media.PILLOW_FORMAT:
        with contextlib.ExitStack() as stack:
            try:
                im = stack.enter_context(media.open_pillow(source, kind))
            except Exception as e:  # plugins raise SyntaxError, ValueError, struct.error...
                raise _open_error(e, source) from e
            source_size = media.stored_size(im, kind)
            preview, icc = _preview_from_pillow(im, settings)
        source_kind = kind
    else:
        raise ImagingError(f"unsupported content ({kind or 'unknown'}) in {source.name}",
                           permanent=True)
    thumb = resampling.downscale(preview, fit(preview.size, settings.thumbnail.max_dim), gap=2.0)
    _save_atomic(preview, preview_out, settings.preview, settings.format, icc)
    _save_atomic(thumb, thumb_out, settings.thumbnail, settings.format, icc)
    return {"source_kind": source_kind, "source_size": tuple(source_size),
            "preview_size": preview.size, "thumb_size": thumb.size}
