"""The folder watcher, driven directly with a real library and real files, native and polling."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from waiting import wait_for
from photojobs.daemon.watcher import ADDED, REMOVED, ChangeDebouncer, ProjectWatcher, counts_as_change
from photojobs.engine import queue
from photojobs.photos import projects

QUIET_MS = 400


class Recorder:
    """on_change that records each report, then does what the daemon does (queue the check)."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.watcher: ProjectWatcher | None = None
        self.at_report: list[dict] = []
        self.probe = None

    def __call__(self, folder, kind):
        if self.probe:
            self.at_report.append(self.probe())
        self.watcher.enqueue_checks(folder, kind)
        self.calls.append((folder, kind))  # after the enqueue: a test that sees the call sees the job


@pytest.fixture
def watch(lib):
    started = []

    def start(mode="native", **kw):
        rec = Recorder()
        w = ProjectWatcher(lib, rec, mode=mode, quiet_ms=kw.pop("quiet_ms", QUIET_MS),
                           poll_seconds=kw.pop("poll_seconds", 0.1), **kw)
        rec.watcher = w
        started.append(w.start())
        return w, rec
    yield start
    for w in started:
        w.stop()


def jobs_of(lib, type_):
    return [j for j in queue.list_jobs(lib, limit=1000) if j["type"] == type_]


@pytest.mark.parametrize("mode", ["native", "polling"])
def test_a_burst_of_200_files_becomes_one_folder_check(lib, watch, mode):
    projects.create_project(lib, "Wedding")
    w, rec = watch(mode)
    folder = lib.root / "Wedding"
    for i in range(200):
        (folder / f"IMG_{i:04d}.JPG").write_bytes(b"\xff\xd8\xff" + b"x" * 200)
    assert wait_for(lambda: rec.calls)
    assert wait_for(w.idle)
    assert rec.calls == [("Wedding", ADDED)]
    checks = jobs_of(lib, "folder_check")
    assert len(checks) == 1 and checks[0]["status"] == "queued" and checks[0]["source"] == "watcher"
    assert jobs_of(lib, "manifest_check") == []


@pytest.mark.parametrize("mode", ["native", "polling"])
def test_deletions_lead_to_a_manifest_check(lib, watch, mode):
    projects.create_project(lib, "Wedding")
    folder = lib.root / "Wedding"
    for i in range(5):
        (folder / f"IMG_{i}.JPG").write_bytes(b"x")
    w, rec = watch(mode)
    for i in range(3):
        (folder / f"IMG_{i}.JPG").unlink()
    assert wait_for(lambda: rec.calls)
    assert wait_for(w.idle)
    assert rec.calls == [("Wedding", REMOVED)]
    assert [j["status"] for j in jobs_of(lib, "manifest_check")] == ["queued"]
    assert jobs_of(lib, "folder_check") == []


def test_a_rename_inside_a_project_reports_removed_then_added(lib, watch):
    projects.create_project(lib, "Wedding")
    folder = lib.root / "Wedding"
    (folder / "IMG_1.JPG").write_bytes(b"x")
    w, rec = watch()
    os.rename(folder / "IMG_1.JPG", folder / "IMG_2.JPG")
    assert wait_for(lambda: len(rec.calls) == 2)
    assert rec.calls == [("Wedding", REMOVED), ("Wedding", ADDED)]
    checks = queue.list_jobs(lib)
    assert sorted(j["type"] for j in checks) == ["folder_check", "manifest_check"]
    # manifest_check was queued first, so it runs first: the old name is missing before the new one is added
    assert min(checks, key=lambda j: j["id"])["type"] == "manifest_check"


@pytest.mark.parametrize("mode", ["native", "polling"])
def test_thumbnails_temp_files_and_the_catalog_are_not_changes(lib, watch, mode):
    projects.create_project(lib, "Wedding")
    projects.create_project(lib, "Portraits")
    w, rec = watch(mode)
    wedding = lib.root / "Wedding"
    for sub in (".thumb", ".preview", ".trash"):
        (wedding / sub / "IMG_1.jpg").write_bytes(b"x")
    (wedding / ".photojobs-tmp-0123456789ab").write_bytes(b"x")
    (wedding / "IMG_9.JPG.part").write_bytes(b"x")
    (wedding / "IMG_9.JPG.crdownload").write_bytes(b"x")
    (wedding / ".DS_Store").write_bytes(b"x")
    for _ in range(20):  # catalog writes in .photojobs
        queue.enqueue(lib, "test_noop")
    # A real change in another project after all of the above: once it is reported, anything
    # the ignored writes could have caused would have been reported before it.
    (lib.root / "Portraits" / "IMG_1.JPG").write_bytes(b"x")
    assert wait_for(lambda: rec.calls)
    assert wait_for(w.idle)
    assert rec.calls == [("Portraits", ADDED)]


