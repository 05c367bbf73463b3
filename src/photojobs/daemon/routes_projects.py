"""HTTP routes of projects and their photos: list, create, show, delete, cull, commit, process, maintain, analyse an upload."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..photos import culling, derivatives, library_trash
from ..photos import importing as upload_flow
from ..photos import maintenance as maintenance_flow
from ..photos.maintenance import MAINTENANCE_TYPES
from ..photos import projects as projects_engine
from . import shapes
from .params import ApiError, bool_param, daemon, filenames, in_thread, json_body, jsonable, project_of
from .upload import clean_name


async def list_projects(request: Request) -> JSONResponse:
    return JSONResponse(await in_thread(projects_engine.list_projects, daemon(request).lib))


async def create_project(request: Request) -> JSONResponse:
    body = await json_body(request, required=True)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "Project name is required")
    project = await in_thread(projects_engine.create_project, daemon(request).lib, name)
    return JSONResponse(shapes.created_project(project), status_code=201)


async def get_project(request: Request) -> JSONResponse:
    project = await project_of(request)
    detail = await in_thread(culling.project_with_photos, daemon(request).lib, project["id"])
    return JSONResponse(shapes.project_detail(detail))


async def delete_project(request: Request) -> JSONResponse:
    """Forget the project; `?files=true` also moves its folder into the library's trash (as
    `project delete --files`). Refused (409) while a job of the project runs."""
    files = bool_param(request, "files")
    project = await project_of(request)
    result = await in_thread(library_trash.delete_project, daemon(request).lib, project["id"], files=files)
    return JSONResponse(shapes.deleted_project(result))


async def set_keep(request: Request) -> JSONResponse:
    body = await json_body(request, required=True)
    project = await project_of(request)
    result = await in_thread(culling.keep_many, daemon(request).lib, project["id"], body.get("updates"))
    return JSONResponse(shapes.keep_result(result))


async def analyze_files(request: Request) -> JSONResponse:
    """What uploading files of these names would do (new photos, completed pairs, names met in
    the project), decided by the import's own planning; nothing is written."""
    body = await json_body(request, required=True)
    files = body.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in files):
        raise ApiError(400, "files must be a list of {name, size, type}")
    on_duplicate = body.get("on_duplicate") or "skip"
    names, rejected = [], []
    for f in files:   # the gate the upload puts on a client's file names comes first, as there
        why = clean_name(f["name"])[1]
        if why:
            rejected.append({"name": f["name"], "reason": why})
        else:
            names.append(f["name"])
    project = await project_of(request)
    planned, refused = await in_thread(upload_flow.plan_names, daemon(request).lib, project["id"], names,
                                       on_duplicate=on_duplicate)
    return JSONResponse(shapes.analysis(files, planned, rejected + refused, folder=project["folder"],
                                        on_duplicate=on_duplicate))


async def process(request: Request) -> JSONResponse:
    force = bool_param(request, "force")
    body = await json_body(request)
    names = filenames(body.get("filenames"))
    project = await project_of(request)
    job = await in_thread(derivatives.request, daemon(request).lib, project["id"], filenames=names, force=force,
                          source="api")
    return JSONResponse({"job": jsonable(job)}, status_code=202)


async def commit_changes(request: Request) -> JSONResponse:
    project = await project_of(request)
    result = await in_thread(culling.commit, daemon(request).lib, project["id"], source="api")
    # Nothing to commit queues nothing: 200 with job null.
    return JSONResponse(jsonable(shapes.commit_result(result)), status_code=202 if result.get("job") else 200)


async def revert_changes(request: Request) -> JSONResponse:
    project = await project_of(request)
    result = await in_thread(culling.revert, daemon(request).lib, project["id"])
    return JSONResponse(shapes.revert_result(result))


async def maintenance(request: Request) -> JSONResponse:
    body = await json_body(request)
    job_type = body.get("type") or request.query_params.get("type") or None
    if job_type is not None and job_type not in MAINTENANCE_TYPES:
        raise ApiError(400, f"type must be one of {', '.join(MAINTENANCE_TYPES)}, got {job_type!r}")
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ApiError(400, "force must be true or false")
    project = await project_of(request)
    jobs = await in_thread(maintenance_flow.start, daemon(request).lib, project["id"], type=job_type, force=force,
                           source="api")
    return JSONResponse({"job": jsonable(jobs[0]), "jobs": jsonable(jobs)}, status_code=202)


ROUTES = [
    Route("/api/projects", list_projects, methods=["GET"]),
    Route("/api/projects", create_project, methods=["POST"]),
    Route("/api/projects/{folder}", get_project, methods=["GET"]),
    Route("/api/projects/{folder}", delete_project, methods=["DELETE"]),
    Route("/api/projects/{folder}/keep", set_keep, methods=["PUT"]),
    Route("/api/projects/{folder}/analyze-files", analyze_files, methods=["POST"]),
    Route("/api/projects/{folder}/process", process, methods=["POST"]),
    Route("/api/projects/{folder}/commit-changes", commit_changes, methods=["POST"]),
    Route("/api/projects/{folder}/revert-changes", revert_changes, methods=["POST"]),
    Route("/api/projects/{folder}/maintenance", maintenance, methods=["POST"]),
]
