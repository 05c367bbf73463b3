"""generate_derivatives and upload_postprocess through the real runner, on real image files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

import imagegen
from photojobs.engine import events, queue
from photojobs.engine.inline import run_inline
from photojobs.engine.runner import Runner
from photojobs.photos import derivatives, media
from photojobs.photos.projects import create_project
from photojobs.storage import atomic
from photojobs.storage.repos import photos as photos_repo
from photojobs.storage.repos import projects as projects_repo
from test_daemon_fixtures import start_daemon  # noqa: F401 - fixture

# Small sizes keep the suite fast; one test below uses the defaults on a 24 MP photo.
SMALL = {"processing": {"thumbnail": {"maxDim": 100, "quality": 80}, "preview": {"maxDim": 400, "quality": 80}}}


def small(**pipeline) -> dict:
    return {**SMALL, "pipeline": pipeline} if pipeline else SMALL


@pytest.fixture(scope="session")
def pictures(tmp_path_factory):
    """Source files made once per session; tests copy them into their own projects."""
    d = tmp_path_factory.mktemp("pictures")
    shown = imagegen.displayed_image((900, 600))
    out = {"flat": imagegen.make_jpeg(d / "flat.jpg", displayed=shown)}
    for o in range(1, 9):
        out[f"o{o}"] = imagegen.make_jpeg(d / f"o{o}.jpg", displayed=shown, orientation=o)
    out["dng"] = imagegen.make_dng(d / "bare.dng", size=(600, 400))
    out["dng_preview"] = imagegen.make_dng(d / "prev.dng", size=(600, 400), with_preview=True, orientation=6)
    out["truncated"] = imagegen.make_truncated_jpeg(d / "cut.jpg", size=(800, 600))
    out["bomb"] = imagegen.make_bomb_png(d / "bomb.png")
    out["png"] = imagegen.make_png_alpha(d / "alpha.png", size=(600, 400))
    return out


@pytest.fixture(scope="session")
def big_jpeg(tmp_path_factory):
    """One 24 MP portrait as a camera stores it (landscape pixels, orientation 6)."""
    return imagegen.make_jpeg(tmp_path_factory.mktemp("big") / "big.jpg", size=(4000, 6000), orientation=6)


def new_project(lib, name="shoot"):
    project = create_project(lib, name)
    return projects_repo.get(lib.conn(), project["id"])


def add(lib, project, src: Path, name: str) -> int:
    """Put a file in the project and catalog it as the import does (its mtime kept)."""
    folder = lib.project_path(project["folder"])
    shutil.copy2(src, folder / name)
    basename, _, ext = name.rpartition(".")
    role = media.role_of(ext)
    conn = lib.conn()
    with atomic(conn):
        row = photos_repo.add_file(conn, project["id"], basename=basename, role=role, name=name,
                                   meta=media.read_metadata(folder / name), now=lib.now())
    return row["id"]


def run_job(lib, job) -> dict:
    run_inline(lib, job, install_signals=False)
    return queue.job_detail(lib, job["id"])


def process(lib, project, names=None, force=False) -> dict:
    return run_job(lib, derivatives.request(lib, project["folder"], names, force=force))


def photo(lib, project, basename):
    return photos_repo.get_by_basename(lib.conn(), project["id"], basename)


def files(lib, project, basename, ext="jpg"):
    return derivatives.derivative_paths(lib.project_path(project["folder"]), basename,
                                        "webp" if ext == "webp" else "jpeg")


def size_of(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def corner(path: Path, where: str) -> tuple[int, int, int]:
    """Mean colour of a small square just inside a corner of the image."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        s = max(2, min(w, h) // 20)
        x = 1 if where.endswith("left") else w - s - 1
        return im.crop((x, 1, x + s, 1 + s)).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))


def is_colour(rgb, target, tol=45) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb, target))


def item_events(lib, job_id) -> list[dict]:
    return [e["data"] for e in events.read_after(lib.conn(), 0, limit=10000)
            if e["kind"] == "item" and e["job_id"] == job_id]


# --- what gets made, and how ---------------------------------------------------------------

