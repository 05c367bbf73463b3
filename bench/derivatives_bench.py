"""Photos per second for thumbnail + preview: ours against a naive decode-per-derivative,
pyvips, and the decode-and-encode floor, on a generated 24 MP corpus."""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from PIL import Image, ImageOps  # noqa: E402

import imagegen  # noqa: E402  (tests/imagegen.py: the same generators the tests use)
from photojobs.photos.imaging import (DerivativeSpec, ImagingSettings, dct_scale, fit,  # noqa: E402
                                      make_derivatives)
from photojobs.photos.imaging_pool import DerivativePool  # noqa: E402

SIZE = (6000, 4000)
THUMB = DerivativeSpec(200, 80)


def build_corpus(folder: Path, photos: int, raws: int):
    """~10 MB q92 JPEGs (every 4th a portrait with orientation 6, as cameras store
    them) and DNGs with and without a full-size embedded preview; cached by name."""
    folder.mkdir(parents=True, exist_ok=True)
    jpegs, with_preview, without_preview = [], [], []
    for i in range(photos):
        path = folder / f"jpeg-{i:03d}.jpg"
        if not path.exists():
            print(f"  generating {path.name}", flush=True)
            imagegen.make_jpeg(path, size=SIZE, orientation=6 if i % 4 == 3 else None,
                               quality=92, noise=20, seed=i,
                               exif_datetime="2024:05:06 07:08:09", make="Bench", model="24MP")
        jpegs.append(path)
    for i in range(raws):
        for preview, bucket in ((True, with_preview), (False, without_preview)):
            path = folder / f"dng-{'preview' if preview else 'bare'}-{i:03d}.dng"
            if not path.exists():
                print(f"  generating {path.name}", flush=True)
                imagegen.make_dng(path, size=SIZE, with_preview=preview, noise=12)
            bucket.append(path)
    return jpegs, with_preview, without_preview


def run(label, fn, sources, out: Path):
    fn(sources[0], out)  # warm up: imports, plugin registration, page cache
    start = time.perf_counter()
    for src in sources:
        fn(src, out)
    elapsed = time.perf_counter() - start
    return {"label": label, "n": len(sources), "seconds": elapsed,
            "per_s": len(sources) / elapsed}


def ours(settings):
    def fn(src, out):
        make_derivatives(src, out / "t.jpg", out / "p.jpg", settings)
    return fn


def naive(settings):
    """(a) the original approach: a full decode per derivative, then resize."""
    def fn(src, out):
        for spec, name in ((settings.thumbnail, "t.jpg"), (settings.preview, "p.jpg")):
            with Image.open(src) as im:
                im.load()
                im = ImageOps.exif_transpose(im)
                im = im.resize(fit(im.size, spec.max_dim), Image.Resampling.LANCZOS)
                im.save(out / name, quality=spec.quality)
    return fn


def pyvips_thumbnail(settings):
    """(b) libvips' thumbnail (shrink-on-load, auto-rotate) once per derivative."""
    import pyvips

    def fn(src, out):
        for spec, name in ((settings.thumbnail, "t.jpg"), (settings.preview, "p.jpg")):
            pyvips.Image.thumbnail(str(src), spec.max_dim, size="down").write_to_file(
                str(out / name), Q=spec.quality)
    return fn


