"""A small httpx client for the daemon: find it alive for a library, call its API, follow its event stream."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx

from ..config import Config
from ..errors import NotFound, PhotojobsError
from . import state


class DaemonUnreachable(PhotojobsError):
    """The daemon did not answer, or its connection broke (a transport error, not an answer)."""


@dataclass
class SseEvent:
    id: int | None
    event: str
    data: Any            # the decoded JSON payload (the raw text when it is not JSON)

    @property
    def logged(self) -> bool:
        """An event of the catalog's event log (it has a `kind`), not the greeting or a goodbye."""
        return self.event == "message" and isinstance(self.data, dict) and "kind" in self.data


class SseParser:
    """text/event-stream parsing. `last_id` follows every `id:` field, as a browser's lastEventId
    does, including the id-only block the daemon sends first (the stream's starting point)."""

    def __init__(self) -> None:
        self.last_id: int | None = None

    def parse(self, lines: Iterator[str]) -> Iterator[SseEvent | None]:
        """Yields an SseEvent per dispatched event and None per comment or data-less block."""
        data: list[str] = []
        event = "message"
        for line in lines:
            if line == "":
                if data:
                    text = "\n".join(data)
                    try:
                        payload = json.loads(text)
                    except ValueError:
                        payload = text
                    yield SseEvent(self.last_id, event, payload)
                else:
                    yield None
                data, event = [], "message"
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "id" and value.isdigit():
                self.last_id = int(value)
            elif name == "event":
                event = value


class DaemonClient:
    """Calls one daemon; every error answer becomes a PhotojobsError with the server's message."""

    def __init__(self, url: str, token: str = "", *, timeout: float = 30.0):
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, trust_env=False)
        # The library this daemon serves, once find_daemon found it: `follow` finds a
        # restarted daemon of the same library through it.
        self.found_for: tuple[Path, Config] | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "DaemonClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                message = response.json().get("error") or response.text
            except ValueError:
                message = response.text
            err = NotFound(message) if response.status_code == 404 else PhotojobsError(message)
            err.http_status = response.status_code
            raise err
        return response.json()

    def health(self, timeout: float | None = None) -> dict:
        return self._check(self.http.get("/api/health", timeout=timeout or self.http.timeout))

    def events(self, *, after: int | None = None, project: str | None = None,
               read_timeout: float | None = None) -> "EventStream":
        """Open the event stream (replaying after `after`); use as a context manager and iterate."""
        return EventStream(self, after=after, project=project, read_timeout=read_timeout)

    def follow(self, cursor: int | None = None, *, project: str | None = None,
               should_stop: Callable[[], bool] = lambda: False,
               on_resume: Callable[[int | None], None] | None = None) -> "Following":
        """The library's events after `cursor` (None: from now on), for as long as a daemon
        serves them; see Following. `on_resume(cursor)` is told of each reconnection."""
        return Following(self, cursor, project=project, should_stop=should_stop, on_resume=on_resume)