def test_all_orientations_end_upright_at_the_configured_sizes(open_library, pictures):
    lib = open_library(small(max_parallel_items_per_job=2))
    project = new_project(lib)
    for o in range(1, 9):
        add(lib, project, pictures[f"o{o}"], f"IMG_{o}.JPG")
    job = process(lib, project)
    assert job["status"] == "completed" and job["error_message"] is None
    assert job["items_summary"]["done"] == 8
    for o in range(1, 9):
        thumb, preview = files(lib, project, f"IMG_{o}")
        assert size_of(preview) == (400, 267), o
        assert size_of(thumb) == (100, 67), o
        assert is_colour(corner(preview, "top-left"), imagegen.MARK_TOP_LEFT), o
        assert is_colour(corner(preview, "top-right"), imagegen.MARK_TOP_RIGHT), o
        with Image.open(preview) as im:
            assert im.getexif().get(0x0112) in (None, 1)
        row = photo(lib, project, f"IMG_{o}")
        assert (row["thumbnail_status"], row["preview_status"]) == ("generated", "generated")


def test_each_photo_gets_one_item_event_and_the_job_counts_progress(open_library, pictures):
    lib = open_library(SMALL)
    project = new_project(lib)
    for n in range(3):
        add(lib, project, pictures["flat"], f"P{n}.jpg")
    seen = []
    job = derivatives.request(lib, project["folder"])
    run_inline(lib, job, install_signals=False, on_event=seen.append)
    stored = item_events(lib, job["id"])
    # The photo's basename, as web clients find photos by it; the item's own name beside it.
    assert sorted((e["filename"], e["item_filename"]) for e in stored) == [
        ("P0", "P0.jpg"), ("P1", "P1.jpg"), ("P2", "P2.jpg")]
    for e in stored:
        assert e["type"] == "item" and e["project_folder"] == project["folder"]
        assert e["thumbnail_status"] == e["preview_status"] == "generated"
        assert e["updated_at"].endswith("Z")
    heard = [e["data"] for e in seen if e["kind"] == "job" and e["data"]["id"] == job["id"]]
    assert [d["progress_done"] for d in heard if d["status"] == "running" and d["progress_total"] == 3][-3:] == [1, 2, 3]
    final = queue.get_job(lib, job["id"])
    assert (final["progress_done"], final["progress_total"]) == (3, 3)


def test_24mp_portrait_at_default_sizes(lib, big_jpeg):
    project = new_project(lib)
    add(lib, project, big_jpeg, "DSC_0001.JPG")
    job = process(lib, project)
    assert job["items_summary"]["done"] == 1
    thumb, preview = files(lib, project, "DSC_0001")
    assert size_of(preview) == (1365, 2048)
    assert size_of(thumb) == (133, 200)
    assert is_colour(corner(preview, "top-left"), imagegen.MARK_TOP_LEFT)


def test_raw_only_photos_get_derivatives(open_library, pictures):
    lib = open_library(SMALL)
    project = new_project(lib)
    add(lib, project, pictures["dng"], "BARE.DNG")
    add(lib, project, pictures["dng_preview"], "PREV.DNG")
    job = process(lib, project)
    assert job["items_summary"]["done"] == 2, job["items"]
    thumb, preview = files(lib, project, "BARE")
    assert size_of(preview) == (400, 267) and size_of(thumb) == (100, 67)
    # stored rotated with orientation 6: the preview shows it upright, marker top-left
    thumb, preview = files(lib, project, "PREV")
    assert size_of(preview) == (400, 267)
    assert is_colour(corner(preview, "top-left"), imagegen.MARK_TOP_LEFT, tol=60)
    assert photo(lib, project, "PREV")["thumbnail_status"] == "generated"


def test_the_jpg_is_the_source_when_a_photo_has_both(open_library, pictures):
    lib = open_library({"processing": {"thumbnail": {"maxDim": 100}, "preview": {"maxDim": 800}}})
    project = new_project(lib)
    add(lib, project, pictures["dng"], "PAIR.DNG")   # 600x400: never upscaled
    add(lib, project, pictures["flat"], "PAIR.JPG")  # 900x600
    process(lib, project)
    _, preview = files(lib, project, "PAIR")
    assert size_of(preview) == (800, 533)
    assert json.loads(photo(lib, project, "PAIR")["derivative_settings"])["source"] == "PAIR.JPG"


