"""Waking a running daemon the moment a CLI process has queued work for it.

Uses the standard library's http.client, which imports in a few milliseconds: the CLI sends
this before it loads httpx (over 100 ms) to check on the daemon and follow its events, so the
daemon is already running the job by then."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit


def poke(url: str, token: str = "", *, timeout: float = 0.5) -> bool:
    """POST /api/wake to the daemon at `url`; False if nobody answered (no harm done)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    headers = {"Content-Length": "0"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("POST", "/api/wake", headers=headers)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()