def test_names_that_count_as_changes():
    assert counts_as_change("IMG_0001.CR2")
    for name in (".photojobs-tmp-abc", ".DS_Store", "._IMG_1.JPG", "IMG.JPG.part", "IMG.JPG.crdownload",
                 "IMG.jpg.tmp", "IMG.JPG~", ".IMG_1.JPG.Xy12Zq"):
        assert not counts_as_change(name), name


def test_a_file_still_being_written_is_reported_only_once_it_settles(tmp_path):
    """Stepped clock, real file: the quiet period alone is not enough while the size changes."""
    d = ChangeDebouncer(quiet_seconds=1.0)
    f = tmp_path / "IMG_1.CR2"
    f.write_bytes(b"x" * 1000)
    d.note("Wedding", 0.0, kind=ADDED, path=str(f))
    assert d.due(0.5) == []            # not quiet yet
    with open(f, "ab") as out:         # a copy that stalls without events (e.g. polling)
        out.write(b"y" * 1000)
    assert d.due(1.0) == []            # quiet, but the size moved: look again one quiet period later
    assert d.next_deadline() == 2.0
    assert d.due(2.0) == [("Wedding", [ADDED])]
    assert d.next_deadline() is None   # nothing pending: the watcher thread sleeps without a timeout


def test_a_temp_file_delays_the_report_but_is_not_reported(tmp_path):
    d = ChangeDebouncer(quiet_seconds=1.0)
    part = tmp_path / "IMG_2.JPG.part"
    part.write_bytes(b"x")
    d.note("Wedding", 0.0, kind=ADDED, path=str(tmp_path / "IMG_1.JPG"))
    d.note("Wedding", 0.0, kind=None, path=str(part))
    part.write_bytes(b"xx")
    assert d.due(1.0) == []
    os.rename(part, tmp_path / "IMG_2.JPG")  # the download finished: the watcher sees a move
    d.note("Wedding", 1.5, kind=None, gone=str(part))
    d.note("Wedding", 1.5, kind=ADDED, path=str(tmp_path / "IMG_2.JPG"))
    assert d.due(2.4) == []
    assert d.due(2.5) == [("Wedding", [ADDED])]
    d.note("Portraits", 3.0, kind=None, path=str(part))
    assert d.due(5.0) == []            # temp writes alone: nothing to report
    assert d.pending() == []


def test_a_file_that_never_settles_is_reported_after_the_max_hold(tmp_path):
    d = ChangeDebouncer(quiet_seconds=1.0, max_hold_seconds=5.0)
    f = tmp_path / "growing.JPG"
    f.write_bytes(b"x")
    d.note("Wedding", 0.0, kind=ADDED, path=str(f))
    t = 0.0
    while True:
        t += 1.0
        f.write_bytes(b"x" * (int(t) + 2))  # grows before every look
        if out := d.due(t):
            break
    assert out == [("Wedding", [ADDED])] and t == 5.0


def test_a_slow_copy_is_not_taken_before_it_settles_end_to_end(lib, watch):
    projects.create_project(lib, "Wedding")
    target = lib.root / "Wedding" / "IMG_0001.CR2"
    w, rec = watch("polling", quiet_ms=300, poll_seconds=0.05)
    rec.probe = lambda: target.stat().st_size
    chunk, chunks = b"r" * 65536, 30
    with open(target, "wb") as out:
        for _ in range(chunks):
            out.write(chunk)
            out.flush()
            time.sleep(0.03)
    assert wait_for(lambda: rec.calls)
    assert rec.calls == [("Wedding", ADDED)]
    assert rec.at_report == [len(chunk) * chunks]