def test_png_with_alpha_and_webp_output_replacing_stale_jpegs(open_library, pictures):
    lib = open_library(SMALL)
    project = new_project(lib)
    add(lib, project, pictures["png"], "scan.png")
    process(lib, project)
    jpg_thumb, jpg_preview = files(lib, project, "scan")
    assert jpg_preview.exists() and corner(jpg_preview, "top-left") != (0, 0, 0)

    lib2 = open_library({**SMALL, "processing": {**SMALL["processing"], "format": "webp"}})
    project2 = projects_repo.get(lib2.conn(), project["id"])
    job = process(lib2, project2)   # the format changed: a candidate without --force
    assert job["items_summary"]["done"] == 1
    webp_thumb, webp_preview = files(lib2, project2, "scan", ext="webp")
    with Image.open(webp_preview) as im:
        assert im.format == "WEBP" and im.size == (400, 267)
    assert not jpg_thumb.exists() and not jpg_preview.exists()


# --- which photos, and skipping what is done ---------------------------------------------------

def test_second_run_decodes_nothing_and_force_remakes(open_library, pictures):
    lib = open_library(SMALL)
    project = new_project(lib)
    add(lib, project, pictures["flat"], "A.jpg")
    add(lib, project, pictures["flat"], "B.jpg")
    process(lib, project)
    paths = [p for base in ("A", "B") for p in files(lib, project, base)]
    for p in paths:  # an old mtime, so any rewrite shows
        os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns - 10**9))
    before = [p.stat().st_mtime_ns for p in paths]

    again = process(lib, project)
    assert sum(again["items_summary"].values()) == 0       # nothing was a candidate
    assert [p.stat().st_mtime_ns for p in paths] == before

    forced = process(lib, project, force=True)
    assert forced["items_summary"]["done"] == 2
    assert all(p.stat().st_mtime_ns > b for p, b in zip(paths, before))


def test_pending_photo_whose_derivatives_are_current_is_skipped_without_decoding(open_library, pictures):
    """The RAW of a photo arrives after its JPG: the photo is pending again, but the
    derivatives still come from the unchanged JPG."""
    lib = open_library(SMALL)
    project = new_project(lib)
    add(lib, project, pictures["flat"], "C.jpg")
    process(lib, project)
    paths = files(lib, project, "C")
    for p in paths:
        os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns - 10**9))
    before = [p.stat().st_mtime_ns for p in paths]
    add(lib, project, pictures["dng"], "C.dng")
    assert photo(lib, project, "C")["thumbnail_status"] == "pending"

    job = process(lib, project)
    assert [(i["status"], i["message"]) for i in job["items"]] == [("skipped", "already up to date")]
    assert [p.stat().st_mtime_ns for p in paths] == before
    assert photo(lib, project, "C")["preview_status"] == "generated"


def test_a_photo_dated_ahead_by_the_camera_is_not_remade_every_time(open_library, pictures):
    """Imports keep the camera's mtime; a camera whose clock runs ahead dates its files after any
    derivative made today. Once made from that very file, they are up to date all the same."""
    lib = open_library(SMALL)
    project = new_project(lib)
    add(lib, project, pictures["flat"], "F.jpg")
    source = lib.project_path(project["folder"]) / "F.jpg"
    ahead = source.stat().st_mtime_ns + 3600 * 10**9
    os.utime(source, ns=(ahead, ahead))
    process(lib, project)
    paths = files(lib, project, "F")
    before = [p.stat().st_mtime_ns for p in paths]
    add(lib, project, pictures["dng"], "F.dng")       # the photo is pending again
    job = process(lib, project)
    assert [(i["status"], i["message"]) for i in job["items"]] == [("skipped", "already up to date")]
    assert [p.stat().st_mtime_ns for p in paths] == before


def test_a_replaced_source_is_remade_even_with_an_old_mtime(open_library, pictures):
    lib = open_library(SMALL)
    project = new_project(lib)
    add(lib, project, pictures["flat"], "D.jpg")
    process(lib, project)
    # another picture under the same name, with the camera's (old) mtime kept as imports do
    target = lib.project_path(project["folder"]) / "D.jpg"
    other = imagegen.make_jpeg(target.with_name("incoming.tmp"), size=(300, 600))
    os.utime(other, ns=(0, 10**9))
    os.replace(other, target)
    with atomic(lib.conn()) as conn:
        photos_repo.add_file(conn, project["id"], basename="D", role="jpg", name="D.jpg", meta=None, now=lib.now())
    job = process(lib, project)
    assert job["items_summary"]["done"] == 1
    assert size_of(files(lib, project, "D")[1]) == (200, 400)


