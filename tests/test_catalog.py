"""photos/catalog.py: import, trash restore and folder_check attach a photo's sidecars by one rule."""

from __future__ import annotations

from photo_fixtures import photos, shoot


def test_a_sidecar_that_arrives_before_its_photo_is_attached_by_the_import(cli, lib, tmp_path):
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    (first / "DSC0001.DNG.xmp").write_text("<x:xmpmeta/>")  # darktable's name for the RAW's sidecar
    shoot(later, "DSC0001", jpg=False)
    assert cli("upload", first, "-p", "P", "--no-wait").code == 0
    assert photos(lib, "P") == {}
    r = cli("upload", later, "-p", "P", "--no-wait", "--json")
    assert r.code == 0, r
    assert photos(lib, "P")["DSC0001"]["sidecars"] == ["DSC0001.DNG.xmp"]


def test_restore_attaches_the_sidecars_already_on_disk(cli, lib, tmp_path):
    card = tmp_path / "card"
    shoot(card, "A", seed=1)
    assert cli("upload", card, "-p", "P", "--no-wait").code == 0
    cli("keep", "P", "A", "--no-jpg", "--no-raw")
    assert cli("commit", "P", "--yes").code == 0
    # An editor's sidecar put back by hand while the photo was in the trash.
    (lib.root / "P" / "A.xmp").write_text("<x:xmpmeta/>")
    assert cli("trash", "restore", "P", "A").code == 0
    a = photos(lib, "P")["A"]
    assert a["jpg_available"] and a["raw_available"] and a["sidecars"] == ["A.xmp"]


def test_folder_check_adds_a_photo_with_its_sidecars_as_the_import_does(cli, lib, tmp_path):
    assert cli("project", "create", "P").code == 0
    shoot(lib.root / "P", "B", jpg=False, seed=3)
    (lib.root / "P" / "B.DNG.xmp").write_text("<x:xmpmeta/>")
    (lib.root / "P" / "B.pp3").write_text("[Version]")
    assert cli("maintenance", "run", "P", "--type", "folder_check").code == 0
    b = photos(lib, "P")["B"]
    assert b["raw_available"] and b["sidecars"] == ["B.DNG.xmp", "B.pp3"]
