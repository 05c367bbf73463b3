"""The daemon's HTTP API (Starlette): JSON endpoints over the engine, the event stream, token checks."""

from __future__ import annotations

import hmac
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .. import __version__
from ..engine import culling, derivatives, pause, queue
from ..engine import events as events_engine
from ..engine import maintenance as maintenance_flow
from ..engine import upload as upload_flow
from ..engine.library import CATALOG_DIR, Library
from ..engine.registry import MAINTENANCE_TYPES
from ..engine.runner import Runner
from ..errors import NotFound, PhotojobsError
from ..storage.repos import projects as projects_repo
from .sse import EventHub, event_stream
from .upload import TooLarge, UploadError, receive_and_import

log = logging.getLogger("photojobs.daemon.http")

JSON_BODY_LIMIT = 1 << 20
MAX_LIST_LIMIT = 1000


class ApiError(PhotojobsError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.http_status = status


@dataclass
class DaemonContext:
    """What the endpoints share: the library, the runner, the event hub and the address."""

    lib: Library
    runner: Runner | None
    hub: EventHub
    host: str
    port: int
    token: str = ""
    started_at: float = field(default_factory=time.time)
    on_ready: Callable[[], None] | None = None

    @property
    def url(self) -> str:
        """Where a client on this machine reaches us (a wildcard bind is reached on loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"


# --- helpers ----------------------------------------------------------------------------
def _d(request: Request) -> DaemonContext:
    return request.app.state.daemon


async def _in_thread(fn, *args, **kwargs):
    """Engine calls block on SQLite and disk: run them off the event loop."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))


async def _json_body(request: Request, *, required: bool = False) -> dict[str, Any]:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > JSON_BODY_LIMIT:
        raise ApiError(413, f"request body is larger than {JSON_BODY_LIMIT} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > JSON_BODY_LIMIT:
            raise ApiError(413, f"request body is larger than {JSON_BODY_LIMIT} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        if required:
            raise ApiError(400, "a JSON object body is required")
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object")
    return data


def _project(lib: Library, folder: str):
    """The project in `folder` (exactly its folder name); never a path outside the library."""
    row = projects_repo.by_folder(lib.conn(), folder)
    if row is None:
        raise NotFound(f"no such project: {folder}")
    return row


async def _project_async(request: Request):
    return await _in_thread(_project, _d(request).lib, request.path_params["folder"])


def check_filename(name: Any) -> str:
    """A photo's file name from a request: a plain name, never a path."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name \
            or "\x00" in name or any(ord(c) < 32 for c in name):
        raise ApiError(400, f"bad file name: {json.dumps(name) if isinstance(name, str) else name!r}")
    return name


def _filenames(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ApiError(400, "filenames must be a list of file names")
    return [check_filename(n) for n in value]


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ApiError(400, f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _bool_param(request: Request, name: str) -> bool:
    raw = (request.query_params.get(name) or "").lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ApiError(400, f"{name} must be true or false, got {raw!r}")


def _multi(request: Request, name: str) -> list[str]:
    out = []
    for value in request.query_params.getlist(name):
        out += [v for v in value.split(",") if v]
    return out


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# --- endpoints --------------------------------------------------------------------------
async def health(request: Request) -> JSONResponse:
    d = _d(request)
    counts = await _in_thread(queue.counts, d.lib)
    runner = d.runner
    lanes = [{"name": lane.name, "slots": lane.slots, "busy": lane.busy} for lane in runner.lanes] if runner else []
    return JSONResponse({
        "status": "ok", "version": __version__, "pid": os.getpid(), "library": str(d.lib.root.resolve()),
        "host": d.host, "port": d.port, "url": d.url, "started_at": queue.iso(d.started_at),
        "uptime_seconds": round(time.time() - d.started_at, 3), "token_required": bool(d.token),
        "stopping": bool(runner and runner.stopping), "lanes": lanes, "queue": counts,
        "last_event_id": d.hub.last_id, "streams": sum(d.hub.streams.values()),
        "paused": await _in_thread(pause.state, d.lib),
    })


async def list_projects(request: Request) -> JSONResponse:
    from ..engine.projects import list_projects as _list
    return JSONResponse({"projects": await _in_thread(_list, _d(request).lib)})


async def project_jobs(request: Request) -> JSONResponse:
    d = _d(request)
    project = await _project_async(request)
    limit = _int_param(request, "limit", 50, 1, MAX_LIST_LIMIT)
    offset = _int_param(request, "offset", 0, 0, 1 << 40)
    jobs = await _in_thread(queue.list_jobs, d.lib, project=project["id"], status=_multi(request, "status"),
                            type=_multi(request, "type"), limit=limit, offset=offset)
    return JSONResponse({"jobs": jobs, "limit": limit, "offset": offset})


async def enqueue_job(request: Request) -> JSONResponse:
    d = _d(request)
    body = await _json_body(request, required=True)
    project = await _project_async(request)
    job_type = body.get("type")
    if not isinstance(job_type, str) or not job_type:
        raise ApiError(400, "type is required (a job type such as generate_derivatives)")
    payload = body.get("payload", {})
    if not isinstance(payload, dict):
        raise ApiError(400, "payload must be a JSON object")
    if "filenames" in payload:
        payload = {**payload, "filenames": _filenames(payload["filenames"])}
    priority = body.get("priority")
    job = await _in_thread(queue.enqueue, d.lib, job_type, project=project["id"], payload=payload,
                           priority=priority, source="api")
    return JSONResponse({"job": job}, status_code=202)


async def get_job(request: Request) -> JSONResponse:
    job = await _in_thread(queue.job_detail, _d(request).lib, request.path_params["job_id"])
    return JSONResponse({"job": job})


async def cancel_job(request: Request) -> JSONResponse:
    job = await _in_thread(queue.cancel, _d(request).lib, request.path_params["job_id"])
    return JSONResponse({"job": job})


async def retry_job(request: Request) -> JSONResponse:
    job = await _in_thread(queue.retry, _d(request).lib, request.path_params["job_id"])
    return JSONResponse({"job": job}, status_code=202)


async def wake(request: Request) -> JSONResponse:
    """A CLI process queued work in the catalog for us: claim it and stream its events now,
    rather than at the next poll of the catalog (pipeline.poll_ms)."""
    _d(request).lib.waker.notify()
    return JSONResponse({"ok": True})


async def get_task(request: Request) -> JSONResponse:
    task = await _in_thread(queue.task_status, _d(request).lib, request.path_params["task_id"])
    return JSONResponse({"task": task})


async def process(request: Request) -> JSONResponse:
    d = _d(request)
    force = _bool_param(request, "force")
    body = await _json_body(request)
    filenames = _filenames(body.get("filenames"))
    project = await _project_async(request)
    job = await _in_thread(derivatives.request, d.lib, project["id"], filenames=filenames, force=force,
                           source="api")
    return JSONResponse({"job": _jsonable(job)}, status_code=202)


async def commit_changes(request: Request) -> JSONResponse:
    project = await _project_async(request)
    result = await _in_thread(culling.commit, _d(request).lib, project["id"], source="api")
    # Nothing to commit queues nothing: 200 with job null.
    return JSONResponse(_jsonable(result), status_code=202 if result.get("job") else 200)


async def revert_changes(request: Request) -> JSONResponse:
    project = await _project_async(request)
    return JSONResponse(_jsonable(await _in_thread(culling.revert, _d(request).lib, project["id"])))


async def maintenance(request: Request) -> JSONResponse:
    d = _d(request)
    body = await _json_body(request)
    job_type = body.get("type") or request.query_params.get("type") or None
    if job_type is not None and job_type not in MAINTENANCE_TYPES:
        raise ApiError(400, f"type must be one of {', '.join(MAINTENANCE_TYPES)}, got {job_type!r}")
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ApiError(400, "force must be true or false")
    project = await _project_async(request)
    jobs = await _in_thread(maintenance_flow.start, d.lib, project["id"], type=job_type, force=force, source="api")
    return JSONResponse({"job": _jsonable(jobs[0]), "jobs": _jsonable(jobs)}, status_code=202)


async def upload(request: Request) -> JSONResponse:
    d = _d(request)
    project = await _project_async(request)
    cap = int(d.lib.config.get("daemon.max_upload_mb")) * 1024 * 1024
    staging = d.lib.root / CATALOG_DIR / "staging" / uuid.uuid4().hex

    def run_import(files, fields: dict[str, str]):
        on_duplicate = fields.get("on_duplicate") or request.query_params.get("on_duplicate")
        kwargs: dict[str, Any] = {"project": project["folder"], "move": True, "source": "api"}
        if on_duplicate:
            kwargs["on_duplicate"] = on_duplicate
        if isinstance(files, list):   # the whole body is in: one batch
            return upload_flow.import_files(d.lib, [p for p, _ in files], **kwargs,
                                            source_names={str(p): name for p, name in files})
        return upload_flow.import_files(d.lib, [], **kwargs, arriving=files)

    try:
        received, report = await receive_and_import(
            request, staging, field="photos", max_bytes=cap, run_import=run_import,
            streaming=bool(d.lib.config.get("uploader.process_during_import", True)))
    except TooLarge as exc:
        raise ApiError(413, str(exc)) from None
    except UploadError as exc:
        raise ApiError(400, str(exc)) from None
    try:
        if not received.files and not received.rejected:
            raise ApiError(400, "no files in the form field 'photos'")
        body = dict(report.to_dict()) if report is not None else {"imported": [], "job": None}
        if received.rejected:
            body["rejected"] = list(body.get("rejected", [])) + received.rejected
        # The report names files by their staged path: show the client's names instead.
        names = {str(p): name for p, name in received.files}
        for key in ("rejected", "failed"):
            for entry in body.get(key, []):
                if entry.get("path") in names:
                    entry["path"] = names[entry["path"]]
        return JSONResponse(_jsonable(body), status_code=202 if body.get("job") else 200)
    finally:
        received.cleanup()


async def stream(request: Request):
    d = _d(request)
    raw = request.headers.get("last-event-id") or request.query_params.get("after")
    after = None
    if raw is not None and raw.strip() != "":
        try:
            after = int(raw)
        except ValueError:
            raise ApiError(400, f"Last-Event-ID must be an event id, got {raw!r}") from None
        if after < 0:
            raise ApiError(400, f"Last-Event-ID must be an event id, got {raw!r}")
    project_id = None
    if request.query_params.get("project"):
        project_id = (await _in_thread(_project, d.lib, request.query_params["project"]))["id"]
    last = await _in_thread(lambda: events_engine.last_event_id(d.lib.conn()))
    cursor = last if after is None else min(after, last)
    client = request.client.host if request.client else "-"
    cap = int(d.lib.config.get("daemon.sse_max_streams_per_client"))
    if not d.hub.try_open(client, cap):
        raise ApiError(429, f"too many event streams from {client} (at most {cap})")
    frames = event_stream(d.hub, cursor, project_id=project_id,
                          keepalive=float(d.lib.config.get("daemon.sse_keepalive_seconds")),
                          idle_timeout=float(d.lib.config.get("daemon.sse_idle_timeout_seconds")))
    return SSEResponse(frames, on_close=lambda: d.hub.release(client))


class SSEResponse:
    """A text/event-stream response that ends when the client goes away (not at the next write)."""

    def __init__(self, frames, on_close: Callable[[], None]):
        self.frames = frames
        self.on_close = on_close

    async def __call__(self, scope, receive, send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no")]})
            async with anyio.create_task_group() as tg:
                async def watch_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    tg.cancel_scope.cancel()
                tg.start_soon(watch_disconnect)
                async for frame in self.frames:
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                tg.cancel_scope.cancel()
        except OSError:
            pass  # the client went away mid-write
        finally:
            await self.frames.aclose()
            self.on_close()


# --- errors and security ----------------------------------------------------------------
def _error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, PhotojobsError):
        return JSONResponse({"error": exc.message}, status_code=getattr(exc, "http_status", 400))
    if isinstance(exc, HTTPException):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)


class TokenGate:
    """Every request must carry `Authorization: Bearer <daemon.token>` when a token is set."""

    def __init__(self, app, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                response = JSONResponse({"error": "missing or wrong token (Authorization: Bearer ...)"},
                                        status_code=401, headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(daemon: DaemonContext):
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        daemon.hub.start()
        if daemon.on_ready is not None:
            daemon.on_ready()
        yield
        daemon.hub.close()

    routes = [
        Route("/api/health", health),
        Route("/api/wake", wake, methods=["POST"]),
        Route("/api/projects", list_projects),
        Route("/api/projects/{folder}/jobs", project_jobs, methods=["GET"]),
        Route("/api/projects/{folder}/jobs", enqueue_job, methods=["POST"]),
        Route("/api/projects/{folder}/upload", upload, methods=["POST"]),
        Route("/api/projects/{folder}/process", process, methods=["POST"]),
        Route("/api/projects/{folder}/commit-changes", commit_changes, methods=["POST"]),
        Route("/api/projects/{folder}/revert-changes", revert_changes, methods=["POST"]),
        Route("/api/projects/{folder}/maintenance", maintenance, methods=["POST"]),
        Route("/api/jobs/stream", stream),
        Route("/api/jobs/{job_id:int}", get_job),
        Route("/api/jobs/{job_id:int}/cancel", cancel_job, methods=["POST"]),
        Route("/api/jobs/{job_id:int}/retry", retry_job, methods=["POST"]),
        Route("/api/tasks/{task_id}", get_task),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={PhotojobsError: _error, HTTPException: _error, Exception: _error})
    app.state.daemon = daemon
    return TokenGate(app, daemon.token) if daemon.token else app


def staging_root(lib: Library) -> Path:
    return lib.root / CATALOG_DIR / "staging"
