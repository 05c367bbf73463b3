"""Downscaling for derivatives: libvips where it can, Pillow where it cannot.

Measured on a detailed 24 MP JPEG decoded at its 1/2 draft (3000x2000 -> 2048x1365, one core):
libvips' Lanczos-3 takes 25-28 ms with the copies in and out of it, and is Pillow's LANCZOS to
54 dB with the same sharpness; Pillow's BICUBIC, which we used before, takes 77 ms and is visibly
softer; Pillow's LANCZOS takes 110 ms. The resize was two fifths of a photo's time, the rest being
the decode (of which the entropy decoding alone cannot be scaled down) and the encode.

Pillow remains for what libvips is not asked to do (modes other than "L" and "RGB", a source box
with fractional edges after a JPEG draft, images over 50 MP) and for anything libvips fails at, so
a photo never depends on it."""

from __future__ import annotations

import functools
import logging

from PIL import Image

log = logging.getLogger("photojobs.imaging")

_BANDS = {"L": 1, "RGB": 3}
# libvips is handed a copy of the pixels; above this the copy would cost more memory than it is
# worth (a 200 MP scan is 600 MB more per worker), and Pillow resizes in place.
_VIPS_MAX_PIXELS = 50_000_000


@functools.cache
def _vips():
    """pyvips, set up for the derivative workers: one thread each (the pool already runs a process
    per core) and no operation cache (each image is resized once); None without a usable libvips.
    Loaded on first use, never at module import: libvips starts threads, and the fork server that
    preloads our modules must stay single-threaded to fork safely."""
    try:
        import pyvips
        pyvips.concurrency_set(1)
        pyvips.cache_set_max(0)
    except Exception as e:  # no usable libvips (pyvips raises a bare Exception when it cannot load it)
        log.warning("libvips cannot be used here (%s): Pillow makes every resize, at about 3x the time", e)
        return None
    return pyvips


def prepare() -> None:
    """Load libvips now (a worker calls it before its first photo arrives)."""
    _vips()


def downscale(im: Image.Image, size: tuple[int, int], box=None, gap: float = 3.0) -> Image.Image:
    """`im` (or its `box` area) resized to `size`, which is no larger than the source. `box` and
    `gap` are Pillow's: libvips takes whole images and applies its own reducing gap of 2.0."""
    if im.size == size and box is None:
        return im
    if box is None and im.mode in _BANDS and im.width * im.height <= _VIPS_MAX_PIXELS:
        out = _vips_downscale(im, size)
        if out is not None:
            return out
    return _pillow_downscale(im, size, box, gap)


def _vips_downscale(im: Image.Image, size: tuple[int, int]) -> Image.Image | None:
    vips = _vips()
    if vips is None:
        return None
    try:
        src = vips.Image.new_from_memory(im.tobytes(), im.width, im.height, _BANDS[im.mode], "uchar")
        # vips applies its own reducing gap (2.0): a box shrink by an integer factor first, then
        # Lanczos-3 over what is left, as Pillow's reducing_gap does.
        out = src.resize(size[0] / im.width, vscale=size[1] / im.height, kernel="lanczos3")
        if (out.width, out.height) != size:  # never seen; Pillow then makes the exact size
            return None
        resized = Image.frombytes(im.mode, size, out.write_to_memory())
    except (vips.Error, MemoryError):
        return None
    resized.info = im.info.copy()   # as Pillow's resize keeps it (a JPEG comment goes on to the derivative)
    return resized


def _pillow_downscale(im: Image.Image, size: tuple[int, int], box, gap: float) -> Image.Image:
    src_w = (box[2] - box[0]) if box is not None else im.width
    if src_w / size[0] < 2:
        # The usual last step after a JPEG draft (e.g. 3000 -> 2048): BICUBIC scores within
        # 0.06 dB of LANCZOS there and costs two thirds of it.
        return im.resize(size, Image.Resampling.BICUBIC, box=box)
    # reducing_gap: integer reduce() first, then LANCZOS over the last factor of `gap`,
    # which Pillow documents as indistinguishable from a plain LANCZOS at 3.0.
    return im.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=gap)
