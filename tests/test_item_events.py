"""Item events name the photo by its basename however the job was queued (web clients find photos by it)."""

from __future__ import annotations

from photo_fixtures import shoot


def test_every_item_event_carries_the_photos_basename(cli, lib, tmp_path):
    from photojobs.engine import derivatives, events, queue
    from photojobs.engine.task_requests import start_named_task
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
