"""Previews made while an import is still copying (inline, through a daemon, through the API),
an import killed mid-copy, and the upload's progress in a real terminal."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

from photo_fixtures import items_of, photos, project_jobs, shoot
from test_daemon_fixtures import start_daemon  # noqa: F401 - fixture
from test_watch_cli import run_in_terminal
from waiting import wait_for
from photojobs.engine.inline import Alongside
from photojobs.photos import projects
from photojobs.photos.importing import import_files
from photojobs.storage.repos import settings as settings_repo

MEDIUM = (640, 480)


def card(folder, n, *, raw=False, size=MEDIUM):
    for i in range(n):
        shoot(folder, f"DSC{i:04d}", raw=raw, seed=i, size=size)
    return folder


def thumb(lib, folder, basename):
    return lib.root / folder / ".thumb" / f"{basename}.jpg"


def test_inline_import_makes_previews_while_it_still_copies(lib, tmp_path):
    """The copy of the last photo waits until the first photo's thumbnail exists: only a job fed
    while the import runs can make it, so without feeding this import would never get past it."""
    src = card(tmp_path / "card", 4)
    seen_before_last = []

    def progress(p):
        if p.stage == "copy" and p.current and p.current.endswith("DSC0003.JPG") and not seen_before_last:
            seen_before_last.append(wait_for(lambda: thumb(lib, "Wedding", "DSC0000").exists(), timeout=60))

    with Alongside(lib) as alongside:
        report = import_files(lib, [src], project="Wedding", progress=progress, on_job=alongside.start)
        outcome = alongside.finish()
    assert seen_before_last == [True]
    assert outcome["status"] == "completed"
    assert sorted(i["filename"] for i in items_of(lib, report.job["id"])) == [f"DSC{i:04d}.JPG" for i in range(4)]
    assert all(p["thumbnail_status"] == "generated" for p in photos(lib, "Wedding").values())
    assert not settings_repo.with_prefix(lib.conn(), "feed.")   # the feed was closed


def test_a_photo_that_gains_a_file_after_its_item_ran_is_processed_again(lib, tmp_path):
    """DSC0001's RAW comes first and is processed; its JPG comes from another folder (a later
    group) and becomes the photo's source: the photo is given to the job once more."""
    first, later = tmp_path / "a", tmp_path / "b"
    shoot(first, "DSC0001", jpg=False, raw=True, size=MEDIUM)
    shoot(later, "DSC0001", jpg=True, raw=False, size=MEDIUM, seed=3)
    with Alongside(lib) as alongside:
        def progress(p):
            if p.stage == "copy" and p.current and p.current.endswith("DSC0001.JPG"):
                assert wait_for(lambda: thumb(lib, "Wedding", "DSC0001").exists(), timeout=60)
        report = import_files(lib, [first, later], project="Wedding", progress=progress, on_job=alongside.start)
        assert alongside.finish()["status"] == "completed"
    assert [i["filename"] for i in items_of(lib, report.job["id"])] == ["DSC0001.DNG", "DSC0001.JPG"]
    assert photos(lib, "Wedding")["DSC0001"]["thumbnail_status"] == "generated"
    row = lib.conn().execute("SELECT derivative_settings FROM photos WHERE basename = 'DSC0001'").fetchone()
    assert json.loads(row[0])["source"] == "DSC0001.JPG"


def test_with_the_feed_off_the_job_is_queued_at_the_end_with_every_photo(cli, lib, tmp_path, make_config):
    src = card(tmp_path / "card", 3)
    config = make_config({"uploader": {"process_during_import": False}})
    r = cli("--config", config, "upload", src, "-p", "Wedding", "--json")
    assert r.code == 0, r
    job = r.json()["job"]
    first = json.loads(lib.conn().execute("SELECT data FROM events WHERE kind = 'job' AND job_id = ? ORDER BY id",
                                          (job["id"],)).fetchone()[0])
    assert (first["status"], first["progress_total"]) == ("queued", 3)
    r = cli("upload", card(tmp_path / "card2", 3), "-p", "Other", "--no-wait", "--json")
    job = r.json()["job"]
    first = json.loads(lib.conn().execute("SELECT data FROM events WHERE kind = 'job' AND job_id = ? ORDER BY id",
                                          (job["id"],)).fetchone()[0])
    assert (first["status"], first["progress_total"]) == ("queued", 1)   # fed: queued with the first photo


