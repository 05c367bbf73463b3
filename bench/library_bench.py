"""Benchmark: catalog/disk reconciliation at 10k and 100k photos against the per-photo probing of the
seed, and import throughput against plain shutil.copy2 -- baselines measured in the same run.

    .venv/bin/python bench/library_bench.py [--sizes 10000,100000] [--import-mb 256] [--dir /tmp]

Goals: 100,000 unchanged photos reconciled (manifest_check + folder_check) in under 2 s and at
least 10x faster than probing; verified import within 1.5x of plain copying.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from photojobs.config import load_config
from photojobs.library import Library
from photojobs.photos import media
from photojobs.photos.importing import import_files
from photojobs.photos.projects import create_project
from photojobs.photos.reconcile import checked_scan, folder_check, manifest_check
from photojobs.storage import atomic
from photojobs.storage.repos import photos as photos_repo
from photojobs.storage.repos import projects as projects_repo

JPEG_STUB = b"\xff\xd8\xff\xe0" + b"\0" * 60
TIFF_STUB = b"II*\x00" + b"\0" * 60


def build_project(lib: Library, name: str, n: int):
    """n photos, each a tiny NAME.JPG + NAME.ARW on disk and in the catalog."""
    row = projects_repo.by_folder(lib.conn(), create_project(lib, name)["folder"])
    path = lib.project_path(row["folder"])
    entries = []
    for i in range(n):
        base = f"IMG_{i:06d}"
        (path / f"{base}.JPG").write_bytes(JPEG_STUB)
        (path / f"{base}.ARW").write_bytes(TIFF_STUB)
        entries.append({"basename": base, "jpg_name": f"{base}.JPG", "raw_name": f"{base}.ARW"})
    with atomic(lib.conn()) as conn:
        photos_repo.insert_many(conn, row["id"], entries, lib.now())
    return row


def probing_baseline(lib: Library, row) -> int:
    """The seed's approach: for every photo, an exists() per known extension and letter case."""
    path = lib.project_path(row["folder"])
    exts = sorted(media.EXT_JPEG | media.EXT_RAW)
    changed = 0
    for photo in photos_repo.list_for_project(lib.conn(), row["id"]):
        jpg = raw = False
        for ext in exts:
            for variant in (ext, ext.upper()):
                if os.path.exists(path / f"{photo['basename']}.{variant}"):
                    if variant.lower() in media.EXT_JPEG:
                        jpg = True
                    else:
                        raw = True
        changed += (jpg != bool(photo["jpg_available"])) + (raw != bool(photo["raw_available"]))
    # and the seed's folder check: a listing, then one catalog probe per file
    for name in os.listdir(path):
        if not name.startswith("."):
            photos_repo.get_by_basename(lib.conn(), row["id"], name.rpartition(".")[0])
    return changed


def ours(lib: Library, row) -> tuple[float, float]:
    t0 = time.perf_counter()
    result = manifest_check(lib, row, checked_scan(lib, row))
    t1 = time.perf_counter()
    added = folder_check(lib, row, checked_scan(lib, row, allow_empty=True))
    t2 = time.perf_counter()
    assert not result.now_missing and not added.added and not added.trashed, "the project was not unchanged"
    return t1 - t0, t2 - t1


def bench_reconcile(root: Path, sizes: list[int]) -> None:
    lib = Library.open(root / "lib-reconcile", load_config())
    print(f"{'photos':>8} {'manifest_check':>15} {'folder_check':>13} {'both':>8} {'probing':>9} {'speedup':>8}")
    for n in sizes:
        row = build_project(lib, f"p{n}", n)
        ours(lib, row)  # warm the page cache for both contenders alike
        best = min((ours(lib, row) for _ in range(3)), key=sum)
        t0 = time.perf_counter()
        probing_baseline(lib, row)
        base = time.perf_counter() - t0
        total = sum(best)
        goal = " (goal < 2 s: met)" if n >= 100_000 and total < 2 else (" (goal < 2 s: MISSED)" if n >= 100_000 else "")
        print(f"{n:>8} {best[0]:>14.3f}s {best[1]:>12.3f}s {total:>7.3f}s {base:>8.2f}s {base / total:>7.1f}x{goal}")
    lib.close()


def bench_import(root: Path, total_mb: int) -> None:
    src = root / "card"
    src.mkdir()
    size = 8 * 1024 * 1024
    count = max(1, total_mb * 1024 * 1024 // size)
    for i in range(count):
        (src / f"DSC{i:05d}.JPG").write_bytes(JPEG_STUB + os.urandom(size - len(JPEG_STUB)))
    mb = count * size / 1e6

    def plain(n: int) -> float:
        dst = root / f"plain{n}"
        dst.mkdir()
        os.sync()  # start each contender with no dirty pages from the last one
        t0 = time.perf_counter()
        for f in sorted(src.iterdir()):
            shutil.copy2(f, dst / f.name)
        return time.perf_counter() - t0

    def durable(n: int) -> float:
        """copy2, then fsync each copy: what any copier that survives a power cut must do."""
        dst = root / f"durable{n}"
        dst.mkdir()
        os.sync()
        t0 = time.perf_counter()
        for f in sorted(src.iterdir()):
            shutil.copy2(f, dst / f.name)
            fd = os.open(dst / f.name, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
        return time.perf_counter() - t0

    def verified(n: int) -> float:
        lib = Library.open(root / f"lib-import{n}", load_config())
        os.sync()
        t0 = time.perf_counter()
        report = import_files(lib, [src], project="card")
        elapsed = time.perf_counter() - t0
        assert len(report.imported) == count and not report.failed, report.to_dict()
        lib.close()
        return elapsed

    runs = [(plain(i), durable(i), verified(i)) for i in range(3)]  # interleaved: same cache state
    p = min(r[0] for r in runs)
    d = min(r[1] for r in runs)
    v = min(r[2] for r in runs)
    ratio = v / p
    print(f"import {count} files, {mb:.0f} MB: shutil.copy2 {mb / p:8.1f} MB/s   copy2+fsync {mb / d:8.1f} MB/s   "
          f"verified import {mb / v:8.1f} MB/s")
    print(f"   vs copy2: {ratio:.2f}x (goal <= 1.5x: {'met' if ratio <= 1.5 else 'MISSED'});  "
          f"vs copy2+fsync: {v / d:.2f}x")
    print("   (verified import = temp file + fsync + CRC-32 of source and copy + catalog rows; "
          "shutil.copy2 leaves its data in the page cache, unsynced, so it measures memory, not the disk)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--import-mb", type=int, default=256)
    ap.add_argument("--dir", default=None, help="where to build the test data (default: a temp dir)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pj-library-bench-", dir=args.dir) as tmp:
        root = Path(tmp)
        bench_reconcile(root, [int(s) for s in args.sizes.split(",")])
        bench_import(root, args.import_mb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