def test_named_photos_only_and_always(open_library, pictures):
    lib = open_library(SMALL)
    project = new_project(lib)
    for base in ("E1", "E2", "E3"):
        add(lib, project, pictures["flat"], f"{base}.jpg")
    process(lib, project)
    job = process(lib, project, names=["e2", "E3.JPG"])   # any case, basename or file name
    assert sorted((i["filename"], i["status"]) for i in job["items"]) == [("E2.jpg", "done"), ("E3.jpg", "done")]
    assert job["payload"] == {"filenames": ["e2", "E3.JPG"]}


def test_a_job_queued_by_name_without_the_cli_resolves_its_items(open_library, pictures):
    lib = open_library(SMALL)
    project = new_project(lib)
    add(lib, project, pictures["flat"], "N1.jpg")
    job = queue.enqueue(lib, "generate_derivatives", project="shoot", payload={"filenames": ["n1", "ghost.jpg"]})
    detail = run_job(lib, job)
    assert [(i["filename"], i["status"], i["message"]) for i in detail["items"]] == [
        ("n1", "done", None), ("ghost.jpg", "skipped", "no such photo in the project")]
    assert photo(lib, project, "N1")["thumbnail_status"] == "generated"


def test_unknown_name_is_an_error_and_queues_nothing(lib, pictures):
    from photojobs.errors import NotFound
    project = new_project(lib)
    add(lib, project, pictures["flat"], "F.jpg")
    before = len(queue.list_jobs(lib))
    with pytest.raises(NotFound, match="no such photo in shoot: nope"):
        derivatives.request(lib, "shoot", ["F", "nope"])
    assert len(queue.list_jobs(lib)) == before


# --- bad input ---------------------------------------------------------------------------------

def test_bad_files_fail_their_item_once_and_the_job_goes_on(open_library, pictures):
    lib = open_library(SMALL)
    project = new_project(lib)
    add(lib, project, pictures["flat"], "good.jpg")
    add(lib, project, pictures["truncated"], "cut.jpg")
    add(lib, project, pictures["bomb"], "bomb.png")
    job = process(lib, project)
    assert job["status"] == "completed" and job["attempts"] == 1
    assert job["error_message"] == "2 of 3 items failed"
    items = {i["filename"]: i for i in job["items"]}
    assert items["good.jpg"]["status"] == "done"
    assert items["cut.jpg"]["status"] == "failed" and "truncated" in items["cut.jpg"]["message"]
    assert "attempts" not in items["cut.jpg"]["message"]          # permanent: not tried again
    assert items["bomb.png"]["status"] == "failed"
    assert "100000x100000" in items["bomb.png"]["message"] and "over the limit" in items["bomb.png"]["message"]
    for base in ("cut", "bomb"):
        row = photo(lib, project, base)
        assert (row["thumbnail_status"], row["preview_status"]) == ("failed", "failed")
        assert not files(lib, project, base)[1].exists()
    ev = {e["filename"]: e for e in item_events(lib, job["id"])}
    assert ev["cut"]["status"] == "failed" and ev["cut"]["preview_status"] == "failed"


def test_truncated_jpeg_shows_in_photos_list_and_jobs_show(cli, lib, pictures):
    project = new_project(lib)
    add(lib, project, pictures["truncated"], "CARD0001.JPG")
    r = cli("process", "shoot", "--json")
    assert r.code == 5, r
    job_id = r.json()["job"]["id"]
    listed = cli("photos", "list", "shoot", "--json")
    assert [(p["filename"], p["thumbnail_status"]) for p in listed.json()] == [("CARD0001.JPG", "failed")]
    assert "truncated" in listed.json()[0]["derivative_error"]
    human = cli("photos", "list", "shoot")
    assert "problem" in human.out and "truncated" in human.out
    shown = cli("jobs", "show", str(job_id), "--json").json()
    assert "truncated" in shown["items"][0]["message"]
    text = cli("jobs", "show", str(job_id))
    assert "CARD0001.JPG" in text.out and "truncated" in text.out


