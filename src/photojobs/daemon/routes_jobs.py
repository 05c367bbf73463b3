"""HTTP routes of the queue: a project's jobs, enqueue (a job or a named task), one job, cancel, retry, tasks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..engine import queue, tasks
from ..photos.task_requests import start_named_task
from . import shapes
from .params import ApiError, MAX_LIST_LIMIT, daemon, filenames, in_thread, int_param, json_body, multi, project_of


async def project_jobs(request: Request) -> JSONResponse:
    project = await project_of(request)
    limit = int_param(request, "limit", 50, 1, MAX_LIST_LIMIT)
    offset = int_param(request, "offset", 0, 0, 1 << 40)
    jobs = await in_thread(queue.list_jobs, daemon(request).lib, project=project["id"], status=multi(request, "status"),
                           type=multi(request, "type"), limit=limit, offset=offset)
    return JSONResponse({"jobs": jobs, "limit": limit, "offset": offset})


async def enqueue_job(request: Request) -> JSONResponse:
    """A job `{type, payload?, priority?}` -> 202 {job}; or, as the original web client sends, a
    task `{task_type, source?, items?}` -> 202 {task}. `payload.filenames` and `items` name photos
    (basenames or file names) and become the job's items."""
    body = await json_body(request, required=True)
    if "task_type" in body:
        return await _start_task(request, body)
    job_type = body.get("type")
    if not isinstance(job_type, str) or not job_type:
        raise ApiError(400, "type is required (a job type such as generate_derivatives), "
                            "or task_type (a task such as upload_postprocess)")
    payload = body.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise ApiError(400, "payload must be a JSON object")
    if "filenames" in payload:
        payload = {**payload, "filenames": filenames(payload["filenames"])}
    project = await project_of(request)
    job = await in_thread(queue.enqueue, daemon(request).lib, job_type, project=project["id"], payload=payload,
                          priority=body.get("priority"), source="api")
    return JSONResponse({"job": job}, status_code=202)


async def _start_task(request: Request, body: dict) -> JSONResponse:
    task_type, source = body["task_type"], body.get("source") or "api"
    if not isinstance(task_type, str) or not task_type:
        raise ApiError(400, "task_type must be a task name such as upload_postprocess")
    if not isinstance(source, str) or len(source) > 100:
        raise ApiError(400, "source must be a short text")
    items = filenames(body.get("items"), "items")
    project = await project_of(request)
    job = await in_thread(start_named_task, daemon(request).lib, project["id"], task_type, items=items,
                          source=source)
    return JSONResponse(shapes.task_started(task_type, job), status_code=202)


async def get_job(request: Request) -> JSONResponse:
    job = await in_thread(queue.job_detail, daemon(request).lib, request.path_params["job_id"])
    return JSONResponse(shapes.job_detail(job))


async def cancel_job(request: Request) -> JSONResponse:
    job = await in_thread(queue.cancel, daemon(request).lib, request.path_params["job_id"])
    return JSONResponse({"job": job})


async def retry_job(request: Request) -> JSONResponse:
    job = await in_thread(queue.retry, daemon(request).lib, request.path_params["job_id"])
    return JSONResponse({"job": job}, status_code=202)


async def get_task(request: Request) -> JSONResponse:
    task = await in_thread(queue.task_status, daemon(request).lib, request.path_params["task_id"])
    return JSONResponse({"task": task})


async def task_definitions(request: Request) -> JSONResponse:
    return JSONResponse(tasks.definitions())


# /api/jobs/stream is the event stream (app.py); job ids are digits only, so it never matches them.
ROUTES = [
    Route("/api/projects/{folder}/jobs", project_jobs, methods=["GET"]),
    Route("/api/projects/{folder}/jobs", enqueue_job, methods=["POST"]),
    Route("/api/jobs/{job_id:int}", get_job),
    Route("/api/jobs/{job_id:int}/cancel", cancel_job, methods=["POST"]),
    Route("/api/jobs/{job_id:int}/retry", retry_job, methods=["POST"]),
    Route("/api/tasks/definitions", task_definitions),   # before /api/tasks/{task_id}, which would take it
    Route("/api/tasks/{task_id}", get_task),
]
