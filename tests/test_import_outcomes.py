"""What an import does and says: every file that lands is tracked, a missing card is not a rejected file, failures
in processing are reported, and a camera folder does not name the project."""

from __future__ import annotations

import os
import unicodedata

import pytest

from imagegen import make_jpeg, make_truncated_jpeg
from photo_fixtures import photos, shoot, visible
from test_daemon_fixtures import start_daemon  # noqa: F401 - fixture


def _tracked(lib, folder: str) -> set[str]:
    """Every file name the catalog knows in a project: photo files and sidecars."""
    names: set[str] = set()
    for p in photos(lib, folder).values():
        names.update(n for n in (p["jpg_name"], p["raw_name"], p["other_name"]) if n)
        names.update(p["sidecars"])
    return names


def _twins_card(tmp_path):
    card = tmp_path / "card"
    card.mkdir()
    make_jpeg(card / "DSC9999.JPG", size=(32, 32), seed=1, noise=4)
    make_jpeg(card / "dsc9999.jpg", size=(32, 32), seed=2, noise=4)   # another picture, same photo name
    make_jpeg(card / "DSC9998.jpg", size=(32, 32), seed=3, noise=4)
    make_jpeg(card / "DSC9998.jpeg", size=(32, 32), seed=4, noise=4)
    return card


def test_two_files_for_one_photo_are_never_both_copied(cli, lib, tmp_path):
    """The catalog knows a photo by its name without case or extension and gives it one JPG:
    the second file is refused with a reason, not copied in untracked."""
    card = _twins_card(tmp_path)
    dry = cli("upload", card, "-p", "P", "--dry-run", "--json")
    r = cli("upload", card, "-p", "P", "--no-wait", "--json")
    assert r.code == 0, r
    rep = r.json()
    assert sorted(rep["imported"]) == sorted(dry.json()["imported"]) == ["DSC9998.jpeg", "DSC9999.JPG"]
    reasons = {s["name"]: s["reason"] for s in rep["skipped"]}
    assert set(reasons) == {"dsc9999.jpg", "DSC9998.jpg"}
    assert str(card / "DSC9999.JPG") in reasons["dsc9999.jpg"] and "one JPG" in reasons["dsc9999.jpg"]
    assert str(card / "DSC9998.jpeg") in reasons["DSC9998.jpg"]
    assert visible(lib.root / "P") == _tracked(lib, "P") == {"DSC9999.JPG", "DSC9998.jpeg"}

    human = cli("upload", card, "-p", "P", "--no-wait")
    assert human.code == 0 and f"not imported: {card / 'dsc9999.jpg'}: " in human.out, human
    assert "--on-duplicate rename" in human.out

    renamed = cli("upload", card, "-p", "P", "--no-wait", "--json", "--on-duplicate", "rename")
    assert renamed.code == 0, renamed
    assert sorted(renamed.json()["imported"]) == ["DSC9998-1.jpg", "dsc9999-1.jpg"]
    assert visible(lib.root / "P") == _tracked(lib, "P") == {
        "DSC9999.JPG", "DSC9998.jpeg", "dsc9999-1.jpg", "DSC9998-1.jpg"}


def test_overwrite_never_replaces_a_file_of_the_same_import(cli, lib, tmp_path):
    card = _twins_card(tmp_path)
    r = cli("upload", card, "-p", "P", "--no-wait", "--json", "--on-duplicate", "overwrite")
    assert r.code == 0, r
    assert r.json()["overwritten"] == [] and visible(lib.root / "P" / ".trash") == set()
    assert visible(lib.root / "P") == _tracked(lib, "P") == {"DSC9999.JPG", "DSC9998.jpeg"}


def test_same_names_in_two_card_folders_stay_apart_in_a_dry_run_too(cli, lib, tmp_path):
    card = tmp_path / "card"
    shoot(card / "100CANON", "IMG_0001", raw=False, seed=1)
    shoot(card / "101CANON", "IMG_0001", raw=False, seed=2)
    dry = cli("upload", card, "-p", "P", "--dry-run", "--json")
    assert dry.json()["imported"] == ["IMG_0001.JPG"], dry
    assert [s["name"] for s in dry.json()["skipped"]] == ["IMG_0001.JPG"]
    dry = cli("upload", card, "-p", "P", "--dry-run", "--json", "--on-duplicate", "rename")
    assert dry.json()["imported"] == ["IMG_0001.JPG", "IMG_0001-1.JPG"], dry


