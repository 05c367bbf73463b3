"""The events a web client updates its photo list from: items by basename, manifest_changed, item_removed."""

from __future__ import annotations

import pytest

from photo_fixtures import shoot


@pytest.mark.both_backends
def test_every_item_event_carries_the_photos_basename(cli, lib, tmp_path, backend):
    from photojobs.engine import events, queue
    from photojobs.photos import derivatives
    from photojobs.photos.task_requests import start_named_task
    card = tmp_path / "card"
    shoot(card, "Ann", seed=1)                      # Ann.JPG + Ann.DNG
    shoot(card, "Bob", raw=False, seed=2)           # Bob.JPG
    start = events.last_event_id(lib.conn())
    assert cli("upload", card, "-p", "P").code == 0                                 # by import
    derivatives.request(lib, "P", ["ann"], force=True)                              # by basename, any case
    derivatives.request(lib, "P", ["bob.jpg"], force=True)                          # by file name
    derivatives.request(lib, "P", force=True)                                       # every photo
    queue.enqueue(lib, "generate_derivatives", project="P", payload={"filenames": ["Ann.DNG"]})  # by name only
    start_named_task(lib, "P", "upload_postprocess", items=["BOB"])                 # the client's task form
    shoot(lib.root / "P", "Cat", raw=False, seed=3)                                 # found by folder_check
    assert cli("scan", "P").code == 0
    assert cli("keep", "P", "Ann", "--no-jpg").code == 0
    assert cli("commit", "P", "--yes").code == 0                                    # commit, then from the RAW
    assert cli("trash", "restore", "P", "Ann.JPG").code == 0                        # restore
    assert cli("jobs", "run", "--until-empty").code == 0
    items = [e["data"] for e in events.read_after(lib.conn(), start, limit=10_000) if e["kind"] == "item"]
    kinds = {queue.get_job(lib, d["job_id"])["type"] for d in items}
    assert {"upload_postprocess", "generate_derivatives", "file_removal"} <= kinds
    assert {d["filename"] for d in items} == {"Ann", "Bob", "Cat"}, sorted({d["filename"] for d in items})
    assert {d["item_filename"] for d in items} >= {"Ann.JPG", "Bob.JPG", "Ann.DNG", "BOB", "Cat.JPG"}


def test_maintenance_tells_what_changed_in_the_originals_events(cli, lib, tmp_path):
    from photojobs.engine import events
    card = tmp_path / "card"
    shoot(card, "Ann", seed=1)
    shoot(card, "Bob", raw=False, seed=2)
    assert cli("upload", card, "-p", "P").code == 0
    start = events.last_event_id(lib.conn())
    (lib.root / "P" / "Ann.DNG").unlink()                          # gone behind our back
    shoot(lib.root / "P", "Cat", raw=False, seed=3)                # and a new one
    (lib.root / "P" / "Bob.JPG").unlink()                          # Bob has no file left
    assert cli("maintenance", "run", "P").code == 0
    got = [e for e in events.read_after(lib.conn(), start, limit=10_000)
           if e["kind"] in ("manifest_changed", "item_removed")]
    by_job = {}
    for e in got:
        assert e["data"]["type"] == e["kind"] and e["data"]["project_folder"] == "P"
        by_job.setdefault(e["job_id"], []).append(e["data"])
    changed = [d for ds in by_job.values() for d in ds if d["type"] == "manifest_changed"]
    assert any(d.get("changed") == 2 for d in changed)                                         # manifest_check
    assert any(d.get("created") == 1 for d in changed)                                         # folder_check
    assert any(d.get("removed_filenames") == ["Bob"] and d.get("removed") == 1 for d in changed)
    assert [d["filename"] for ds in by_job.values() for d in ds if d["type"] == "item_removed"] == ["Bob"]
