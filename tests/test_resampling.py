"""The derivatives' resize: libvips' Lanczos-3 where it applies, Pillow otherwise, always the exact
size asked for and Lanczos quality, measured on a real photo-like image."""

from __future__ import annotations

import math
import os
import random

import numpy as np
import pytest
from PIL import Image

import imagegen
from photojobs.photos import resampling
from photojobs.photos.imaging import DerivativeSpec, ImagingSettings, make_derivatives
from photojobs.photos.imaging_pool import DerivativePool


def psnr(a: Image.Image, b: Image.Image) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return 10 * math.log10(255 ** 2 / np.mean((x - y) ** 2))


def sharpness(im: Image.Image) -> float:
    x = np.asarray(im.convert("L"), dtype=np.float64)
    return float(np.abs(np.diff(x, axis=0)).mean() + np.abs(np.diff(x, axis=1)).mean())


@pytest.fixture(scope="module")
def detailed():
    """A detailed, noisy 3000x2000 image: what a 24 MP JPEG's 1/2 draft decode hands the resize."""
    return imagegen.displayed_image((3000, 2000), noise=20, seed=3)


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_libvips_resize_is_lanczos_quality_and_sharper_than_the_old_bicubic(detailed, mode):
    src = detailed.convert(mode)
    out = resampling.downscale(src, (2048, 1365))
    assert resampling._vips() is not None, "pyvips is a dependency: it must load here"
    assert (out.mode, out.size) == (mode, (2048, 1365))
    lanczos = src.resize((2048, 1365), Image.Resampling.LANCZOS)
    bicubic = src.resize((2048, 1365), Image.Resampling.BICUBIC)
    assert psnr(out, lanczos) > 48, "not Pillow's LANCZOS result"
    assert sharpness(out) > sharpness(bicubic) * 1.05


def test_big_reductions_match_pillows_lanczos_with_reducing_gap(detailed):
    out = resampling.downscale(detailed, (200, 133))
    ref = detailed.resize((200, 133), Image.Resampling.LANCZOS, reducing_gap=2.0)
    assert out.size == (200, 133) and psnr(out, ref) > 40


def test_the_exact_size_asked_for_across_many_shapes():
    rng = random.Random(7)
    base = imagegen.displayed_image((900, 700), noise=10, seed=1)
    for _ in range(60):
        w, h = rng.randint(2, 900), rng.randint(2, 700)
        src = base.resize((w, h))
        tw = rng.randint(1, w)
        th = max(1, min(h, round(h * tw / w)))
        assert resampling.downscale(src, (tw, th)).size == (tw, th), (w, h, tw, th)


def test_pillow_does_what_libvips_is_not_given(detailed, monkeypatch):
    # A mode libvips is not handed, and a source box with fractional edges (a JPEG draft of an
    # odd-sized photo): Pillow's result, to the pixel.
    rgba = detailed.convert("RGBA")
    assert resampling.downscale(rgba, (300, 200)).tobytes() == \
        rgba.resize((300, 200), Image.Resampling.LANCZOS, reducing_gap=3.0).tobytes()
    box = (0, 0, 2999.5, 1999.5)
    assert resampling.downscale(detailed, (2048, 1365), box).tobytes() == \
        detailed.resize((2048, 1365), Image.Resampling.BICUBIC, box=box).tobytes()
    # With no libvips at all, the same sizes still come out, from Pillow.
    monkeypatch.setattr(resampling, "_vips", lambda: None)
    out = resampling.downscale(detailed, (2048, 1365))
    assert out.tobytes() == detailed.resize((2048, 1365), Image.Resampling.BICUBIC).tobytes()


def test_same_size_is_returned_untouched(detailed):
    assert resampling.downscale(detailed, detailed.size) is detailed


