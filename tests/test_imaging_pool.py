"""Tests of the derivative worker pool with real worker processes and real crashes."""

import os
import time
from concurrent.futures import wait

import pytest
from PIL import Image

import imagegen
from photojobs.photos.imaging import DerivativeSpec, ImagingError, ImagingSettings
from photojobs.photos.imaging_pool import DecoderCrashed, DerivativePool

SETTINGS = ImagingSettings(thumbnail=DerivativeSpec(64, 80), preview=DerivativeSpec(200, 85))


def photos(folder, names):
    displayed = imagegen.displayed_image((400, 300))
    return [imagegen.make_jpeg(folder / name, displayed=displayed) for name in names]


def submit_all(pool, sources, out):
    return [pool.submit(src, out / f"{src.stem}-t.jpg", out / f"{src.stem}-p.jpg", SETTINGS)
            for src in sources]


def test_many_items_in_parallel(tmp_path):
    sources = photos(tmp_path, [f"p{i}.jpg" for i in range(16)])
    with DerivativePool(2) as pool:
        futures = submit_all(pool, sources, tmp_path)
        results = [f.result(timeout=60) for f in futures]
    assert all(r["preview_size"] == (200, 150) for r in results)
    for src in sources:
        with Image.open(tmp_path / f"{src.stem}-t.jpg") as im:
            assert im.size == (64, 48)


def test_crashing_worker_fails_only_its_item(tmp_path):
    # The test plugin's derivative maker (tests/plugins/testjobs.py) dies of SIGSEGV on CRASHME files.
    names = [f"p{i}.jpg" for i in range(10)]
    names[3] = "p3-CRASHME.jpg"
    names[7] = "p7-CRASHME.jpg"
    sources = photos(tmp_path, names)
    with DerivativePool(2) as pool:
        futures = submit_all(pool, sources, tmp_path)
        wait(futures, timeout=60)
        for src, future in zip(sources, futures):
            if "CRASHME" in src.name:
                err = future.exception()
                assert isinstance(err, DecoderCrashed)
                assert "decoder process died (signal 11" in str(err)
                assert src.name in str(err)
                assert err.permanent is False
            else:
                assert future.result()["thumb_size"] == (64, 48)
        # the pool has recovered for later work too
        later = photos(tmp_path, ["later.jpg"])
        assert submit_all(pool, later, tmp_path)[0].result(timeout=60)["preview_size"] == (200, 150)


def test_single_worker_crash_does_not_kill_the_caller(tmp_path):
    sources = photos(tmp_path, ["a-CRASHME.jpg", "b.jpg"])
    with DerivativePool(1) as pool:
        bad, good = submit_all(pool, sources, tmp_path)
        with pytest.raises(DecoderCrashed):
            bad.result(timeout=60)
        assert good.result(timeout=60)["preview_size"] == (200, 150)
    assert os.getpid()  # still here


def test_imaging_errors_come_back_with_permanence(tmp_path):
    truncated = imagegen.make_truncated_jpeg(tmp_path / "t.jpg", size=(800, 600))
    with DerivativePool(1) as pool:
        future = submit_all(pool, [truncated, tmp_path / "missing.jpg"], tmp_path)
        with pytest.raises(ImagingError, match="truncated") as err:
            future[0].result(timeout=60)
        assert err.value.permanent is True
        with pytest.raises(ImagingError) as err:
            future[1].result(timeout=60)
        assert err.value.permanent is False


def test_item_timeout_kills_a_stuck_decoder(tmp_path):
    stuck = tmp_path / "stuck.jpg"
    os.mkfifo(stuck)  # opening it for reading blocks until a writer comes: never
    ok = photos(tmp_path, ["ok.jpg"])[0]
    started = time.monotonic()
    with DerivativePool(1, item_timeout=1.0) as pool:
        futures = submit_all(pool, [stuck, ok], tmp_path)
        with pytest.raises(DecoderCrashed, match="took over 1 s"):
            futures[0].result(timeout=30)
        assert futures[1].result(timeout=30)["preview_size"] == (200, 150)
    assert time.monotonic() - started < 20


def test_close_finishes_queued_items_and_refuses_new_ones(tmp_path):
    sources = photos(tmp_path, [f"q{i}.jpg" for i in range(6)])
    pool = DerivativePool(1)
    futures = submit_all(pool, sources, tmp_path)
    pool.close()
    assert all(f.result(timeout=0)["thumb_size"] == (64, 48) for f in futures)
    with pytest.raises(RuntimeError):
        submit_all(pool, sources[:1], tmp_path)


def test_cancel_pending_on_close(tmp_path):
    sources = photos(tmp_path, [f"c{i}.jpg" for i in range(40)])
    pool = DerivativePool(1)
    futures = submit_all(pool, sources, tmp_path)
    pool.close(cancel_pending=True)
    assert all(f.done() for f in futures)
    assert any(f.cancelled() for f in futures)
