"""One library, mounted anywhere: the catalog holds only paths relative to the library root,
and a library id (root marker, catalog, project markers) refuses a catalog pointed at another
library (issue #13)."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from photo_fixtures import photos, shoot

from photojobs.cli import exit_codes
from photojobs.library_guard import LIBRARY_ID, LIBRARY_MARKER, MARKER, catalog_path


def catalog_texts(path) -> list[str]:
    """Every text value of every table of the catalog file at `path`."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [v for t in tables for row in conn.execute(f'SELECT * FROM "{t}"') for v in row if isinstance(v, str)]
    finally:
        conn.close()


def ids(root, folder="Shoot"):
    """(root marker's id, catalog's id, project marker's id)."""
    conn = sqlite3.connect(catalog_path(root))
    try:
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (LIBRARY_ID,)).fetchone()
    finally:
        conn.close()
    root_marker = json.loads((root / LIBRARY_MARKER).read_text())["library_id"]
    project = json.loads((root / folder / MARKER).read_text()).get("library_id")
    return root_marker, row and row[0], project


@pytest.fixture
def shot(cli, tmp_path, library_path):
    card = tmp_path / "card"
    shoot(card, "A", seed=1)
    shoot(card, "B", seed=2)
    r = cli("upload", card, "-p", "Shoot", "--json")
    assert r.code == 0, r
    return library_path


def test_a_library_moved_elsewhere_keeps_working(cli, shot, tmp_path):
    """Renaming the library folder (another machine's mount point) changes nothing: no catalog
    value names where it was, and jobs, trash restore and derivatives work at the new place."""
    assert cli("keep", "Shoot", "A", "--no-jpg").code == 0
    r = cli("commit", "Shoot", "--yes")
    assert r.code == 0, r
    moved = tmp_path / "elsewhere" / "Studio"
    moved.parent.mkdir()
    shot.rename(moved)
    texts = catalog_texts(catalog_path(moved))
    assert [t for t in texts if str(tmp_path) in t] == []    # neither the old root nor the card's path

    r = cli("trash", "restore", "Shoot", "A", library=moved)
    assert r.code == 0, r
    assert (moved / "Shoot" / "A.JPG").is_file()
    (moved / "Shoot" / ".thumb" / "B.jpg").unlink()
    r = cli("process", "Shoot", "--force", library=moved)
    assert r.code == 0, r
    assert (moved / "Shoot" / ".thumb" / "B.jpg").is_file()
    r = cli("scan", "Shoot", library=moved)
    assert r.code == 0, r
    r = cli("maintenance", "run", "--all", library=moved)
    assert r.code == 0, r
    assert cli("jobs", "list", library=moved).code == 0
    assert [t for t in catalog_texts(catalog_path(moved)) if str(tmp_path) in t] == []


def test_a_new_library_has_one_id_in_root_catalog_and_project_markers(shot):
    root_id, catalog_id, project_id = ids(shot)
    assert root_id == catalog_id == project_id and len(root_id) == 36


def test_a_library_from_before_ids_gets_them_on_first_open(cli, shot):
    conn = sqlite3.connect(catalog_path(shot))
    conn.execute("DELETE FROM settings WHERE key = ?", (LIBRARY_ID,))
    conn.commit()
    conn.close()
    (shot / LIBRARY_MARKER).unlink()
    marker = json.loads((shot / "Shoot" / MARKER).read_text())
    old_id = marker.pop("library_id")
    (shot / "Shoot" / MARKER).write_text(json.dumps(marker))

    assert cli("project", "list").code == 0            # opening gives root and catalog an id
    root_id, catalog_id, project_id = ids(shot)
    assert root_id == catalog_id != old_id and project_id is None
    assert cli("scan", "Shoot").code == 0               # scanning a project marks its folder too
    assert ids(shot) == (root_id, root_id, root_id)


def test_a_rebuilt_catalog_keeps_the_library_id(cli, shot):
    before = ids(shot)
    r = cli("catalog", "rebuild", "--force")
    assert r.code == 0, r
    assert ids(shot) == before


def test_a_catalog_of_another_library_is_refused(cli, shot, tmp_path):
    other = tmp_path / "other"
    assert cli("project", "create", "Other", library=other).code == 0
    before = (other / LIBRARY_MARKER).read_text()
    shutil.copy(catalog_path(shot), catalog_path(other))     # the wrong catalog for this folder
    r = cli("project", "list", library=other)
    assert r.code == exit_codes.WRONG_LIBRARY
    line = r.err.strip()
    assert "\n" not in line and "the catalog belongs to library" in line and "wrong --library or catalog.url?" in line
    assert ids(shot)[0] in line and json.loads(before)["library_id"] in line
    assert (other / LIBRARY_MARKER).read_text() == before


def test_a_project_folder_of_another_library_is_refused(cli, shot, tmp_path):
    other = tmp_path / "other"
    card = tmp_path / "card2"
    shoot(card, "Z", seed=9)
    assert cli("upload", card, "-p", "Shoot", library=other).code == 0
    shutil.rmtree(shot / "Shoot")
    shutil.copytree(other / "Shoot", shot / "Shoot")        # another library's folder, same name
    r = cli("upload", card, "-p", "Shoot")
    assert r.code == exit_codes.WRONG_LIBRARY, r
    assert "is of library" in r.err and "wrong --library or catalog.url?" in r.err
    r = cli("scan", "Shoot", "--json")
    assert r.code == exit_codes.JOB_FAILED, r
    assert "is of library" in r.out


def test_a_project_folder_of_another_library_is_not_restored(cli, shot, tmp_path):
    other = tmp_path / "other"
    card = tmp_path / "card2"
    shoot(card, "Z", seed=9)
    assert cli("upload", card, "-p", "Theirs", library=other).code == 0
    assert cli("project", "delete", "Theirs", "--yes", library=other).code == 0   # its folder stays, marked deleted
    shutil.copytree(other / "Theirs", shot / "Theirs")
    r = cli("project", "restore", "Theirs")
    assert r.code == exit_codes.WRONG_LIBRARY, r
    assert cli("project", "show", "Theirs").code == exit_codes.NOT_FOUND


def test_photos_are_unchanged_after_a_refusal(cli, lib, shot, tmp_path):
    other = tmp_path / "other"
    assert cli("project", "create", "Other", library=other).code == 0
    before = photos(lib, "Shoot")
    (shot / LIBRARY_MARKER).write_text(json.dumps({"library_id": "0" * 36}))
    assert cli("keep", "Shoot", "A", "--no-jpg").code == exit_codes.WRONG_LIBRARY
    (shot / LIBRARY_MARKER).write_text(json.dumps({"library_id": ids(shot)[1]}))
    assert photos(lib, "Shoot") == before
