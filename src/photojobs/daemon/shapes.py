"""The API's JSON shapes: the original web client's keys beside ours, in one place (see README, "API").

Each function takes what an engine call returned and adds the keys the original server sent
(its names, its types), keeping ours; where the two disagree on a key, the original's meaning
wins and ours moves to another key (named in the README's table).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..photos.media import role_of


# --- projects and photos ------------------------------------------------------------------------
def photo(p: dict[str, Any]) -> dict[str, Any]:
    """A photo: the original's `filename` is the basename (it names derivatives and events by
    it); ours, the file a list shows, becomes `display_name`. `metadata` is the original's flat
    EXIF summary of the file derivatives are made from."""
    ext = p["filename"].rpartition(".")[2].lower() if "." in p["filename"] else None
    metadata = {"date_time_original": p["date_time_original"], "make": p["make"], "model": p["model"],
                "camera_make": p["make"], "camera_model": p["model"], "orientation": p["orientation"],
                "exif_image_width": p["width"], "exif_image_height": p["height"]}
    return {**p, "filename": p["basename"], "display_name": p["filename"], "ext": ext,
            "metadata": {k: v for k, v in metadata.items() if v is not None}}


def project_detail(p: dict[str, Any]) -> dict[str, Any]:
    """A project with its photos: the original's project_name/project_folder beside ours."""
    return {**p, "project_name": p["name"], "project_folder": p["folder"], "photos": [photo(x) for x in p["photos"]]}


def created_project(p: dict[str, Any]) -> dict[str, Any]:
    return {"message": "Project created successfully", "project": {**p, "photo_count": 0}}


def deleted_project(result: dict[str, Any]) -> dict[str, Any]:
    where = f"moved to the library's trash as {result['trashed_as']}" if result["trashed_as"] else \
        f"its folder stays at {result['path']}"
    return {"message": f"Project deleted: {where}", **result}


# --- culling ----------------------------------------------------------------------------------------
def keep_result(r: dict[str, Any]) -> dict[str, Any]:
    return {"message": f"Updated keep flags for {r['selected']} photos", "updated_count": r["selected"], **r}


def commit_result(r: dict[str, Any]) -> dict[str, Any]:
    job = r.get("job")
    return {"started": job is not None, "task_id": job["task_id"] if job else None, **r}


def revert_result(r: dict[str, Any]) -> dict[str, Any]:
    return {"updated": r["changed"], **r}


# --- jobs and tasks ---------------------------------------------------------------------------------
def job_detail(job: dict[str, Any]) -> dict[str, Any]:
    """`{job, items_summary, total_items}` as the original; the job keeps its items and task."""
    summary = job["items_summary"]
    return {"job": job, "items_summary": summary, "total_items": sum(summary.values())}


def task_started(task_type: str, job: dict[str, Any] | None) -> dict[str, Any]:
    """The original's `{task: {task_id, type, first_job_id}}`, with the first job (None: nothing to do)."""
    return {"task": {"task_id": job["task_id"] if job else None, "type": task_type,
                     "first_job_id": job["id"] if job else None, "job": job}, "job": job}


# --- upload -----------------------------------------------------------------------------------------
def upload_result(report: dict[str, Any], project_path: Path) -> tuple[int, dict[str, Any]]:
    """(status, body) of an upload: 201 with the original's `message`, `files` and `warnings`
    beside our report when a file was imported; 200 when every file was in the project already;
    else an error with each file's reason (`perFileErrors`): 400 for the request's files, 500
    when the server could not write them. Reads the imported files' sizes (call it off the loop)."""
    imported = list(report.get("imported", [])) + list(report.get("sidecars", []))
    problems = [{"filename": e.get("name") or e.get("path"), "error": e["reason"]}
                for key in ("rejected", "ignored", "failed", "skipped") for e in report.get(key, [])
                if not (key == "skipped" and e.get("identical"))]
    body = {**report, "warnings": problems} if problems else dict(report)
    if imported:
        files = []
        for name in imported:
            try:
                size = os.stat(project_path / name).st_size
            except OSError:
                size = None
            files.append({"filename": name, "size": size, "type": role_of(name.rpartition(".")[2]) or "other"})
        return 201, {"message": f"Successfully uploaded {len(imported)} files", "files": files, **body}
    if not problems:
        n = len(report.get("skipped", []))
        return 200, {"message": f"{n} file{'' if n == 1 else 's'} already in the project", "files": [], **body}
    status = 500 if report.get("failed") else 400
    reasons = "; ".join(f"{p['filename']}: {p['error']}" for p in problems)
    return status, {"error": f"No file could be imported: {reasons}", "perFileErrors": problems, **body}


def analysis(files: list[dict[str, Any]], planned: list, rejected: list[dict[str, str]], *,
             folder: str, on_duplicate: str) -> dict[str, Any]:
    """The original's pre-upload analysis: image groups by basename (new, completing a photo, or
    meeting a file already there), a summary and the rejected files; each group also says what
    the import would do with each file (`plan`)."""
    given = {f["name"]: f for f in files}
    groups: dict[str, dict[str, Any]] = {}
    for f in planned:
        g = groups.setdefault(f.basename, {"baseName": f.basename, "files": [], "hasJpg": False, "hasRaw": False,
                                           "analysis": [], "isNew": True, "hasConflict": False, "plan": []})
        g["files"].append(given.get(f.name, {"name": f.name}))
        g["hasJpg"] |= f.role == "jpg"
        g["hasRaw"] |= f.role == "raw"
        g["isNew"] &= not f.photo_exists
        g["plan"].append({"name": f.name, "action": f.action, "as": f.target, "reason": f.reason})
        if f.conflict:
            g["conflictType"] = "duplicate"
        elif f.photo_exists and g.get("conflictType") != "duplicate":
            g["conflictType"] = "completion"
    for g in groups.values():
        g["hasConflict"] = "conflictType" in g
        g["pair"] = g["hasJpg"] and g["hasRaw"]
        g["analysis"] = [f"New image {g['baseName']}"] if g["isNew"] else \
            [f"{p['name']}: {p['reason']}" for p in g["plan"] if p["reason"]] or \
            [f"Completes {g['baseName']}"]
    values = list(groups.values())
    summary = {"totalImages": len(values), "totalFiles": len(planned),
               "newImages": sum(g["isNew"] for g in values),
               "conflictImages": sum(g["hasConflict"] for g in values),
               "completionImages": sum(g.get("conflictType") == "completion" for g in values),
               "duplicateImages": sum(g.get("conflictType") == "duplicate" for g in values),
               "rejectedFiles": len(rejected),
               "pairs": sum(g["pair"] for g in values),
               "filesToImport": sum(f.action in ("copy", "overwrite") for f in planned)}
    return {"success": True, "imageGroups": groups, "summary": summary, "rejected": rejected,
            "project": folder, "on_duplicate": on_duplicate}