def test_a_decoder_that_dies_fails_only_its_photo(open_library, pictures):
    # The test plugin's derivative maker (tests/plugins/testjobs.py) dies of SIGSEGV on CRASHME files.
    lib = open_library(small(max_parallel_items_per_job=2))
    project = new_project(lib)
    for name in ("a.jpg", "b-CRASHME.jpg", "c.jpg", "d.jpg"):
        add(lib, project, pictures["flat"], name)
    job = process(lib, project)
    assert job["status"] == "completed" and job["error_message"] == "1 of 4 items failed"
    items = {i["filename"]: i for i in job["items"]}
    assert "decoder process died (signal 11" in items["b-CRASHME.jpg"]["message"]
    assert "after 2 attempts" in items["b-CRASHME.jpg"]["message"]  # a crash may be an OOM kill: tried twice
    assert all(items[n]["status"] == "done" for n in ("a.jpg", "c.jpg", "d.jpg"))
    assert photo(lib, project, "b-CRASHME")["thumbnail_status"] == "failed"


def test_a_source_gone_from_disk_is_missing_and_comes_back(open_library, pictures):
    lib = open_library(SMALL)
    project = new_project(lib)
    add(lib, project, pictures["flat"], "gone.jpg")
    src = lib.project_path(project["folder"]) / "gone.jpg"
    kept = src.with_name("elsewhere")
    os.replace(src, kept)
    job = process(lib, project)
    assert job["items"][0]["status"] == "failed"
    assert job["items"][0]["message"] == "source file is missing from disk: gone.jpg"
    assert photo(lib, project, "gone")["thumbnail_status"] == "missing"
    os.replace(kept, src)
    again = process(lib, project)   # missing is a candidate: it is looked at again
    assert again["items"][0]["status"] == "done"
    assert photo(lib, project, "gone")["thumbnail_status"] == "generated"


def test_an_unmounted_project_folder_fails_the_job_and_marks_nothing_missing(open_library, pictures):
    lib = open_library(SMALL)
    project = new_project(lib)
    add(lib, project, pictures["flat"], "U.jpg")
    folder = lib.project_path(project["folder"])
    os.replace(folder, folder.with_name("unplugged"))
    job = process(lib, project)
    assert job["status"] == "failed" and "not mounted?" in job["error_message"]
    assert photo(lib, project, "U")["thumbnail_status"] == "pending"


def test_unsupported_content_is_not_supported_not_failed(open_library, tmp_path):
    lib = open_library(SMALL)
    project = new_project(lib)
    heic = tmp_path / "x.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100)
    add(lib, project, heic, "phone.heic")
    job = process(lib, project)
    assert job["items"][0]["status"] == "skipped" and job["error_message"] is None
    assert photo(lib, project, "phone")["thumbnail_status"] == "not_supported"
    assert sum(process(lib, project)["items_summary"].values()) == 0   # not tried again without force


# --- cancel, the import, the commit --------------------------------------------------------------

def test_cancel_stops_between_items(open_library, pictures):
    lib = open_library(small(max_parallel_items_per_job=1))
    project = new_project(lib)
    for n in range(6):
        add(lib, project, pictures["flat"], f"K{n}.jpg")
    job = derivatives.request(lib, project["folder"])

    def on_event(event):
        if event["kind"] == "item" and event["job_id"] == job["id"]:
            queue.cancel(lib, job["id"])   # asked while the job runs, right after its first photo
    run_inline(lib, job, install_signals=False, on_event=on_event)
    detail = queue.job_detail(lib, job["id"])
    assert detail["status"] == "canceled"
    done = [i["filename"] for i in detail["items"] if i["status"] == "done"]
    assert 1 <= len(done) < 6
    untouched = [r for r in photos_repo.list_for_project(lib.conn(), project["id"])
                 if r["thumbnail_status"] == "pending"]
    assert len(untouched) == 6 - len(done)