def test_names_that_become_one_in_the_project_are_refused_with_the_reason(cli, lib, tmp_path):
    """Unicode normalisation (NFD -> NFC) and shortening to 240 bytes can give two card files
    one project name: the second is not imported, and the reason says so."""
    card = tmp_path / "card"
    card.mkdir()
    nfc, nfd = "Caf\u00e9.jpg", unicodedata.normalize("NFD", "Caf\u00e9.jpg")
    long_a, long_b = "A" * 245 + "1.jpg", "A" * 245 + "2.jpg"
    for n, name in enumerate((nfc, nfd, long_a, long_b)):
        make_jpeg(card / name, size=(32, 32), seed=n, noise=4)
    for n, name in enumerate(("Caf\u00e9.xmp", unicodedata.normalize("NFD", "Caf\u00e9.xmp"))):
        (card / name).write_text(f"<x:xmpmeta n='{n}'/>")
    assert len(os.listdir(card)) == 6
    r = cli("upload", card, "-p", "P", "--no-wait", "--json")
    assert r.code == 0, r
    rep = r.json()
    assert sorted(rep["imported"]) == ["A" * 236 + ".jpg", nfc] and rep["sidecars"] == ["Caf\u00e9.xmp"]
    reasons = {os.path.basename(s["path"]): s["reason"] for s in rep["skipped"] if s["name"].endswith(".jpg")}
    assert len(reasons) == 2 and long_b in reasons and (nfc in reasons) != (nfd in reasons), reasons
    assert all("appeared in the project" not in why for why in reasons.values())
    assert f"both become {nfc} in the project" in reasons.get(nfc, reasons.get(nfd))
    assert f"both become {'A' * 236}.jpg in the project" in reasons[long_b]
    assert visible(lib.root / "P") == _tracked(lib, "P")


@pytest.mark.parametrize("policy", ["skip", "overwrite"])
def test_a_catalogued_file_missing_from_disk_is_no_conflict(cli, lib, tmp_path, policy):
    first, again = tmp_path / "first", tmp_path / "again"
    shoot(first, "DSC0001", raw=False, seed=1)
    shoot(again, "DSC0001", raw=False, seed=2)
    assert cli("upload", first, "-p", "P", "--no-wait").code == 0
    os.unlink(lib.root / "P" / "DSC0001.JPG")     # gone before any manifest_check noticed
    r = cli("upload", again, "-p", "P", "--no-wait", "--json", "--on-duplicate", policy)
    assert r.code == 0, r
    rep = r.json()
    assert rep["imported"] == ["DSC0001.JPG"] and rep["skipped"] == [] and rep["overwritten"] == []
    assert (lib.root / "P" / "DSC0001.JPG").read_bytes() == (again / "DSC0001.JPG").read_bytes()
    assert photos(lib, "P")["DSC0001"]["jpg_available"]
    assert visible(lib.root / "P" / ".trash") == set()


def _good_and_truncated(tmp_path):
    card = tmp_path / "card"
    card.mkdir()
    make_jpeg(card / "GOOD.JPG", size=(64, 48), seed=1)
    make_truncated_jpeg(card / "BAD.JPG", size=(320, 240))
    return card


def test_upload_that_waits_names_the_photos_that_failed_and_exits_5(cli, lib, tmp_path):
    card = _good_and_truncated(tmp_path)
    r = cli("upload", card, "-p", "P")
    assert r.code == 5, r
    assert "imported 2 files into P" in r.out
    line = next(ln for ln in r.out.splitlines() if ln.startswith("not processed: BAD.JPG: "))
    assert "truncated" in line, r.out
    assert "1 photo could not be processed" in r.out and "GOOD.JPG" not in line

    rep = cli("upload", card, "-p", "Q", "--json")
    assert rep.code == 5, rep
    body = rep.json()
    assert body["exit_code"] == 5 and body["processing"] == "inline"
    assert [f["name"] for f in body["processing_failed"]] == ["BAD.JPG"]
    assert "truncated" in body["processing_failed"][0]["reason"]


def test_upload_wait_through_the_daemon_names_the_photos_that_failed(start_daemon, lib, cli_proc, tmp_path):
    from photojobs.photos import projects
    card = _good_and_truncated(tmp_path)
    projects.create_project(lib, "P")
    start_daemon()
    r = cli_proc("-v", "upload", card, "-p", "P", "--wait")
    assert r.code == 5, r
    assert "handed job" in r.err and "not processed: BAD.JPG: truncated" in r.out, r