@pytest.mark.parametrize("mode", ["native", "polling"])
def test_survives_project_folders_being_renamed_and_deleted_and_sees_new_ones(lib, watch, mode):
    projects.create_project(lib, "Wedding")
    projects.create_project(lib, "Portraits")
    (lib.root / "Portraits" / "IMG_1.JPG").write_bytes(b"x")
    w, rec = watch(mode)
    os.rename(lib.root / "Wedding", lib.root / "Wedding-old")
    shutil.rmtree(lib.root / "Portraits")
    assert wait_for(lambda: {("Wedding", REMOVED), ("Portraits", REMOVED)} <= set(rec.calls))
    assert w.running
    # A project created after the watcher started is watched too.
    projects.create_project(lib, "Studio")
    assert wait_for(w.idle)
    (lib.root / "Studio" / "IMG_1.JPG").write_bytes(b"x")
    assert wait_for(lambda: ("Studio", ADDED) in rec.calls)
    # The renamed folder comes back under its name: its files are seen again.
    os.rename(lib.root / "Wedding-old", lib.root / "Wedding")
    assert wait_for(w.idle)
    (lib.root / "Wedding" / "IMG_5.JPG").write_bytes(b"x")
    assert wait_for(lambda: ("Wedding", ADDED) in rec.calls)
    assert w.stats["errors"] == 0
    assert {j["project_folder"] for j in jobs_of(lib, "folder_check")} >= {"Studio", "Wedding"}


def test_an_idle_watcher_sleeps_without_a_timeout(lib, watch):
    projects.create_project(lib, "Wedding")
    w, rec = watch("native")
    (lib.root / "Wedding" / "IMG_1.JPG").write_bytes(b"x")
    assert wait_for(lambda: rec.calls)
    assert w.idle() and w.debouncer.next_deadline() is None
    thread = w._thread
    assert thread is not None and thread.is_alive()
    # Its thread is parked in Condition.wait() with no timeout (see bench/watcher_idle.py for CPU).
    frames = {t: f for t, f in __import__("sys")._current_frames().items()}
    frame = frames[thread.ident]
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    assert names[0] == "wait" and "_main" in names


def test_watch_mode_must_be_native_or_polling(lib):
    from photojobs.errors import PhotojobsError
    with pytest.raises(PhotojobsError, match="native or polling"):
        ProjectWatcher(lib, mode="off")


# --- photojobs scan: the same checks, by hand ---------------------------------------------------

def test_scan_runs_both_checks_here_without_a_daemon(lib, cli):
    projects.create_project(lib, "Wedding")
    (lib.root / "Wedding" / "notes.txt").write_text("not a photo")
    r = cli("scan", "Wedding")
    assert r.code == 0, r
    assert "manifest_check" in r.out and "folder_check" in r.out
    assert "1 not a photo (left in place)" in r.out
    assert (lib.root / "Wedding" / "notes.txt").exists()   # not ours to move (maintenance.foreign_files)
    jobs = queue.list_jobs(lib)
    assert sorted((j["type"], j["status"], j["source"]) for j in jobs) == [
        ("folder_check", "completed", "cli"), ("manifest_check", "completed", "cli")]


def test_scan_while_the_lane_is_paused_leaves_the_checks_queued(lib, cli):
    from photojobs.engine import pause
    projects.create_project(lib, "Wedding")
    pause.pause(lib, "priority")  # the checks run in the priority lane
    r = cli("scan", "Wedding", "--json")
    assert r.code == 0, r
    assert [(x["job"]["type"], x["mode"], x["paused_lane"]) for x in r.json()] == [
        ("manifest_check", "queued", "priority"), ("folder_check", "queued", "priority")]
    assert {j["status"] for j in queue.list_jobs(lib)} == {"queued"}
    r = cli("scan", "Wedding")  # asking again does not pile up checks
    assert "(the priority lane is paused)" in r.out
    assert len(queue.list_jobs(lib)) == 2


def test_scan_no_wait_and_unknown_project(lib, cli):
    projects.create_project(lib, "Wedding")
    r = cli("scan", "Wedding", "--no-folder", "--no-wait")
    assert r.code == 0, r
    assert [(j["type"], j["status"]) for j in queue.list_jobs(lib)] == [("manifest_check", "queued")]
    r = cli("scan", "Nowhere")
    assert r.code == 3 and "no such project: Nowhere" in r.err


# --- the watcher inside a real daemon -------------------------------------------------------------

from test_daemon_fixtures import start_daemon  # noqa: E402,F401 - fixture: a real `photojobs daemon run`


def _photos(lib, folder):
    from photojobs.storage.repos import photos as photos_repo
    project = projects.require(lib, folder)
    return {p["basename"]: dict(p) for p in photos_repo.list_for_project(lib.conn(), project["id"])}


