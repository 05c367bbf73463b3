"""The daemon's HTTP API (Starlette): JSON endpoints over the engine, the event stream, token and browser checks."""

from __future__ import annotations

import hmac
import logging
import os
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .. import __version__
from ..engine import pause, queue
from ..engine import events as events_engine
from ..engine.runner import Runner
from ..errors import PhotojobsError
from ..library import CATALOG_DIR, Library
from ..photos import importing as upload_flow
from ..timefmt import iso
from . import assets, routes_jobs, routes_projects, shapes
from .guard import RequestGuard
from .params import ApiError
from .params import daemon as _d
from .params import in_thread as _in_thread
from .params import jsonable as _jsonable
from .params import project_of as _project_async
from .params import project_row as _project
from .sse import EventHub, event_stream
from .upload import TooLarge, UploadError, receive_and_import

log = logging.getLogger("photojobs.daemon.http")


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


# --- endpoints --------------------------------------------------------------------------
async def health(request: Request) -> JSONResponse:
    d = _d(request)
    counts = await _in_thread(queue.counts, d.lib)
    runner = d.runner
    lanes = [{"name": lane.name, "slots": lane.slots, "busy": lane.busy} for lane in runner.lanes] if runner else []
    return JSONResponse({
        "status": "ok", "version": __version__, "pid": os.getpid(), "library": str(d.lib.root.resolve()),
        "host": d.host, "port": d.port, "url": d.url, "started_at": iso(d.started_at),
        "uptime_seconds": round(time.time() - d.started_at, 3), "token_required": bool(d.token),
        "stopping": bool(runner and runner.stopping), "lanes": lanes, "queue": counts,
        "last_event_id": d.hub.last_id, "streams": sum(d.hub.streams.values()),
        "paused": await _in_thread(pause.state, d.lib),
    })


async def wake(request: Request) -> JSONResponse:
    """A CLI process queued work in the catalog for us: claim it and stream its events now,
    rather than at the next poll of the catalog (pipeline.poll_ms)."""
    _d(request).lib.waker.notify()
    return JSONResponse({"ok": True})


UPLOAD_PATH = "/api/projects/{folder}/upload"   # the one route that takes a multipart body


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
        for key in ("rejected", "ignored", "failed", "skipped"):
            for entry in body.get(key, []):
                if entry.get("path") in names:
                    entry["path"] = names[entry["path"]]
        status, shaped = await _in_thread(shapes.upload_result, body, d.lib.project_path(project["folder"]))
        return JSONResponse(_jsonable(shaped), status_code=status)
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
    refused = d.hub.try_open(client, int(d.lib.config.get("daemon.sse_max_streams_per_client")),
                             int(d.lib.config.get("daemon.sse_max_streams")))
    if refused:
        raise ApiError(429, refused)
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
        *routes_projects.ROUTES,
        Route(UPLOAD_PATH, upload, methods=["POST"]),
        *assets.ROUTES,
        Route("/api/jobs/stream", stream),
        *routes_jobs.ROUTES,
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={PhotojobsError: _error, HTTPException: _error, Exception: _error})
    app.state.daemon = daemon
    gated = TokenGate(app, daemon.token) if daemon.token else app
    # A token is what a rebound page cannot send, so with one the daemon answers to any Host
    # name (a LAN client may use the machine's name); the Origin and body checks stay.
    return RequestGuard(gated, host=daemon.host, port=daemon.port, check_host=not daemon.token,
                        allowed_origins=daemon.lib.config.get("daemon.allowed_origins") or (),
                        multipart_paths=[UPLOAD_PATH])


def staging_root(lib: Library) -> Path:
    return lib.root / CATALOG_DIR / "staging"