def stop_between_transactions(proc: subprocess.Popen, lib) -> None:
    """SIGSTOP `proc` at a moment it holds no write lock on the catalog. A process stopped inside
    one of its short transactions keeps every other writer out until it goes on, as a process
    stopped inside any database transaction would; that is not what these tests look at."""
    for _ in range(200):
        proc.send_signal(signal.SIGSTOP)
        # (a signal is delivered asynchronously: look only once it has stopped)
        assert wait_for(lambda: open(f"/proc/{proc.pid}/stat").read().rpartition(")")[2].split()[0] == "T",
                        timeout=10)
        probe = sqlite3.connect(lib.catalog.path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:   # locked: let it finish that transaction first
            pass
        finally:
            probe.close()
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError("the import held the catalog's write lock at every stop")


def test_daemon_processes_a_cli_upload_while_it_copies_and_a_killed_import_ends_the_job(
        lib, library_path, start_daemon, tmp_path):
    d = start_daemon({"daemon": {"watch_mode": "off"}})   # only the import's own job may make previews
    src = card(tmp_path / "card", 40, size=(1200, 900))
    proc = subprocess.Popen([sys.executable, "-m", "photojobs", "--library", str(library_path), "upload", str(src),
                             "-p", "Wedding", "--no-wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def given():   # photos the import has handed to its job so far
            return lib.conn().execute("SELECT COUNT(*) FROM job_items i JOIN jobs j ON j.id = i.job_id "
                                      "WHERE j.type = 'upload_postprocess'").fetchone()[0]
        assert wait_for(lambda: given() >= 1, timeout=60)
        stop_between_transactions(proc, lib)   # the import stops mid-card...
        copied = {p.name for p in (library_path / "Wedding").glob("*.JPG")}
        # ...and the daemon makes the first thumbnail of what is in place meanwhile.
        assert wait_for(lambda: thumb(lib, "Wedding", "DSC0000").exists(), timeout=60), d.log_text()[-4000:]
        assert len(copied) < 40
        proc.kill()   # a stopped process dies of SIGKILL at once
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    def upload_job():
        return next(j for j in project_jobs(lib, "Wedding") if j["type"] == "upload_postprocess")
    # The feeder is gone: the job does what it was given and ends instead of waiting forever.
    assert wait_for(lambda: upload_job()["status"] == "completed", timeout=60), upload_job()
    job = upload_job()
    given = {i["filename"] for i in items_of(lib, job["id"])}
    assert given and given <= copied
    assert all(thumb(lib, "Wedding", name[:-4]).exists() for name in given)
    assert not settings_repo.with_prefix(lib.conn(), "feed.")


def _part(boundary: bytes, name: str, data: bytes) -> tuple[bytes, bytes]:
    head = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="photos"; filename="' + name.encode()
            + b'"\r\nContent-Type: image/jpeg\r\n\r\n')
    return head, data + b"\r\n"


def test_api_upload_makes_previews_while_the_body_still_arrives(start_daemon, lib, tmp_path):
    folder = projects.create_project(lib, "Shoot")["folder"]
    d = start_daemon()
    src = card(tmp_path / "card", 2)
    boundary = uuid.uuid4().hex.encode()
    first_head, first_data = _part(boundary, "DSC0000.JPG", (src / "DSC0000.JPG").read_bytes())
    second_head, second_data = _part(boundary, "DSC0001.JPG", (src / "DSC0001.JPG").read_bytes())
    made_before_the_end = []

    def body():
        yield first_head + first_data + second_head
        # The first file is whole and the next one has begun: it is imported and processed now.
        made_before_the_end.append(wait_for(lambda: thumb(lib, folder, "DSC0000").exists(), timeout=60))
        yield second_data + b"--" + boundary + b"--\r\n"

    with d.http(timeout=120) as http:
        r = http.post(f"/api/projects/{folder}/upload", content=body(),
                      headers={"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"})
    assert r.status_code == 201, r.text
    assert made_before_the_end == [True]
    report = r.json()
    assert sorted(report["imported"]) == ["DSC0000.JPG", "DSC0001.JPG"]
    assert wait_for(lambda: thumb(lib, folder, "DSC0001").exists(), timeout=60)
    assert len(items_of(lib, report["job"]["id"])) == 2


def test_api_upload_broken_off_keeps_the_files_that_were_whole(start_daemon, lib, tmp_path):
    folder = projects.create_project(lib, "Shoot")["folder"]
    d = start_daemon()
    src = card(tmp_path / "card", 2)
    boundary = b"xyz"
    head, data = _part(boundary, "DSC0000.JPG", (src / "DSC0000.JPG").read_bytes())
    second_head, second_data = _part(boundary, "DSC0001.JPG", (src / "DSC0001.JPG").read_bytes())
    late_field = b'--xyz\r\nContent-Disposition: form-data; name="on_duplicate"\r\n\r\nrename\r\n--xyz--\r\n'
    headers = {"Content-Type": "multipart/form-data; boundary=xyz"}
    with d.http() as http:
        # The second file never ends: the body stops in its middle.
        broken = http.post(f"/api/projects/{folder}/upload", content=head + data + second_head + b"\xff\xd8 partial",
                           headers=headers)
        # An option after a file comes too late for it: refused, saying what was imported anyway.
        late = http.post(f"/api/projects/{folder}/upload", content=second_head + second_data + late_field,
                         headers=headers)
    assert broken.status_code == 400, broken.text
    assert broken.json()["error"] == ("the multipart body ended in the middle of a part; "
                                      "1 files received before it were imported (processing job 1)")
    assert late.status_code == 400, late.text
    assert late.json()["error"].startswith("form field 'on_duplicate' must come before the files; 1 files received")
    for name in ("DSC0000", "DSC0001"):
        assert (lib.root / folder / f"{name}.JPG").read_bytes() == (src / f"{name}.JPG").read_bytes()
        assert wait_for(lambda: thumb(lib, folder, name).exists(), timeout=60)
    assert list((lib.root / ".photojobs" / "staging").iterdir()) == []


def test_upload_progress_in_a_terminal_says_what_is_happening(library_path, tmp_path):
    src = card(tmp_path / "card", 16, size=(1600, 1200))
    for width in (80, 160):
        screen, code = run_in_terminal(["--library", str(library_path), "upload", str(src), "-p", f"W{width}"],
                                       columns=width, rows=24)
        assert code == 0, screen
        assert "making previews" in screen and "job " in screen, screen
        assert "upload_postprocess #" not in screen
        assert "copying" in screen and "left" in screen
        assert "imported 16 files into W" in screen