@pytest.mark.parametrize("mode", ["native", "polling"])
def test_files_copied_into_a_project_become_photos_with_derivatives(lib, start_daemon, tmp_path, mode):
    import imagegen
    d = start_daemon({"daemon": {"watch_mode": mode, "watch_quiet_ms": 300, "watch_poll_seconds": 0.2}})
    projects.create_project(lib, "Wedding")
    card = tmp_path / "card"
    card.mkdir()
    imagegen.make_jpeg(card / "IMG_0001.JPG", size=(640, 480))
    imagegen.make_jpeg(card / "IMG_0002.JPG", size=(480, 640), orientation=6)
    imagegen.make_dng(card / "IMG_0002.DNG", size=(300, 200))
    folder = lib.root / "Wedding"
    for f in sorted(card.iterdir()):
        shutil.copy(f, folder / f.name)   # as Finder or cp would: the watcher sees it being written

    def ready():
        photos = _photos(lib, "Wedding")
        return set(photos) == {"IMG_0001", "IMG_0002"} and all(
            p["thumbnail_status"] == "generated" and p["preview_status"] == "generated" for p in photos.values())
    assert wait_for(ready, timeout=60), (_photos(lib, "Wedding"), [
        (j["type"], j["status"], j["error_message"], j["source"]) for j in queue.list_jobs(lib)], d.log_text())
    assert _photos(lib, "Wedding")["IMG_0002"]["raw_name"] == "IMG_0002.DNG"
    assert sorted(p.name for p in (folder / ".thumb").iterdir()) == ["IMG_0001.jpg", "IMG_0002.jpg"]
    assert {j["source"] for j in queue.list_jobs(lib, type=["folder_check"])} == {"watcher"}

    (folder / "IMG_0001.JPG").unlink()    # rejected in a shell: the catalog follows
    assert wait_for(lambda: not _photos(lib, "Wedding")["IMG_0001"]["jpg_available"], timeout=60)
    assert wait_for(lambda: [j["status"] for j in queue.list_jobs(lib, type=["manifest_check"])
                             if j["source"] == "watcher"] == ["completed"])


def test_scan_hands_the_checks_to_a_running_daemon(lib, start_daemon, cli):
    start_daemon({"daemon": {"watch_mode": "off"}})
    projects.create_project(lib, "Wedding")
    (lib.root / "Wedding" / "notes.txt").write_text("not a photo")
    r = cli("scan", "Wedding", "--json")
    assert r.code == 0, r
    assert [(x["job"]["type"], x["mode"], x["result"]) for x in r.json()] == [
        ("manifest_check", "daemon", None), ("folder_check", "daemon", None)]
    assert wait_for(lambda: {j["status"] for j in queue.list_jobs(lib)} == {"completed"})
    assert (lib.root / "Wedding" / "notes.txt").exists()
    (lib.root / "Wedding" / "more-notes.txt").write_text("not a photo either")
    r = cli("scan", "Wedding", "--wait")   # follows the daemon's stream to the end
    assert r.code == 0, r
    assert "manifest_check" in r.out and "completed" in r.out
    assert "2 not photos (left in place)" in r.out    # what the check saw, told from the daemon's events


def test_a_project_folder_that_is_a_link_to_another_drive_is_watched_too(lib, watch, tmp_path):
    projects.create_project(lib, "Wedding")
    elsewhere = tmp_path / "external-drive" / "Wedding"
    elsewhere.parent.mkdir()
    shutil.move(str(lib.root / "Wedding"), elsewhere)
    os.symlink(elsewhere, lib.root / "Wedding")
    w, rec = watch("native")
    (elsewhere / "IMG_1.JPG").write_bytes(b"x")
    assert wait_for(lambda: rec.calls)
    assert rec.calls == [("Wedding", ADDED)]
    # A project linked in after the watcher started is picked up as well.
    projects.create_project(lib, "Studio")
    other = tmp_path / "external-drive" / "Studio"
    shutil.move(str(lib.root / "Studio"), other)
    os.symlink(other, lib.root / "Studio")
    assert wait_for(lambda: ("Studio", ADDED) in rec.calls)  # the files already there need a check
    rec.calls.clear()
    (other / "IMG_2.JPG").write_bytes(b"x")
    assert wait_for(lambda: rec.calls == [("Studio", ADDED)])