def test_upload_without_waiting_says_where_the_work_went(cli, lib, tmp_path):
    card = _good_and_truncated(tmp_path)
    r = cli("upload", card, "-p", "P", "--no-wait")
    assert r.code == 0, r
    assert "queued as job" in r.out and "photojobs jobs show" in r.out, r.out
    body = cli("upload", card, "-p", "Q", "--no-wait", "--json").json()
    assert body["processing"] == "queued" and body["processing_failed"] == []


def test_a_missing_card_is_one_line_and_exit_1_with_nothing_created(cli, library_path, tmp_path):
    card = tmp_path / "media" / "card" / "DCIM"
    r = cli("upload", card, "--project", "X")
    assert r.code == 1, r
    assert r.out == "" and r.err.strip() == f"photojobs: error: no such folder: {card} (is the card mounted?)"
    assert not library_path.exists()


def test_files_that_are_not_photos_are_ignored_not_rejected(cli, lib, tmp_path):
    card = tmp_path / "card"
    shoot(card, "A")
    (card / "notes.txt").write_text("x")
    (card / "manifest.json").write_text("{}")
    (card / "CLIP0001.MOV").write_bytes(b"\0\0\0\x18ftypqt  ")
    r = cli("upload", card, "-p", "P", "--no-wait", "--json")
    assert r.code == 0, r
    assert r.json()["rejected"] == []
    assert sorted(i["name"] for i in r.json()["ignored"]) == ["CLIP0001.MOV", "manifest.json", "notes.txt"]
    rerun = cli("upload", card, "-p", "P", "--no-wait")
    assert rerun.code == 0, rerun
    assert "ignored 3 files that are not photos (-v lists them)" in rerun.out
    assert "rejected" not in rerun.out and "notes.txt" not in rerun.out
    verbose = cli("-v", "upload", card, "-p", "P", "--no-wait")
    assert f"ignored: {card / 'notes.txt'}: not a photo" in verbose.out, verbose
    assert visible(lib.root / "P") == {"A.JPG", "A.DNG"}


def test_a_folder_without_photos_imports_nothing_and_creates_no_project(cli, lib, tmp_path):
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("x")
    r = cli("upload", junk, "--no-wait")
    assert r.code == 0, r
    assert "no photos found" in r.out and "was not created" in r.out
    assert cli("project", "list", "--json").json() == []


def _camera_card(tmp_path, *days: str, label: str = "EOS_DIGITAL"):
    dcim = tmp_path / label / "DCIM"
    for n, day in enumerate(days):
        shoot(dcim / "100CANON", f"IMG_{n:04d}", seed=n, when=f"{day} 14:00:00")
    return dcim


def test_a_camera_folder_names_the_project_after_the_shoot_date(cli, lib, tmp_path):
    dcim = _camera_card(tmp_path, "2026:11:28", "2026:11:28")
    dry = cli("upload", dcim, "--dry-run")
    assert dry.code == 0, dry
    assert "would import 4 files into 2026-11-28" in dry.out
    assert "named after the shoot's date" in dry.out and "--project" in dry.out
    r = cli("upload", dcim / "100CANON", "--no-wait", "--json")
    assert r.code == 0 and r.json()["project"]["name"] == "2026-11-28", r
    assert r.json()["project_named_after"] == "the shoot's date"


def test_a_shoot_over_several_days_is_named_after_the_range(cli, lib, tmp_path):
    dcim = _camera_card(tmp_path, "2026:11:29", "2026:11:28", "2026:11:30")
    r = cli("upload", dcim, "--dry-run", "--json")
    assert r.json()["project"]["name"] == "2026-11-28 to 2026-11-30", r


def test_a_camera_folder_without_dates_is_named_after_the_card(cli, lib, tmp_path):
    dcim = tmp_path / "NIKON D750" / "DCIM"
    (dcim / "100NCD750").mkdir(parents=True)
    make_jpeg(dcim / "100NCD750" / "DSC_0001.JPG", size=(32, 32))   # no EXIF date
    r = cli("upload", dcim, "--no-wait", "--json")
    assert r.code == 0, r
    assert r.json()["project"]["name"] == "NIKON D750"
    assert r.json()["project_named_after"] == "the card's name"
    assert cli("project", "list", "--json").json()[0]["name"] == "NIKON D750"