class Following:
    """Iterate for the logged events (SseEvent) after a cursor, and None each time the stream
    (re)connects or idles: a moment for the caller to look at the catalog itself.

    A dropped stream (idle timeout, a network hiccup, a refusal such as 429) is reopened with
    Last-Event-ID = `cursor`, from a restarted daemon of the same library too, so nothing is
    lost or repeated; transport errors never escape. Iteration ends when no daemon serves the
    library any more (or `should_stop()`): the caller takes over from `cursor`."""

    RETRY_SECONDS = 0.25   # after a refused or broken stream: not a tight loop against the daemon

    def __init__(self, client: DaemonClient, cursor: int | None, *, project: str | None,
                 should_stop: Callable[[], bool], on_resume: Callable[[int | None], None] | None = None):
        self.client = client
        self.cursor = cursor
        self.project = project
        self.should_stop = should_stop
        self.on_resume = on_resume

    def __iter__(self) -> Iterator[SseEvent | None]:
        while not self.should_stop():
            failed = False
            try:
                with self.client.events(after=self.cursor, project=self.project,
                                        read_timeout=self._read_timeout()) as stream:
                    for ev in stream:
                        if self.should_stop():
                            return
                        self.cursor = stream.last_id
                        yield ev if ev is None or ev.logged else None
            except PhotojobsError:
                failed = True
            if self.should_stop() or not self._reconnect():
                return
            if failed:
                time.sleep(self.RETRY_SECONDS)
            if self.on_resume is not None:
                self.on_resume(self.cursor)

    def _read_timeout(self) -> float:
        # The daemon sends a keep-alive at least this often: silence for three means it is gone.
        found = self.client.found_for
        keepalive = float(found[1].get("daemon.sse_keepalive_seconds")) if found else 10.0
        return max(30.0, 3 * keepalive)

    def _reconnect(self) -> bool:
        """Point the client at the library's live daemon (the same one, or its successor)."""
        if self.client.found_for is None:
            return False
        found = find_daemon(*self.client.found_for)
        if found is None:
            return False
        fresh = found[1]
        self.client.http.close()
        self.client.url, self.client.http = fresh.url, fresh.http
        return True


class EventStream:
    """An open /api/jobs/stream: iterate for SseEvent (None for keep-alives and the opening block);
    `last_id` is where to resume."""

    def __init__(self, client: DaemonClient, *, after: int | None, project: str | None,
                 read_timeout: float | None):
        headers = {"Last-Event-ID": str(after)} if after is not None else {}
        params = {"project": project} if project else {}
        timeout = httpx.Timeout(10.0, read=read_timeout)
        self._cm = client.http.stream("GET", "/api/jobs/stream", headers=headers, params=params, timeout=timeout)
        self.response: httpx.Response | None = None
        self.last_id = after
        self._events: Iterator[SseEvent | None] | None = None

    def __enter__(self) -> "EventStream":
        try:
            self.response = self._cm.__enter__()
        except httpx.HTTPError as exc:
            raise DaemonUnreachable(f"the daemon's event stream could not be opened: {exc}") from exc
        if self.response.status_code >= 400:
            self.response.read()
            status = self.response.status_code
            self._cm.__exit__(None, None, None)
            try:
                message = self.response.json().get("error")
            except ValueError:
                message = self.response.text
            err = PhotojobsError(message or f"HTTP {status}")
            err.http_status = status
            raise err
        return self

    def __exit__(self, *exc) -> None:
        self._cm.__exit__(*exc)

    def __iter__(self) -> Iterator[SseEvent | None]:
        # One generator per stream, so iterating again (after a break) continues where it stopped.
        if self._events is None:
            self._events = self._generate()
        return self._events

    def _generate(self) -> Iterator[SseEvent | None]:
        assert self.response is not None, "use the stream as a context manager"
        parser = SseParser()
        try:
            for ev in parser.parse(self.response.iter_lines()):
                if parser.last_id is not None:
                    self.last_id = parser.last_id
                yield ev
        except httpx.HTTPError as exc:
            raise DaemonUnreachable(f"the daemon's event stream broke off: {exc}") from exc


def find_daemon(root: Path, config: Config, *, timeout: float = 2.0) -> tuple[dict, DaemonClient] | None:
    """The live daemon of this library and a client for it, or None (a dead one's record is cleaned).

    Alive means: its recorded process exists and /api/health answers for this very library."""
    info = state.live_record(root)
    if info is None:
        return None
    client = DaemonClient(info["url"], config.get("daemon.token") or "")
    try:
        health = client.health(timeout=timeout)
    except (httpx.HTTPError, PhotojobsError):
        client.close()
        return None
    client.found_for = (Path(root), config)
    if health.get("pid") != info["pid"] or Path(health.get("library", "")).resolve() != Path(root).resolve() \
            or health.get("stopping"):
        client.close()
        return None
    return {**info, "health": health}, client
