"""Import: acceptance, pairing, duplicates, --move, safe copies, path safety, and the processing task."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from photo_fixtures import (dcim_card, items_of, no_temp_files, photos, project_jobs, sha, shoot, tree_hashes,
                            visible)
from imagegen import make_jpeg


def test_dcim_card_is_imported_paired_and_cataloged(cli, lib, tmp_path):
    card = dcim_card(tmp_path)
    before = tree_hashes(card)
    r = cli("upload", card, "--no-wait", "--json")
    assert r.code == 0, r
    report = r.json()
    assert report["project"]["folder"] == "CARD"  # named after the source folder
    proj = lib.root / "CARD"
    assert visible(proj) == {"IMG_0001.JPG", "IMG_0001.DNG", "IMG_0002.JPG", "IMG_0002.DNG", "IMG_0003.JPG",
                             "IMG_0101.JPG", "IMG_0101.DNG", "IMG_0001.xmp"}
    for rel, digest in before.items():  # same bytes, same mtime, sources untouched without --move
        src = card / rel
        assert sha(proj / src.name) == digest
        assert os.stat(proj / src.name).st_mtime_ns == os.stat(src).st_mtime_ns
        assert src.exists()
    assert (proj / ".photojobs-project").exists() and (proj / ".trash").is_dir() and (proj / ".thumb").is_dir()

    cat = photos(lib, "CARD")
    assert set(cat) == {"IMG_0001", "IMG_0002", "IMG_0003", "IMG_0101"}
    p1 = cat["IMG_0001"]
    assert (p1["jpg_available"], p1["raw_available"], p1["keep_jpg"], p1["keep_raw"]) == (True, True, True, True)
    assert p1["sidecars"] == ["IMG_0001.xmp"]
    assert p1["date_time_original"] == "2024-05-01T10:00:00"
    assert (p1["make"], p1["model"], p1["orientation"]) == ("Canon", "EOS R5", 6)
    assert (p1["width"], p1["height"]) == (48, 64)  # stored size of a portrait shot tagged 6
    assert (p1["thumbnail_status"], p1["preview_status"]) == ("pending", "pending")
    p3 = cat["IMG_0003"]
    assert (p3["jpg_available"], p3["raw_available"], p3["keep_raw"]) == (True, False, False)

    job = report["job"]
    assert (job["type"], job["task_type"], job["status"]) == ("upload_postprocess", "upload_postprocess", "queued")
    assert sorted(i["filename"] for i in items_of(lib, job["id"])) == [
        "IMG_0001.JPG", "IMG_0002.JPG", "IMG_0003.JPG", "IMG_0101.JPG"]


def test_wait_runs_the_whole_chain_inline(cli, lib, tmp_path):
    card = tmp_path / "shoot"
    shoot(card, "DSC0001")
    r = cli("upload", card, "--project", "Wedding", "--json")  # --wait is the default without a daemon
    assert r.code == 0, r
    task = r.json()["task"]
    assert [(j["type"], j["priority"], j["status"]) for j in task["jobs"]] == [
        ("upload_postprocess", 90, "completed"), ("manifest_check", 95, "completed"),
        ("folder_check", 95, "completed")]
    assert task["status"] == "completed"
    p = photos(lib, "Wedding")["DSC0001"]
    assert p["thumbnail_status"] == "generated" and (lib.root / "Wedding" / ".thumb" / "DSC0001.jpg").exists()


@pytest.mark.parametrize("first,second", [("jpg", "raw"), ("raw", "jpg")])
def test_a_later_file_completes_the_pair(cli, lib, tmp_path, first, second):
    a, b = tmp_path / "a", tmp_path / "b"
    shoot(a, "DSC0001", jpg=first == "jpg", raw=first == "raw")
    shoot(b, "dsc0001", jpg=second == "jpg", raw=second == "raw", ext_jpg="jpg", ext_raw="dng")
    assert cli("upload", a, "-p", "P", "--no-wait").code == 0
    r = cli("upload", b, "-p", "P", "--no-wait", "--json")
    assert r.code == 0, r
    assert r.json()["completed_pairs"] == ["DSC0001"]
    cat = photos(lib, "P")
    assert list(cat) == ["DSC0001"]  # case-insensitive basename: one photo
    p = cat["DSC0001"]
    assert p["jpg_available"] and p["raw_available"] and p["keep_jpg"] and p["keep_raw"]
    assert {p["jpg_name"], p["raw_name"]} == ({"DSC0001.JPG", "dsc0001.dng"} if first == "jpg"
                                              else {"DSC0001.DNG", "dsc0001.jpg"})


def test_reimport_is_idempotent(cli, lib, tmp_path):
    card = dcim_card(tmp_path)
    assert cli("upload", card, "--no-wait").code == 0
    on_disk = tree_hashes(lib.root / "CARD")
    jobs = len(project_jobs(lib, "CARD"))
    r = cli("upload", card, "--no-wait", "--json")
    assert r.code == 0, r
    rep = r.json()
    assert rep["imported"] == [] and rep["sidecars"] == [] and rep["job"] is None
    assert len(rep["skipped"]) == 8 and all("already in the project" in s["reason"] for s in rep["skipped"])
    assert tree_hashes(lib.root / "CARD") == on_disk
    assert len(project_jobs(lib, "CARD")) == jobs
    assert len(photos(lib, "CARD")) == 4


def _conflict(tmp_path, cli):
    old, new = tmp_path / "old", tmp_path / "new"
    shoot(old, "DSC0001", seed=1)
    shoot(new, "DSC0001", seed=2)  # same names, different pictures
    assert cli("upload", old, "-p", "P", "--no-wait").code == 0
    return old, new


def test_duplicate_skip_is_the_default_and_reported(cli, lib, tmp_path):
    old, new = _conflict(tmp_path, cli)
    r = cli("upload", new, "-p", "P", "--no-wait", "--json")
    assert r.code == 0, r  # skipping is not a failure
    assert sorted(s["name"] for s in r.json()["skipped"]) == ["DSC0001.DNG", "DSC0001.JPG"]
    assert sha(lib.root / "P" / "DSC0001.JPG") == sha(old / "DSC0001.JPG")
    assert sha(lib.root / "P" / "DSC0001.DNG") == sha(old / "DSC0001.DNG")


def test_duplicate_overwrite_keeps_the_old_file_in_trash(cli, lib, tmp_path):
    old, new = _conflict(tmp_path, cli)
    r = cli("upload", new, "-p", "P", "--no-wait", "--json", "--on-duplicate", "overwrite")
    assert r.code == 0, r
    proj = lib.root / "P"
    assert sha(proj / "DSC0001.JPG") == sha(new / "DSC0001.JPG")
    assert sha(proj / ".trash" / "DSC0001.JPG") == sha(old / "DSC0001.JPG")
    assert sha(proj / ".trash" / "DSC0001.DNG") == sha(old / "DSC0001.DNG")
    assert sorted(r.json()["overwritten"]) == ["DSC0001.DNG", "DSC0001.JPG"]


def test_duplicate_rename_moves_the_whole_pair_to_a_new_basename(cli, lib, tmp_path):
    old, new = _conflict(tmp_path, cli)
    r = cli("upload", new, "-p", "P", "--no-wait", "--json", "--on-duplicate", "rename")
    assert r.code == 0, r
    proj = lib.root / "P"
    assert sha(proj / "DSC0001-1.JPG") == sha(new / "DSC0001.JPG")
    assert sha(proj / "DSC0001-1.DNG") == sha(new / "DSC0001.DNG")
    assert sha(proj / "DSC0001.JPG") == sha(old / "DSC0001.JPG")
    cat = photos(lib, "P")
    assert cat["DSC0001-1"]["jpg_available"] and cat["DSC0001-1"]["raw_available"]


def test_same_names_in_two_card_folders_are_different_photos(cli, lib, tmp_path):
    card = tmp_path / "card"
    shoot(card / "DCIM" / "100CANON", "IMG_0001", seed=1)
    shoot(card / "DCIM" / "101CANON", "IMG_0001", seed=2)
    r = cli("upload", card, "--no-wait", "--json", "--on-duplicate", "rename")
    assert r.code == 0, r
    cat = photos(lib, "card")
    assert set(cat) == {"IMG_0001", "IMG_0001-1"}
    assert all(p["jpg_available"] and p["raw_available"] for p in cat.values())


def test_move_removes_sources_only_after_a_verified_copy(cli, lib, tmp_path):
    card = tmp_path / "card"
    shoot(card, "A")
    (card / "junk.jpg").write_text("not a photo")
    r = cli("upload", card, "--move", "--no-wait", "--json")
    assert r.code == 5, r
    assert visible(card) == {"junk.jpg"}  # rejected files stay where they were
    assert visible(lib.root / "card") == {"A.JPG", "A.DNG"}
    # A conflicting (skipped) file is not removed: it exists nowhere else.
    shoot(card, "A", seed=5)
    r = cli("upload", card, "-p", "card", "--move", "--no-wait", "--json")
    assert {"A.JPG", "A.DNG"} <= visible(card)
    # An identical file is already safe in the project, so --move may drop it.
    os.unlink(card / "A.JPG"), os.unlink(card / "A.DNG")
    shoot(tmp_path / "again", "A")
    r = cli("upload", tmp_path / "again", "-p", "card", "--move", "--no-wait", "--json")
    assert r.code == 0 and r.json()["moved_sources"] == 2
    assert visible(tmp_path / "again") == set()


def test_move_within_one_filesystem_renames_instead_of_copying(cli, lib, tmp_path):
    card = tmp_path / "card"
    shoot(card, "B")
    inodes = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, sha(p)) for p in card.iterdir()}
    r = cli("upload", card, "--move", "--no-wait", "--json")
    assert r.code == 0 and r.json()["moved_sources"] == 2, r
    assert visible(card) == set()
    for name, (inode, mtime, digest) in inodes.items():
        placed = lib.root / "card" / name
        assert (placed.stat().st_ino, placed.stat().st_mtime_ns, sha(placed)) == (inode, mtime, digest)
    assert set(photos(lib, "card")) == {"B"}
    assert no_temp_files(lib.root / "card")


def test_rejected_inputs_are_reported_and_the_rest_goes_on(cli, lib, tmp_path):
    card = tmp_path / "card"
    shoot(card, "GOOD")
    (card / "text.jpg").write_text("hello")
    (card / "empty.jpg").write_bytes(b"")
    (card / "notes.txt").write_text("x")
    (card / "renamed.dng").write_bytes((card / "GOOD.JPG").read_bytes())  # a JPEG pretending to be raw
    os.symlink(card / "missing.jpg", card / "dangling.jpg")
    (card / ".DS_Store").write_bytes(b"\0\0")
    (card / "phone.heic").write_bytes(b"\0\0\0\x18ftypheic")  # a photo, but not in the accepted extensions
    (card / "sony.srf").write_bytes(b"x")                      # accepted, but not a format photojobs reads
    r = cli("upload", card, "--no-wait", "--json")
    assert r.code == 5, r
    reasons = {x["name"]: x["reason"] for x in r.json()["rejected"]}
    assert reasons["text.jpg"].startswith("content does not match .jpg")
    assert reasons["empty.jpg"] == "empty file"
    assert reasons["phone.heic"] == "extension .heic is not accepted" and "sony.srf" in reasons
    assert [x["name"] for x in r.json()["ignored"]] == ["notes.txt"]   # not a photo: not rejected
    assert "looks like JPEG" in reasons["renamed.dng"]
    assert "dangling.jpg" in reasons
    assert ".DS_Store" not in reasons  # hidden files are not photos, silently ignored
    assert visible(lib.root / "card") == {"GOOD.JPG", "GOOD.DNG"}
    human = cli("upload", card, "-p", "card", "--no-wait")
    assert human.code == 5 and "text.jpg" in human.out and "empty file" in human.out


@pytest.mark.parametrize("copier", ["kernel copy", "read/write"])
def test_disk_full_mid_copy_leaves_no_partial_file_or_row(cli, lib, tmp_path, monkeypatch, copier):
    from photojobs.photos import fileops
    card = tmp_path / "card"
    shoot(card, "A")
    shoot(card, "B", seed=1)
    shoot(card, "C", seed=2)
    written: set[int] = set()

    def disk_full_after_three_files(fd_out):  # the kernel's answer once the "disk" is full
        inode = os.fstat(fd_out).st_ino
        if len(written) >= 3 and inode not in written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.add(inode)

    if copier == "kernel copy":
        real_range = os.copy_file_range

        def copy_range(fd_in, fd_out, count):
            disk_full_after_three_files(fd_out)
            return real_range(fd_in, fd_out, count)
        monkeypatch.setattr(fileops, "_copy_range", copy_range)
    else:
        real_write = os.write

        def write(fd, data):
            disk_full_after_three_files(fd)
            return real_write(fd, data)
        monkeypatch.setattr(fileops, "_copy_range", None)
        monkeypatch.setattr(fileops, "_write", write)
    r = cli("upload", card, "--no-wait", "--json")
    assert r.code == 5, r
    rep = r.json()
    assert rep["imported"] == ["A.JPG", "A.DNG", "B.JPG"]
    failed = {f["name"]: f["reason"] for f in rep["failed"]}
    assert "B.DNG" in failed and "the disk is full" in failed["B.DNG"] and str(card / "B.DNG") in failed["B.DNG"]
    assert failed["C.JPG"] == failed["C.DNG"] == "not copied: the disk is full"
    proj = lib.root / "card"
    assert visible(proj) == {"A.JPG", "A.DNG", "B.JPG"} and no_temp_files(proj)
    cat = photos(lib, "card")
    assert set(cat) == {"A", "B"} and cat["B"]["jpg_available"] and not cat["B"]["raw_available"]


def test_file_size_limit_in_a_real_process_fails_one_file_cleanly(tmp_path, library_path):
    """The kernel refuses the write (RLIMIT_FSIZE -> EFBIG): a real failure, not a simulated one."""
    card = tmp_path / "card"
    shoot(card, "SMALL")
    make_jpeg(card / "BIG.JPG", size=(1600, 1200), noise=40)
    limit = 600_000
    assert os.path.getsize(card / "BIG.JPG") > limit > os.path.getsize(card / "SMALL.DNG")

    def limit_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    proc = subprocess.run([sys.executable, "-m", "photojobs", "--library", str(library_path), "upload", str(card),
                           "--no-wait", "--json"], capture_output=True, text=True, preexec_fn=limit_size,
                          timeout=120)
    assert proc.returncode == 5, proc.stderr
    import json
    rep = json.loads(proc.stdout)
    assert [f["name"] for f in rep["failed"]] == ["BIG.JPG"]
    assert sorted(rep["imported"]) == ["SMALL.DNG", "SMALL.JPG"]
    proj = library_path / "card"
    assert visible(proj) == {"SMALL.JPG", "SMALL.DNG"} and no_temp_files(proj)


@pytest.mark.parametrize("how", ["truncated", "deleted"])
def test_a_source_that_vanishes_mid_copy_is_not_imported(lib, tmp_path, how):
    from photojobs.photos.importing import import_files
    card = tmp_path / "card"
    shoot(card, "A", raw=False)
    victim = card / "A.JPG"

    def progress(p):
        if p.stage == "copy" and p.bytes_done and victim.exists():
            if how == "deleted":
                victim.unlink()
            else:
                victim.write_bytes(victim.read_bytes()[:100])
    rep = import_files(lib, [card], project="P", progress=progress)
    assert rep.imported == [] and rep.job is None
    assert str(victim) in rep.failed[0]["reason"]
    assert visible(lib.root / "P") == set() and no_temp_files(lib.root / "P")
    assert photos(lib, "P") == {}


def test_untrusted_names_never_leave_the_project_folder(lib, tmp_path):
    from photojobs.photos.importing import import_files
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    names = ["../../evil.jpg", "..\\..\\win.jpg", "sub/dir/nested.jpg", "ctrl\x00\x1b[31m\n.jpg", "..", "/etc/passwd.jpg"]
    files = {}
    for n, name in enumerate(names):
        files[make_jpeg(uploads / f"tmp{n}", size=(16, 16), seed=n, noise=n + 1)] = name
    rep = import_files(lib, list(files), project="P", source_names=files, move=True, source="http")
    proj = lib.root / "P"
    assert sorted(rep.imported) == ["ctrl[31m.jpg", "evil.jpg", "nested.jpg", "passwd.jpg", "win.jpg"]
    assert [r["name"] for r in rep.rejected] == [".."]
    assert visible(proj) == set(rep.imported)
    assert not (tmp_path / "evil.jpg").exists() and not (lib.root / "evil.jpg").exists()
    assert set(os.listdir(uploads)) == {"tmp4"}  # moved, except the rejected one


def test_symlinks_are_not_followed_out_of_the_source(cli, lib, tmp_path):
    outside = tmp_path / "private"
    shoot(outside, "SECRET", raw=False)
    card = tmp_path / "card"
    shoot(card, "A", raw=False)
    os.symlink(outside / "SECRET.JPG", card / "LINK.JPG")
    os.symlink(outside, card / "linked-folder")
    os.symlink(card / "A.JPG", card / "ALIAS.JPG")  # inside the source: fine
    r = cli("upload", card, "--no-wait", "--json")
    assert r.code == 5, r
    assert {x["name"]: x["reason"] for x in r.json()["rejected"]} == {
        "LINK.JPG": "symlink leads outside the imported folder",
        "linked-folder": "symlink leads outside the imported folder"}
    assert visible(lib.root / "card") == {"A.JPG", "ALIAS.JPG"}


def test_no_recursive_and_dry_run(cli, lib, tmp_path):
    card = tmp_path / "card"
    shoot(card, "TOP", raw=False)
    shoot(card / "sub", "DEEP", raw=False)
    r = cli("upload", card, "--no-recursive", "--dry-run", "--json")
    assert r.code == 0 and r.json()["imported"] == ["TOP.JPG"] and r.json()["job"] is None
    assert not (lib.root / "card").exists()
    r = cli("upload", card, "--no-recursive", "--no-wait", "--json")
    assert r.json()["imported"] == ["TOP.JPG"]


def test_upload_help_documents_exit_codes(cli):
    r = cli("upload", "--help")
    assert r.code == 0 and "Exit codes" in r.out and "5" in r.out
    assert cli("upload", "x", "--on-duplicate", "nope").code == 1


def test_reimporting_a_file_under_a_longer_extension_keeps_one_photo(cli, lib, tmp_path):
    """The same picture as DSC.JPG in the project and DSC.jpeg on a card is one photo, not two
    (the photo's name was once worked out from the length of the new file's extension)."""
    first = tmp_path / "first"
    shoot(first, "DSC", raw=False, seed=7)
    assert cli("upload", first, "-p", "P", "--no-wait").code == 0
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy2(first / "DSC.JPG", again / "DSC.jpeg")
    r = cli("upload", again, "-p", "P", "--no-wait", "--json")
    assert r.code == 0, r
    assert set(photos(lib, "P")) == {"DSC"}


def test_project_given_by_id_is_that_project_in_a_dry_run_and_for_real(cli, lib, tmp_path):
    """--project finds a project as every other command does (id, folder or name), so the dry
    run shows the project the real import then uses."""
    made = cli("project", "create", "Smith wedding", "--json").json()
    shoot(tmp_path / "card", "A")
    dry = cli("upload", tmp_path / "card", "-p", str(made["id"]), "--dry-run", "--json")
    real = cli("upload", tmp_path / "card", "-p", str(made["id"]), "--no-wait", "--json")
    assert dry.json()["project"]["id"] == real.json()["project"]["id"] == made["id"]
    assert [p["name"] for p in cli("project", "list", "--json").json()] == ["Smith wedding"]
