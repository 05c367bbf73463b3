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


def test_an_import_reads_each_file_s_content_kind_once(lib, tmp_path, monkeypatch):
    """The kind sniffed when a file is accepted serves its metadata read too."""
    from photojobs.photos import media
    from photojobs.photos.importing import import_files
    card = tmp_path / "card"
    shoot(card, "A", seed=1)
    shoot(card, "B", seed=2)
    real, sniffed = media.sniff, []

    def sniff(path):
        sniffed.append(path.name)
        return real(path)
    monkeypatch.setattr(media, "sniff", sniff)
    report = import_files(lib, [card], project="P")
    assert sorted(report.imported) == ["A.DNG", "A.JPG", "B.DNG", "B.JPG"]
    assert sorted(sniffed) == ["A.DNG", "A.JPG", "B.DNG", "B.JPG"]
    assert photos(lib, "P")["A"]["date_time_original"]


def test_derivatives_made_from_a_known_kind_do_not_read_it_again(lib, tmp_path, monkeypatch):
    from photojobs.photos import media
    from photojobs.photos.derivatives import imaging_settings
    from photojobs.photos.imaging import make_derivatives
    [jpg] = shoot(tmp_path, "A", raw=False)

    def no_sniff(path):
        raise AssertionError("sniffed again")
    monkeypatch.setattr(media, "sniff", no_sniff)
    out = make_derivatives(jpg, tmp_path / "t.jpg", tmp_path / "p.jpg", imaging_settings(lib.config),
                           kind="jpeg")
    assert out["source_kind"] == "jpeg" and (tmp_path / "t.jpg").is_file()


def test_manifest_check_writes_a_returning_photo_in_one_statement(cli, lib, tmp_path):
    from photojobs.photos.reconcile import checked_scan, manifest_check
    from photojobs.photos.projects import require
    card = tmp_path / "card"
    shoot(card, "A", seed=1)
    (card / "A.xmp").write_text("<x:xmpmeta/>")
    assert cli("upload", card, "-p", "P", "--no-wait").code == 0
    folder, away = lib.root / "P", tmp_path / "away"
    away.mkdir()
    for name in ("A.JPG", "A.DNG", "A.xmp"):
        (folder / name).rename(away / name)
    row = require(lib, "P")
    gone = manifest_check(lib, row, checked_scan(lib, row, force=True))
    assert sorted(gone.now_missing) == ["A.DNG", "A.JPG"]
    for name in ("A.JPG", "A.DNG", "A.xmp"):
        (away / name).rename(folder / name)
    statements: list[str] = []
    lib.conn().set_trace_callback(statements.append)
    try:
        back = manifest_check(lib, row, checked_scan(lib, row))
    finally:
        lib.conn().set_trace_callback(None)
    assert sorted(back.now_present) == ["A.DNG", "A.JPG"] and back.sidecars_changed == 1
    writes = [s for s in statements if s.lstrip().upper().startswith("UPDATE PHOTOS")]
    assert len(writes) <= 2, writes   # availability, keep and sidecars at once; the mirror if it moved
    a = photos(lib, "P")["A"]
    assert a["jpg_available"] and a["keep_jpg"] and a["raw_available"] and a["keep_raw"]
    assert a["sidecars"] == ["A.xmp"]