def test_a_very_large_image_is_resized_by_pillow_in_place_of_a_copy_for_libvips(detailed, monkeypatch):
    monkeypatch.setattr(resampling, "_VIPS_MAX_PIXELS", detailed.width * detailed.height - 1)
    assert resampling.downscale(detailed, (2048, 1365)).tobytes() == \
        detailed.resize((2048, 1365), Image.Resampling.BICUBIC).tobytes()


def test_the_image_info_goes_along_as_with_pillow(detailed):
    src = detailed.copy()
    src.info["comment"] = b"Smith wedding"
    assert resampling.downscale(src, (300, 200)).info["comment"] == b"Smith wedding"


def test_a_24mp_photo_through_libvips_keeps_its_orientation(tmp_path):
    src = imagegen.make_jpeg(tmp_path / "p.jpg", size=(6000, 4000), orientation=6, quality=85)
    settings = ImagingSettings(DerivativeSpec(200, 80), DerivativeSpec(2048, 85))
    result = make_derivatives(src, tmp_path / "t.jpg", tmp_path / "pv.jpg", settings)
    assert result["preview_size"] == (2048, 1365) and result["thumb_size"] == (200, 133)
    with Image.open(tmp_path / "pv.jpg") as im:
        px = im.convert("RGB").getpixel((20, 20))
        assert px[0] > 150 and px[1] < 90, px  # imagegen's red marker, top-left when upright


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_the_fork_server_stays_single_threaded_after_workers_used_libvips(tmp_path):
    """libvips starts a thread as it loads. The workers load it themselves; the fork server they
    are forked from must never, or every later worker would be forked from a threaded process."""
    from multiprocessing import forkserver

    src = imagegen.make_jpeg(tmp_path / "p.jpg", size=(800, 600))
    settings = ImagingSettings(DerivativeSpec(64, 80), DerivativeSpec(300, 85))
    with DerivativePool(2) as pool:
        futures = [pool.submit(src, tmp_path / f"{i}-t.jpg", tmp_path / f"{i}-p.jpg", settings)
                   for i in range(4)]
        assert all(f.result(timeout=60)["preview_size"] == (300, 225) for f in futures)
        workers = [w.process.pid for w in pool._workers]
        assert all(_threads(pid) > 1 for pid in workers)  # libvips is loaded in each worker
    server = forkserver._forkserver._forkserver_pid
    if server is None:
        pytest.skip("this platform starts workers without a fork server")
    assert _threads(server) == 1



# What one photo allocates in a worker: a draft-decoded 3000x2000 image (Pillow's 16 MB blocks), its
# bytes for the resize, the preview. Prints the page faults of five photos after the first.
_PHOTO_BUFFERS_PROBE = """
import resource, sys
from photojobs.photos.imaging_pool import _keep_freed_image_memory
if sys.argv[1] == "worker":
    _keep_freed_image_memory()
def photo():
    buffers = [bytearray(16_000_000), bytearray(8_000_000), bytearray(18_000_000), bytearray(8_400_000)]
    del buffers
photo()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    photo()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not hasattr(os, "confstr") or "CS_GNU_LIBC_VERSION" not in os.confstr_names,
                    reason="glibc only")
def test_a_worker_reuses_one_photos_memory_for_the_next_instead_of_faulting_it_in_again():
    """By default glibc hands such buffers back to the kernel when freed, so every photo faults all
    its ~50 MB in afresh (a sixth of a photo's time on a VM); a derivative worker keeps them."""
    import subprocess
    import sys

    def faults(role: str) -> int:
        out = subprocess.run([sys.executable, "-c", _PHOTO_BUFFERS_PROBE, role], capture_output=True,
                             text=True, timeout=60, check=True)
        return int(out.stdout)

    by_default = faults("default")
    if by_default < 5 * 50_400_000 // os.sysconf("SC_PAGE_SIZE") // 2:
        pytest.skip(f"this host's allocator already keeps such buffers ({by_default} faults), "
                    "or maps them with huge pages: nothing to compare")
    assert faults("worker") < by_default // 100
