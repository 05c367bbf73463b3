"""The folder watcher leaves photojobs' own writes (import, commit, restore) alone, in any process, and survives a crashed writer."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from waiting import wait_for
from imagegen import make_dng, make_jpeg
from photojobs.daemon.watcher import ADDED, REMOVED, ProjectWatcher
from photojobs.engine import queue
from photojobs.photos import projects, writing
from photojobs.photos.importing import import_files
from test_daemon_fixtures import start_daemon  # noqa: F401 - fixture

# A writer in another process: claims and places one file in a project, then waits for a line
# on stdin (and ends normally) -- or for the test to kill it.
WRITER = """
import sys
from pathlib import Path
from photojobs.config import load_config
from photojobs.library import Library
from photojobs.photos.fileops import place_no_replace
from photojobs.photos.writing import writing
lib = Library.open(sys.argv[1], load_config())
src, dst = Path(sys.argv[2]), Path(sys.argv[3])
with writing(lib):
    place_no_replace(src, dst)
    print("placed", flush=True)
    sys.stdin.readline()
"""


class Recorder:
    def __init__(self):
        self.calls: list[tuple[str, str]] = []

    def __call__(self, folder, kind):
        self.calls.append((folder, kind))


@pytest.fixture
def watcher(lib):
    started = []

    def start(mode="native", quiet_ms=300):
        rec = Recorder()
        started.append(ProjectWatcher(lib, rec, mode=mode, quiet_ms=quiet_ms, poll_seconds=0.1).start())
        return started[-1], rec
    yield start
    for w in started:
        w.stop()


@pytest.fixture
def writer(lib, tmp_path):
    procs = []

    def start(folder: str, name: str) -> subprocess.Popen:
        src = make_jpeg(tmp_path / f"src-{name}", size=(32, 32))
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(lib.root), str(src),
                                 str(lib.root / folder / name)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "placed"
        return proc
    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _card(tmp_path, n: int = 3):
    card = tmp_path / "card"
    card.mkdir(exist_ok=True)
    for i in range(1, n + 1):
        make_jpeg(card / f"IMG_{i:04d}.JPG", size=(64, 48), seed=i, noise=8)
    make_dng(card / "IMG_0001.DNG", size=(60, 40))
    return card


def test_an_import_is_not_reported_but_a_users_copy_next_to_it_is(lib, watcher, tmp_path):
    projects.create_project(lib, "Wedding")
    projects.create_project(lib, "Studio")
    w, rec = watcher()
    report = import_files(lib, [_card(tmp_path)], project="Wedding")
    assert sorted(report.imported) == ["IMG_0001.DNG", "IMG_0001.JPG", "IMG_0002.JPG", "IMG_0003.JPG"]
    # The events of one inotify queue come in order, and an earlier folder is due no later:
    # once the user's copy into Studio is reported, anything about Wedding would have been.
    shutil.copy(tmp_path / "card" / "IMG_0002.JPG", lib.root / "Studio" / "IMG_0002.JPG")
    assert wait_for(lambda: rec.calls)
    assert rec.calls == [("Studio", ADDED)] and w.stats["own"] >= 4
    # Right after the import, what the user does to the imported files is still news.
    (lib.root / "Wedding" / "IMG_0003.JPG").unlink()
    assert wait_for(lambda: ("Wedding", REMOVED) in rec.calls)


def test_a_folder_photojobs_is_writing_in_waits_for_it_and_a_crashed_writer_frees_it(lib, watcher, writer):
    projects.create_project(lib, "Wedding")
    w, rec = watcher()
    proc = writer("Wedding", "IMG_0001.JPG")
    make_jpeg(lib.root / "Wedding" / "IMG_0002.JPG", size=(32, 32))   # the user, meanwhile
    assert wait_for(lambda: w.stats["held"] > 0)
    assert rec.calls == []          # not checked while photojobs is still writing there
    proc.kill()                     # the writer dies without a word: the kernel drops its lock
    proc.wait()
    assert wait_for(lambda: rec.calls == [("Wedding", ADDED)])
    markers = list(writing.marker_dir(lib.root).iterdir())
    assert len(markers) == 1        # it lingers for late events, then anyone may delete it
    writing.sweep(writing.marker_dir(lib.root), now=time.time() + writing.LINGER_SECONDS + 1)
    assert list(writing.marker_dir(lib.root).iterdir()) == []


def test_a_live_writers_marker_is_never_swept(lib, writer):
    projects.create_project(lib, "Wedding")
    proc = writer("Wedding", "IMG_0001.JPG")
    folder = writing.marker_dir(lib.root)
    (marker,) = folder.iterdir()
    assert json.loads(marker.read_text()) == ["Wedding", "IMG_0001.JPG", "+"]
    writing.sweep(folder, now=time.time() + writing.LINGER_SECONDS + 1)
    assert marker.exists()
    proc.communicate("done\n")
    assert proc.returncode == 0
    writing.sweep(folder, now=time.time() + writing.LINGER_SECONDS + 1)
    assert not marker.exists()


def test_polling_does_not_check_a_project_an_import_just_made(lib, watcher, tmp_path):
    # A long quiet period: the test itself decides when the watcher looks for new projects.
    w, rec = watcher("polling", quiet_ms=600_000)
    import_files(lib, [_card(tmp_path, 1)], project="Fresh")
    projects.create_project(lib, "Studio")          # made by hand, with a photo copied in
    make_jpeg(lib.root / "Studio" / "IMG_1.JPG", size=(32, 32))
    w._resync()
    assert {"Fresh", "Studio"} <= set(w._watches)
    assert w.pending() == ["Studio"]


def test_with_the_daemon_running_upload_commit_and_restore_leave_the_watcher_quiet(
        lib, start_daemon, cli_proc, tmp_path):
    projects.create_project(lib, "Wedding")
    projects.create_project(lib, "Studio")
    d = start_daemon({"daemon": {"watch_mode": "native", "watch_quiet_ms": 300}})
    card = _card(tmp_path)
    r = cli_proc("upload", card, "--project", "Wedding", "--wait")     # copied by the CLI's process
    assert r.code == 0, r
    other = make_jpeg(tmp_path / "other.jpg", size=(64, 48), seed=9, noise=8).read_bytes()
    with d.http() as http:                                               # copied by the daemon's
        up = http.post("/api/projects/Wedding/upload", data={"on_duplicate": "overwrite"},
                       files=[("photos", ("IMG_0002.JPG", other, "image/jpeg"))])
        assert up.status_code == 201 and up.json()["overwritten"] == ["IMG_0002.JPG"], up.text
    assert cli_proc("keep", "Wedding", "IMG_0001", "--no-raw").code == 0
    r = cli_proc("commit", "Wedding", "--yes", "--wait")                 # moved to .trash by the daemon
    assert r.code == 0, r
    assert not (lib.root / "Wedding" / "IMG_0001.DNG").exists()
    r = cli_proc("trash", "restore", "Wedding", "IMG_0001.DNG", "--wait")  # moved back by the CLI
    assert r.code == 0, r
    assert wait_for(lambda: all(j["status"] in queue_done for j in queue.list_jobs(lib, limit=1000)), timeout=60)
    shutil.copy(card / "IMG_0003.JPG", lib.root / "Studio" / "IMG_0003.JPG")    # the user's, elsewhere
    assert wait_for(lambda: [j["status"] for j in queue.list_jobs(lib, type=["folder_check"])
                             if j["source"] == "watcher" and j["project_folder"] == "Studio"] == ["completed"],
                    timeout=60), d.log_text()
    jobs = queue.list_jobs(lib, limit=1000)
    assert [(j["type"], j["project_folder"]) for j in jobs if j["source"] == "watcher"] == [
        ("folder_check", "Studio")]
    # Each import's and the restore's photos were postprocessed once, by their own task.
    assert [j["source"] for j in jobs if j["type"] == "upload_postprocess" and j["project_folder"] == "Wedding"
            ] == ["cli", "api", "cli"]


queue_done = ("completed", "failed", "canceled")
