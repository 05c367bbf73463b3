"""A full disk, for real: small tmpfs mounts that fill up (files fail with ENOSPC, the catalog with
SQLITE_FULL). The job in hand goes back to the queue with nothing half-written, a command stops with
one line and exit 1, and everything runs to the end once there is room again."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

import imagegen
from photojobs.engine import queue
from photojobs.engine.runner import Runner
from photojobs.errors import StorageFull
from photojobs.library import CATALOG_DIR
from photojobs.photos import derivatives
from photojobs.storage import atomic
from photojobs.storage.db import open_connection
from test_derivatives_jobs import SMALL, add, new_project, photo
from waiting import wait_for

NAMES = [f"P{i:03}.jpg" for i in range(12)]


@pytest.fixture
def small_disk():
    """small_disk(path, size) mounts a tmpfs of `size` ("2m") at `path` and unmounts it at teardown.
    Needs root (CI runs the suite as root); skipped where mounting is not allowed."""
    mounted: list[Path] = []

    def mount(path: Path, size: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        if subprocess.run(["umount", str(path)]).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=True)


def resize(path: Path, size: str) -> None:
    """Give a small_disk more room, keeping what is on it."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def fill(folder: Path, leave: int) -> Path:
    """Fill the file system of `folder` with one file, all but `leave` bytes."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                os.write(fd, b"\0" * 65536)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(fd)
    os.truncate(filler, filler.stat().st_size - leave)
    return filler


def photojobs(library_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "photojobs", "--library", str(library_path), *args],
                          capture_output=True, text=True, timeout=120)


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("photojobs: error: "), stderr
    return lines[0]


@pytest.fixture(scope="module")
def noisy_jpeg(tmp_path_factory) -> Path:
    """A photo whose 400-pixel preview is ~75 KB (noise does not compress)."""
    return imagegen.make_jpeg(tmp_path_factory.mktemp("src") / "noisy.jpg",
                              displayed=imagegen.displayed_image((600, 400), noise=30))


def shoot(open_library, noisy_jpeg):
    lib = open_library(SMALL)
    project = new_project(lib)
    for name in NAMES:
        add(lib, project, noisy_jpeg, name)
    return lib, project


def test_a_full_catalog_rolls_back_cleanly_and_says_storage_full(tmp_path):
    """No mount needed: PRAGMA max_page_count makes this catalog file full for real."""
    conn = open_connection(tmp_path / "catalog.db")
    conn.execute("CREATE TABLE t (x)")
    with atomic(conn):
        conn.execute("INSERT INTO t VALUES ('kept')")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    for nested in (False, True):
        with pytest.raises(StorageFull, match="the disk holding the catalog .*catalog.db.* is full"):
            with atomic(conn):
                conn.execute("INSERT INTO t VALUES ('lost')")
                if nested:
                    with atomic(conn):
                        conn.execute("INSERT INTO t VALUES (randomblob(100000))")
                else:
                    conn.execute("INSERT INTO t VALUES (randomblob(100000))")
        assert not conn.in_transaction
        assert [r[0] for r in conn.execute("SELECT x FROM t")] == ["kept"]
    with atomic(conn):   # the connection is fine for what fits
        conn.execute("INSERT INTO t VALUES ('small')")
    assert [r[0] for r in conn.execute("SELECT x FROM t")] == ["kept", "small"]
    conn.close()


def test_a_full_catalog_disk_gives_the_job_back_and_jobs_run_exits_1(small_disk, open_library, library_path,
                                                                       noisy_jpeg):
    catalog_disk = small_disk(library_path / CATALOG_DIR, "2m")
    lib, project = shoot(open_library, noisy_jpeg)
    job = derivatives.request(lib, project["folder"], NAMES)   # its items are written now
    lib.close()   # the WAL is checkpointed and removed: the runner's writes must grow it anew
    # Room for the runner to open the catalog and do a few photos, far from enough for twelve.
    filler = fill(catalog_disk, leave=200 * 1024)

    ran = photojobs(library_path, "jobs", "run", "--until-empty")
    assert ran.returncode == 1
    line = one_error_line(ran.stderr)
    assert "the disk holding the catalog" in line and "is full" in line and "back in the queue" in line

    filler.unlink()
    back = queue.job_detail(lib, job["id"])
    assert back["status"] == "queued" and back["attempts"] == 0        # given back, attempt refunded
    assert "is full" in back["error_message"]
    summary = back["items_summary"]
    assert summary["running"] == summary["failed"] == 0                # nothing in flight, no photo blamed
    assert 1 <= summary["done"] < len(NAMES)                           # it stopped mid-way; that work is kept
    done = {i["filename"] for i in back["items"] if i["status"] == "done"}
    for name in NAMES:
        status = photo(lib, project, name[:-4])["thumbnail_status"]
        assert status == ("generated" if name in done else "pending"), name

    again = photojobs(library_path, "jobs", "run", "--until-empty")
    assert again.returncode == 0, again.stderr
    final = queue.job_detail(lib, job["id"])
    assert final["status"] == "completed" and final["error_message"] is None
    assert final["items_summary"]["done"] == len(NAMES)
    assert all(photo(lib, project, n[:-4])["thumbnail_status"] == "generated" for n in NAMES)


def test_a_full_derivatives_disk_gives_the_job_back_and_no_photo_fails(small_disk, open_library, library_path,
                                                                        noisy_jpeg):
    lib, project = shoot(open_library, noisy_jpeg)
    folder = lib.project_path(project["folder"])
    previews = small_disk(folder / derivatives.PREVIEW_DIR, "160k")    # two previews fit

    ran = photojobs(library_path, "process", project["folder"])
    assert ran.returncode == 1
    line = one_error_line(ran.stderr)
    assert "the disk is full: cannot write" in line and "back in the queue" in line

    job, = queue.list_jobs(lib)
    back = queue.job_detail(lib, job["id"])
    assert back["status"] == "queued" and back["attempts"] == 0
    summary = back["items_summary"]
    assert summary["failed"] == summary["running"] == 0 and summary["done"] >= 1
    statuses = {photo(lib, project, n[:-4])["thumbnail_status"] for n in NAMES}
    assert statuses == {"generated", "pending"}                        # none "failed": all retryable
    made = sorted(p.name for p in previews.iterdir())
    done = [i["filename"] for i in back["items"] if i["status"] == "done"]
    # No partial file: every preview there is whole. (One that a second worker finished while the
    # disk filled may be there with its item pending: it is made again, never half.)
    assert set(done) <= set(made) and not [n for n in made if n.startswith(".")]
    for name in made:
        with Image.open(previews / name) as im:
            im.load()

    resize(previews, "4m")
    again = photojobs(library_path, "jobs", "run", "--until-empty")
    assert again.returncode == 0, again.stderr
    assert queue.get_job(lib, job["id"])["status"] == "completed"
    assert sorted(p.name for p in previews.iterdir()) == NAMES


def test_the_daemons_runner_waits_out_a_full_disk_and_goes_on(small_disk, open_library, noisy_jpeg):
    """Without stop_on_full_disk (the daemon) the runner gives the job back, pauses its claims,
    and takes the job again once there is room, without ever failing it."""
    lib = open_library({**SMALL, "pipeline": {"retry_base_seconds": 0.2, "retry_max_seconds": 0.5}})
    project = new_project(lib)
    for name in NAMES[:4]:
        add(lib, project, noisy_jpeg, name)
    previews = small_disk(lib.project_path(project["folder"]) / derivatives.PREVIEW_DIR, "80k")
    job = derivatives.request(lib, project["folder"])
    runner = Runner(lib)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        assert wait_for(lambda: "is full" in (queue.get_job(lib, job["id"])["error_message"] or ""), timeout=60)
        assert queue.get_job(lib, job["id"])["status"] in ("queued", "running")   # given back, not failed
        resize(previews, "4m")
        assert wait_for(lambda: queue.get_job(lib, job["id"])["status"] == "completed", timeout=60)
    finally:
        runner.request_stop()
        thread.join(30)
    assert not thread.is_alive()
    final = queue.job_detail(lib, job["id"])
    assert final["items_summary"]["done"] == 4 and final["attempts"] == 1   # each give-back refunded its attempt
