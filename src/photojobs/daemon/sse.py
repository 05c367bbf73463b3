"""Server-Sent Events fed from the durable event log: one ordered, gap-free, replayable sequence by event id.

A single hub thread follows the events table (woken at once by this process's commits, and
by PRAGMA data_version within poll_ms for other processes' commits, e.g. inline CLI runs),
keeps a window of recent events already rendered, and wakes the streams. Each stream keeps
its own cursor (the last event id it sent): it reads from the window when the window covers
its cursor and from the database otherwise (a client resuming from an old Last-Event-ID), so
what a client receives never depends on timing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from typing import AsyncIterator

import anyio

from ..engine import events as events_engine
from ..engine.queue import ITEM_EVENT, JOB_EVENT
from ..errors import StorageBusy
from ..timefmt import iso
from ..library import Library
from ..storage import Connection

log = logging.getLogger("photojobs.daemon.sse")

Rendered = tuple[int, "int | None", bytes]     # (event id, project id, SSE frame)
DB_BATCH = 500


def render(event: dict) -> Rendered:
    """One event as an SSE frame: the stored event data (the original's shapes), with `kind`
    saying what it is. Job updates have no `type` (a web client merges them into its job row,
    whose `type` is the job's); every other event's `type` is its kind unless it says otherwise."""
    data = dict(event["data"])
    data["kind"] = event["kind"]
    if event["kind"] == JOB_EVENT:
        data.pop("type", None)   # events stored before job updates lost their `type`
    else:
        data.setdefault("type", event["kind"])
    if event["kind"] == ITEM_EVENT:
        data.setdefault("updated_at", iso(event["created_at"]))
    data.setdefault("job_id", event["job_id"])          # the envelope travels with the payload
    data.setdefault("project_id", event["project_id"])
    data["event_id"] = event["id"]
    data["event_at"] = event["created_at"]  # when it happened, for rates and ETAs at the client
    body = json.dumps(data, separators=(",", ":"), default=str)
    return event["id"], event["project_id"], f"id: {event['id']}\ndata: {body}\n\n".encode()


class EventHub:
    """Follows the events table for every stream of this daemon."""

    def __init__(self, lib: Library, *, window: int = 4096):
        self.lib = lib
        self.window_size = window
        self._window: deque[Rendered] = deque()
        self._floor = 0               # the window holds every event with id > _floor up to last_id
        self.last_id = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Event] = set()
        self._thread: threading.Thread | None = None
        self._stop_listening = None
        self.streams: dict[str, int] = {}   # client address -> open streams

    # --- lifecycle (called from the event loop) ------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        conn = self.lib.catalog.new_connection()
        self.last_id = self._floor = events_engine.last_event_id(conn)
        self._thread = threading.Thread(target=self._follow, args=(conn,), name="sse-hub", daemon=True)
        self._thread.start()
        # Events other machines append: heard at once where the catalog notifies (PostgreSQL);
        # on SQLite the runner's data_version poll wakes the hub through the waker.
        self._stop_listening = self.lib.catalog.listen(lambda: self.lib.waker.notify(work=False),
                                                       self.lib.waker.notify)

    def close(self, *, wait: bool = True) -> None:
        """End every stream (the daemon is stopping); `wait=False` from a signal handler."""
        self._closed.set()
        if self._stop_listening is not None:
            stop, self._stop_listening = self._stop_listening, None
            stop() if wait else threading.Thread(target=stop, daemon=True).start()
        self.lib.waker.notify()
        self._wake_streams_threadsafe()
        if wait and self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # --- the follower thread --------------------------------------------------------------
    def _follow(self, conn: Connection) -> None:
        # The library's waker fires on every commit of this process and, through the runner's
        # data_version poll, on other processes' commits: no second poll of the catalog here.
        seen = -1
        try:
            while not self._closed.is_set():
                seen = self.lib.waker.wait(seen, 1.0)
                try:
                    self._read_new(conn)
                except StorageBusy as exc:  # a busy disk: try again on the next tick
                    log.warning("event follower delayed: %s", exc)
        finally:
            conn.close()

    def _read_new(self, conn: Connection) -> None:
        while True:
            batch = [render(e) for e in events_engine.read_after(conn, self.last_id, limit=DB_BATCH)]
            if not batch:
                return
            with self._lock:
                self._window.extend(batch)
                self.last_id = batch[-1][0]
                while len(self._window) > self.window_size:
                    self._floor = self._window.popleft()[0]
            self._wake_streams_threadsafe()

    def _wake_streams_threadsafe(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._wake_streams)
            except RuntimeError:  # the loop closed meanwhile
                pass

    def _wake_streams(self) -> None:
        for waiter in list(self._waiters):
            waiter.set()

    # --- for streams ----------------------------------------------------------------------
    def from_window(self, cursor: int) -> tuple[list[Rendered], int] | None:
        """Events after `cursor` and the new cursor, or None when the window no longer covers it."""
        with self._lock:
            if cursor >= self.last_id:
                return [], cursor
            if cursor < self._floor:
                return None
            out = [e for e in self._window if e[0] > cursor] if cursor > self._floor else list(self._window)
            return out, self.last_id

    def from_database(self, cursor: int) -> tuple[list[Rendered], int]:
        """Events after `cursor` read from the log (runs in a worker thread)."""
        batch = [render(e) for e in events_engine.read_after(self.lib.conn(), cursor, limit=DB_BATCH)]
        return batch, (batch[-1][0] if batch else cursor)

    async def wait(self, cursor: int, timeout: float) -> bool:
        """Sleep until an event after `cursor` exists or the hub closes (True), or `timeout` passes."""
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            deadline = time.monotonic() + timeout
            while not (self.last_id > cursor or self.closed):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                try:
                    await asyncio.wait_for(waiter.wait(), left)
                except asyncio.TimeoutError:
                    return self.last_id > cursor or self.closed
                waiter.clear()
            return True
        finally:
            self._waiters.discard(waiter)

    # --- caps ---------------------------------------------------------------------------
    def try_open(self, client: str, per_client: int, total: int) -> str | None:
        """Count a new stream of `client`; None if it may open, else why not. Both caps are
        needed: every address of 127.0.0.0/8 is this machine, so a per-address cap alone
        does not bound what one local program can open."""
        if sum(self.streams.values()) >= total:
            return f"too many event streams open (at most {total}, daemon.sse_max_streams)"
        if self.streams.get(client, 0) >= per_client:
            return f"too many event streams from {client} (at most {per_client})"
        self.streams[client] = self.streams.get(client, 0) + 1
        return None

    def release(self, client: str) -> None:
        n = self.streams.get(client, 0) - 1
        if n > 0:
            self.streams[client] = n
        else:
            self.streams.pop(client, None)


async def event_stream(hub: EventHub, cursor: int, *, project_id: int | None, keepalive: float,
                       idle_timeout: float) -> AsyncIterator[bytes]:
    """The frames of one stream: replay after `cursor`, then live; keep-alives; ends when idle
    (or when the daemon stops) with an `event: bye` saying why."""
    # The opening block names the starting point, so even a client that receives no event
    # before it reconnects resumes from here (Last-Event-ID) rather than from "now". Then the
    # original's greeting: a ping comment and a hello message (which has no id of its own, so
    # a browser's Last-Event-ID stays the starting point).
    hello = json.dumps({"type": "hello", "last_event_id": cursor}, separators=(",", ":"))
    yield f"retry: 1000\nid: {cursor}\n: photojobs event stream\n\n: ping\n\ndata: {hello}\n\n".encode()
    last_activity = time.monotonic()
    while True:
        if hub.closed:
            yield _bye("shutdown")
            return
        got = hub.from_window(cursor)
        if got is None:
            got = await anyio.to_thread.run_sync(hub.from_database, cursor)
        batch, cursor = got
        frames = [frame for _id, pid, frame in batch if project_id is None or pid == project_id]
        if frames:
            yield b"".join(frames)
            last_activity = time.monotonic()
        if batch:
            continue
        idle_left = idle_timeout - (time.monotonic() - last_activity)
        if idle_left <= 0:
            yield _bye("idle_timeout")
            return
        if not await hub.wait(cursor, min(keepalive, idle_left)):
            if time.monotonic() - last_activity >= idle_timeout:
                yield _bye("idle_timeout")
                return
            yield b": keep-alive\n\n"


def _bye(reason: str) -> bytes:
    """The original's last frame: a named event (not a message), so clients that only listen to
    messages never see it; a browser reconnects after it with Last-Event-ID as usual."""
    return f'event: bye\ndata: {{"reason":"{reason}"}}\n\n'.encode()