def test_import_runs_upload_postprocess_over_its_photos(open_library, pictures, tmp_path):
    from photojobs.photos.importing import import_files
    lib = open_library(SMALL)
    card = tmp_path / "card"
    card.mkdir()
    shutil.copy2(pictures["o6"], card / "DSC_0001.JPG")
    shutil.copy2(pictures["dng"], card / "DSC_0001.DNG")
    shutil.copy2(pictures["dng_preview"], card / "DSC_0002.DNG")
    report = import_files(lib, [card], project="wedding")
    outcome = run_inline(lib, report.job, install_signals=False)
    assert outcome["status"] == "completed"
    first = queue.job_detail(lib, outcome["jobs"][0]["id"])
    assert first["type"] == "upload_postprocess" and first["items_summary"]["done"] == 2
    rows = {r["basename"]: r for r in photos_repo.list_for_project(lib.conn(), first["project_id"])}
    assert {b: (r["thumbnail_status"], r["preview_status"]) for b, r in rows.items()} == {
        "DSC_0001": ("generated", "generated"), "DSC_0002": ("generated", "generated")}
    project = projects_repo.get(lib.conn(), first["project_id"])
    _, preview = files(lib, project, "DSC_0001")
    assert size_of(preview) == (400, 267) and is_colour(corner(preview, "top-left"), imagegen.MARK_TOP_LEFT)


def test_removing_the_jpg_remakes_derivatives_from_the_raw(open_library, pictures):
    from photojobs.photos import culling
    lib = open_library({"processing": {"thumbnail": {"maxDim": 100}, "preview": {"maxDim": 800}}})
    project = new_project(lib)
    add(lib, project, pictures["flat"], "R.jpg")    # 900x600 -> preview 800x533
    add(lib, project, pictures["dng"], "R.dng")     # 600x400 -> preview 600x400
    process(lib, project)
    assert size_of(files(lib, project, "R")[1]) == (800, 533)
    culling.keep(lib, "shoot", ["R"], jpg=False)
    result = culling.commit(lib, "shoot")
    run_inline(lib, result["job"], install_signals=False)
    Runner(lib, until_empty=True).run()   # the generate_derivatives job file_removal queued
    row = photo(lib, project, "R")
    assert (row["jpg_available"], row["raw_available"]) == (0, 1)
    assert (row["thumbnail_status"], row["preview_status"]) == ("generated", "generated")
    assert json.loads(row["derivative_settings"])["source"] == "R.dng"
    assert size_of(files(lib, project, "R")[1]) == (600, 400)


def test_regenerate_marks_pending_and_queues_for_those_photos(open_library, pictures):
    lib = open_library(SMALL)
    project = new_project(lib)
    ids = [add(lib, project, pictures["flat"], f"G{n}.jpg") for n in range(3)]
    process(lib, project)
    job = derivatives.regenerate(lib, project["id"], ids[:2], source="test")
    assert photo(lib, project, "G0")["thumbnail_status"] == "pending"
    detail = run_job(lib, job)
    assert sorted(i["filename"] for i in detail["items"]) == ["G0.jpg", "G1.jpg"]
    assert detail["items_summary"]["done"] == 2


def test_process_cli_inline_json_and_no_wait(cli, lib, pictures):
    project = new_project(lib)
    add(lib, project, pictures["flat"], "H.jpg")
    r = cli("process", "shoot", "--json")
    assert r.code == 0, r
    body = r.json()
    assert body["mode"] == "inline" and body["job"]["status"] == "completed"
    assert body["job"]["items"][0]["filename"] == "H.jpg"
    assert files(lib, project, "H")[0].exists()

    queued = cli("process", "shoot", "H", "--no-wait", "--json")
    assert queued.code == 0 and queued.json()["mode"] == "queued"
    assert queue.get_job(lib, queued.json()["job"]["id"])["status"] == "queued"

    assert cli("process", "shoot", "nope").code == 3
    assert cli("process", "nowhere").code == 3
    text = cli("process", "shoot", "--force")
    assert text.code == 0 and "1 made" in text.out


def test_process_cli_hands_the_job_to_a_running_daemon(cli, lib, pictures, start_daemon):
    project = new_project(lib)
    add(lib, project, pictures["o6"], "W.jpg")
    start_daemon({**SMALL, "daemon": {"watch_mode": "off"}})
    r = cli("process", "shoot", "--wait", "--json")
    assert r.code == 0, r
    body = r.json()
    assert body["mode"] == "daemon" and body["job"]["status"] == "completed"
    assert body["job"]["items"][0]["status"] == "done"
    _, preview = files(lib, project, "W")
    assert size_of(preview) == (400, 267)   # made by the daemon, with the daemon's settings
