"""HTTP routes of a photo's files by basename: thumbnail, preview and image, with ETag/Last-Modified revalidation."""

from __future__ import annotations

import mimetypes
import os
from email.utils import parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..errors import NotFound
from ..photos import derivatives
from .params import check_filename, daemon, in_thread, project_of

# Derivatives change under the same URL when remade: let a browser keep them briefly, then revalidate.
CACHE_CONTROL = "private, max-age=60"


def _not_modified(request: Request, etag: str, mtime: float) -> bool:
    """The browser's copy is current: its If-None-Match names our ETag (weak or strong), or
    without one, its If-Modified-Since is not older than the file."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return int(mtime) <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False
    return False


def _route(kind: str):
    async def serve(request: Request) -> Response:
        name = check_filename(request.path_params["filename"])
        project = await project_of(request)
        path = await in_thread(derivatives.asset_path, daemon(request).lib, project["id"], name, kind)
        try:
            st = await in_thread(os.stat, path)
        except FileNotFoundError:
            raise NotFound(f"the {kind} of {name} is not on disk") from None
        response = FileResponse(path, stat_result=st, headers={"cache-control": CACHE_CONTROL},
                                media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        if _not_modified(request, response.headers["etag"], st.st_mtime):
            return Response(status_code=304, headers={k: response.headers[k] for k in ("etag", "cache-control")})
        return response
    serve.__name__ = f"serve_{kind}"
    return serve


ROUTES = [Route(f"/api/projects/{{folder}}/{kind}/{{filename}}", _route(kind)) for kind in derivatives.ASSET_KINDS]
