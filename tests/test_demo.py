"""The README's first command: a generated sample shoot imported and processed end to end."""

from __future__ import annotations

from PIL import Image


def test_demo_shows_pairing_a_lone_raw_and_an_honest_failure(cli_proc, library_path):
    result = cli_proc("demo", "--photos", "3", "--project", "Try")
    assert result.code == 0, result.err
    # 2 pairs and a lone RAW (5 files) and the JPG cut short: 6 files, 4 photos.
    assert "imported 6 files into Try" in result.out
    assert "4 photos: 2 JPG+RAW pairs, 1 RAW alone, 1 JPG alone" in result.out
    assert "failed: DEMO0004.JPG: truncated image" in result.out and "on purpose" in result.out
    rows = {r["basename"]: r for r in cli_proc("photos", "list", "Try", "--json").json()}
    assert {b: (r["jpg_name"], r["raw_name"]) for b, r in rows.items()} == {
        "DEMO0001": ("DEMO0001.JPG", "DEMO0001.DNG"), "DEMO0002": ("DEMO0002.JPG", "DEMO0002.DNG"),
        "DEMO0003": (None, "DEMO0003.DNG"), "DEMO0004": ("DEMO0004.JPG", None)}
    made = {b for b, r in rows.items() if (r["thumbnail_status"], r["preview_status"]) == ("generated", "generated")}
    assert made == {"DEMO0001", "DEMO0002", "DEMO0003"}   # the lone RAW too, from the DNG itself
    assert rows["DEMO0004"]["thumbnail_status"] == "failed" and "truncated" in rows["DEMO0004"]["derivative_error"]
    assert rows["DEMO0003"]["make"] == "photojobs" and rows["DEMO0003"]["date_time_original"]
    for b in made:
        with Image.open(library_path / "Try" / ".thumb" / f"{b}.jpg") as thumb:
            assert max(thumb.size) == 200
