"""Reading a request for the route modules: JSON bodies, parameters, file names, the project a path names; engine calls off the event loop."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import anyio
from starlette.requests import Request

from ..errors import NotFound, PhotojobsError
from ..photos import projects

JSON_BODY_LIMIT = 1 << 20
MAX_LIST_LIMIT = 1000


class ApiError(PhotojobsError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.http_status = status


def daemon(request: Request):
    """The DaemonContext the app was made with (library, runner, event hub, address)."""
    return request.app.state.daemon


async def in_thread(fn, *args, **kwargs):
    """Engine calls block on SQLite and disk: run them off the event loop."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))


async def json_body(request: Request, *, required: bool = False) -> dict[str, Any]:
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


def project_row(lib, folder: str):
    """The project in `folder` (exactly its folder name); never a path outside the library."""
    row = projects.in_folder(lib, folder)
    if row is None:
        raise NotFound(f"no such project: {folder}")
    return row


async def project_of(request: Request):
    """The project the path's {folder} names."""
    return await in_thread(project_row, daemon(request).lib, request.path_params["folder"])


def check_filename(name: Any) -> str:
    """A photo's file name from a request: a plain name, never a path."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name \
            or "\x00" in name or any(ord(c) < 32 for c in name):
        raise ApiError(400, f"bad file name: {json.dumps(name) if isinstance(name, str) else name!r}")
    return name


def filenames(value: Any, what: str = "filenames") -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ApiError(400, f"{what} must be a list of file names")
    return [check_filename(n) for n in value]


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
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


def bool_param(request: Request, name: str) -> bool:
    raw = (request.query_params.get(name) or "").lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ApiError(400, f"{name} must be true or false, got {raw!r}")


def multi(request: Request, name: str) -> list[str]:
    out = []
    for value in request.query_params.getlist(name):
        out += [v for v in value.split(",") if v]
    return out


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