def floor(settings):
    """(c) the floor: the reduced-scale decode plus encoding two images of the output
    sizes (crops, so there is no resize and no rotation) -- nothing else."""
    def fn(src, out):
        with Image.open(src) as im:
            scale = dct_scale(im.size, settings.preview.max_dim)
            if scale > 1:
                im.draft("RGB", (im.width // scale, im.height // scale))
            im.load()
            preview_size = fit(im.size, settings.preview.max_dim)
            for spec, size in ((settings.preview, preview_size),
                               (settings.thumbnail, fit(preview_size, settings.thumbnail.max_dim))):
                im.crop((0, 0, *size)).save(io.BytesIO(), "JPEG", quality=spec.quality)
    return fn


def pooled(sources, settings, workers, out: Path):
    with DerivativePool(workers) as pool:
        pool.submit(sources[0], out / "w-t.jpg", out / "w-p.jpg", settings).result()  # warm up
        start = time.perf_counter()
        futures = [pool.submit(src, out / f"{i}-t.jpg", out / f"{i}-p.jpg", settings)
                   for i, src in enumerate(sources)]
        for f in futures:
            f.result()
        elapsed = time.perf_counter() - start
    return {"label": f"ours, pool of {workers}", "n": len(sources), "seconds": elapsed,
            "per_s": len(sources) / elapsed}


def through_handler(sources, preview_dim, workers, out: Path, repeat: int = 3):
    """The real generate_derivatives job run by the real runner: catalog reads and writes,
    one transaction and item event per photo, and the pool of `workers` processes. Each
    source is linked `repeat` times under new names, so the pool's start and the last
    photo's wait weigh as little as in a real card of hundreds."""
    from photojobs.config import load_config
    from photojobs.engine.runner import Runner
    from photojobs.library import Library
    from photojobs.photos import derivatives, media
    from photojobs.photos.projects import create_project
    from photojobs.storage import atomic
    from photojobs.storage.repos import photos as photos_repo

    config = load_config(overrides={"pipeline": {"max_parallel_items_per_job": workers},
                                    "processing": {"preview": {"maxDim": preview_dim}}})
    lib = Library.open(out / f"library-{workers}", config)
    try:
        project = create_project(lib, "bench")
        folder = lib.project_path(project["folder"])
        with atomic(lib.conn()) as conn:
            for i, src in enumerate(sources * repeat):
                name = f"{i:04d}-{src.name}"
                (folder / name).symlink_to(src.resolve())
                photos_repo.add_file(conn, project["id"], basename=name.rsplit(".", 1)[0], role="jpg",
                                     name=name, meta=media.read_metadata(src), now=lib.now())
        derivatives.request(lib, project["folder"])
        start = time.perf_counter()
        Runner(lib, until_empty=True).run()
        elapsed = time.perf_counter() - start
    finally:
        lib.close()
    return {"label": f"generate_derivatives job, {workers} item worker(s)", "n": len(sources) * repeat,
            "seconds": elapsed, "per_s": len(sources) * repeat / elapsed}


def full_demosaic(src, out):
    """Reference: LibRaw's full-size demosaic alone, no resize or encode."""
    import rawpy

    with rawpy.imread(str(src)) as raw:
        raw.postprocess(half_size=False, use_camera_wb=True, output_bps=8)


def table(title, rows, ours_row):
    print(f"\n{title}")
    print(f"  {'method':<44} {'photos/s':>9} {'ms/photo':>9} {'ours vs it':>11}")
    for row in rows:
        ms = 1000 * row["seconds"] / row["n"]
        ratio = ours_row["per_s"] / row["per_s"] if row is not ours_row else 1.0
        print(f"  {row['label']:<44} {row['per_s']:>9.2f} {ms:>9.0f} {ratio:>10.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=8, help="24 MP JPEGs (default 8)")
    parser.add_argument("--raws", type=int, default=2,
                        help="DNGs of each kind, with and without preview (default 2)")
    parser.add_argument("--corpus", type=Path, default=Path(__file__).parent / ".corpus")
    args = parser.parse_args(argv)

    print(f"corpus in {args.corpus} (generated once, then reused)")
    jpegs, dng_preview, dng_bare = build_corpus(args.corpus, args.photos, args.raws)
    mb = sum(p.stat().st_size for p in jpegs) / len(jpegs) / 1e6
    print(f"{len(jpegs)} JPEGs of {SIZE[0]}x{SIZE[1]}, {mb:.1f} MB on average; "
          f"{os.cpu_count()} CPUs")
    try:
        import pyvips  # noqa: F401
        have_vips = True
    except ImportError as e:
        have_vips = False
        print(f"(b) pyvips skipped: cannot import pyvips ({e})")

    with tempfile.TemporaryDirectory(prefix="pj-bench-") as tmp:
        out = Path(tmp)
        for preview_dim in (2048, 6000):
            settings = ImagingSettings(THUMB, DerivativeSpec(preview_dim, 85))
            ours_row = run("ours (one draft decode, thumb from preview)",
                           ours(settings), jpegs, out)
            rows = [ours_row,
                    run("(a) full decode per derivative", naive(settings), jpegs, out)]
            if have_vips:
                rows.append(run("(b) pyvips thumbnail per derivative",
                                pyvips_thumbnail(settings), jpegs, out))
            rows.append(run("(c) floor: draft decode + 2 encodes", floor(settings), jpegs, out))
            table(f"JPEG, thumbnail 200 + preview {preview_dim}, one process", rows, ours_row)

        settings = ImagingSettings(THUMB, DerivativeSpec(2048, 85))
        one = pooled(jpegs, settings, 1, out)
        two = pooled(jpegs, settings, 2, out)
        table("JPEG, preview 2048, worker pool", [one, two], one)
        # Pool start-up and the catalog work are inside these timings, as a user sees them.
        job_one = through_handler(jpegs, 2048, 1, out)
        job_two = through_handler(jpegs, 2048, 2, out)
        table("JPEG, preview 2048, through the job handler", [job_one, job_two], job_one)

        if dng_preview:
            raw_rows = [
                run("DNG, embedded full-size preview", ours(settings), dng_preview, out),
                run("DNG, no preview: half-size demosaic", ours(settings), dng_bare, out),
                run("DNG, full-size demosaic only (reference)", full_demosaic, dng_bare, out),
            ]
            table("RAW, preview 2048, one process", raw_rows, raw_rows[0])


if __name__ == "__main__":
    main()
