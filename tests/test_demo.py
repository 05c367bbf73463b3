"""The README's first command: a generated sample shoot imported and processed end to end."""

from __future__ import annotations

from PIL import Image


def test_demo_imports_and_processes_a_sample_shoot(cli_proc, library_path):
    result = cli_proc("demo", "--photos", "3", "--project", "Try")
    assert result.code == 0, result.err
    assert "imported 3 files" in result.out
    photos = cli_proc("photos", "list", "Try", "--json")
    rows = photos.json()
    assert len(rows) == 3
    assert {(r["thumbnail_status"], r["preview_status"]) for r in rows} == {("generated", "generated")}
    for r in rows:
        with Image.open(library_path / "Try" / ".thumb" / f"{r['basename']}.jpg") as thumb:
            assert max(thumb.size) == 200
