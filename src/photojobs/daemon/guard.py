"""What a browser may do to the daemon: Host and Origin checks, JSON-only bodies, and CORS for allowed origins.

A web page on any site can make the user's browser send requests to 127.0.0.1. The browser
marks them: a cross-site request carries an `Origin` header, and a page reached through DNS
rebinding (evil.example resolving to 127.0.0.1) still sends `Host: evil.example:PORT`. So a
request whose Origin is not the daemon's own address or one the user allowed
(daemon.allowed_origins) is refused, and without a token so is a Host that is not the
daemon's own name. Scripts and the CLI send no Origin and are unaffected. Bodies must be
application/json: the types a page can send without asking first (text/plain, form encoding,
multipart) are refused, so no "simple" request acts. multipart/form-data is taken only by the
routes that upload files (POST to one of `multipart_paths`), which act on nothing else.
"""

from __future__ import annotations

from typing import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.routing import compile_path

from ..config import web_origin

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARDS = ("0.0.0.0", "::", "")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
JSON = "application/json"
MULTIPART = "multipart/form-data"
CORS_METHODS = "GET, POST, PUT, PATCH, DELETE"
CORS_HEADERS = "Authorization, Content-Type, Last-Event-ID"


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _has_body(headers: Headers) -> bool:
    if "transfer-encoding" in headers:
        return True
    length = headers.get("content-length", "0").strip()
    return not (length.isdigit() and int(length) == 0)


class RequestGuard:
    """ASGI middleware in front of everything else (the token check included: a CORS preflight
    carries no Authorization header)."""

    def __init__(self, app, *, host: str, port: int, allowed_origins: Iterable[str] = (),
                 check_host: bool = True, multipart_paths: Iterable[str] = ()):
        self.app = app
        # Route paths as Starlette writes them ("/api/projects/{folder}/upload"), matched as it does.
        self.multipart_paths = [compile_path(p)[0] for p in multipart_paths]
        names = {*LOOPBACK_NAMES}
        if host not in WILDCARDS:
            names.add(_bracketed(host).lower())
        # A browser leaves the default port out of Host and Origin.
        self.hosts = {f"{n}:{port}" for n in names} | (names if port == 80 else set())
        self.own_origins = {f"http://{h}" for h in self.hosts}
        self.cors_origins = {o for o in map(web_origin, allowed_origins) if o}
        self.check_host = check_host

    def _takes_multipart(self, method: str, path: str) -> bool:
        return method == "POST" and any(regex.match(path) for regex in self.multipart_paths)

    def refusal(self, method: str, path: str, headers: Headers, origin: str | None) -> tuple[int, str] | None:
        """(status, message) when the request must not reach the API, else None."""
        if origin is not None and origin not in self.own_origins and origin not in self.cors_origins:
            return 403, (f"requests from the web page at {headers['origin']} are refused; to let a web client "
                         "served there use the daemon, add its origin to daemon.allowed_origins")
        host = headers.get("host")
        # No Host at all is no browser (every browser sends one): only a page can be rebound.
        if self.check_host and host is not None and host.lower() not in self.hosts:
            return 403, (f"Host {host!r} is not this daemon's address; use "
                         f"{sorted(self.own_origins)[0]} (a web page reaching the daemon under "
                         "another name is refused)")
        if method not in SAFE_METHODS:
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            allowed = (JSON, MULTIPART) if self._takes_multipart(method, path) else (JSON,)
            if (content_type and content_type not in allowed) or (not content_type and _has_body(headers)):
                return 415, ("send the request body as JSON with 'Content-Type: application/json' "
                             f"(got {content_type or 'no Content-Type'})")
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        raw_origin = headers.get("origin")
        origin = web_origin(raw_origin) if raw_origin is not None else None
        if raw_origin is not None and origin is None:
            origin = raw_origin  # "null" and other non-origins: never allowed
        cors = {"Access-Control-Allow-Origin": raw_origin, "Vary": "Origin"} \
            if origin in self.cors_origins else {}
        refused = self.refusal(scope["method"], scope["path"], headers, origin)
        if refused is not None:
            status, message = refused
            await JSONResponse({"error": message}, status_code=status, headers=cors)(scope, receive, send)
            return
        if cors and scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            preflight = {**cors, "Access-Control-Allow-Methods": CORS_METHODS,
                         "Access-Control-Allow-Headers": CORS_HEADERS, "Access-Control-Max-Age": "600"}
            if headers.get("access-control-request-private-network") == "true":
                preflight["Access-Control-Allow-Private-Network"] = "true"
            await Response(status_code=204, headers=preflight)(scope, receive, send)
            return
        if not cors:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in cors.items():
                    out.append(name, value)
            await send(message)
        await self.app(scope, receive, send_with_cors)
