"""Pausing and resuming the queue's lanes: durable flags in settings that every runner's claim honours."""

from __future__ import annotations

import json
from typing import Iterable

from ..errors import PhotojobsError
from ..library import Library
from ..storage import Connection, atomic
from ..storage.repos import settings as settings_repo
from .events import emit
from .lanes import LANES, PAUSE_ALL_KEY as ALL_KEY, PAUSE_PREFIX
from .lanes import pause_key as _key

PAUSE_EVENT = "pause"


def _check_lane(lane: str | None) -> None:
    if lane is not None and lane not in LANES:
        raise PhotojobsError(f"unknown lane: {lane} (use {' or '.join(LANES)})")


def paused_state(conn: Connection) -> dict:
    """{"all": bool, "lanes": {"priority": bool, "normal": bool}, "any": bool, "since": {lane|"all": ts}}.

    A lane counts as paused when its own flag or the `all` flag is set. This is the shape that
    the CLI, `jobs watch` and GET /api/health show."""
    flags = settings_repo.with_prefix(conn, PAUSE_PREFIX)
    since: dict[str, float] = {}
    for key, value in flags.items():
        try:
            since[key.removeprefix(PAUSE_PREFIX)] = float(json.loads(value).get("since"))
        except (ValueError, TypeError, AttributeError):
            pass  # a hand-edited flag still pauses; it just has no date
    all_paused = ALL_KEY in flags
    lanes = {lane: all_paused or _key(lane) in flags for lane in LANES}
    return {"all": all_paused, "lanes": lanes, "any": any(lanes.values()), "since": since}


def state(lib: Library) -> dict:
    return paused_state(lib.conn())


def pause(lib: Library, lane: str | None = None, *, source: str = "cli") -> dict:
    """Stop claiming new jobs in `lane` (both lanes when None). Running jobs finish; returns the new state."""
    _check_lane(lane)
    keys = [ALL_KEY] if lane is None else [_key(lane)]
    return _change(lib, set_keys=keys, clear_keys=[], source=source, action="pause", lane=lane)


def resume(lib: Library, lane: str | None = None, *, source: str = "cli") -> dict:
    """Let `lane` (both lanes when None) claim jobs again; returns the new state.

    Resuming one lane while everything is paused keeps the other lane paused."""
    _check_lane(lane)
    conn = lib.conn()
    with atomic(conn):
        flags = settings_repo.with_prefix(conn, PAUSE_PREFIX)
        if lane is None:
            clear, keep = [ALL_KEY, *(_key(l) for l in LANES)], []
        else:
            clear = [_key(lane)]
            # "pause all" then "resume --lane priority" means: only the normal lane stays paused.
            keep = [_key(l) for l in LANES if l != lane] if ALL_KEY in flags else []
            if keep:
                clear.append(ALL_KEY)
        return _change(lib, set_keys=keep, clear_keys=clear, source=source, action="resume", lane=lane)


def _change(lib: Library, *, set_keys: Iterable[str], clear_keys: Iterable[str], source: str, action: str,
            lane: str | None) -> dict:
    conn = lib.conn()
    with atomic(conn):
        before = paused_state(conn)
        now = lib.now()
        flags = settings_repo.with_prefix(conn, PAUSE_PREFIX)
        for key in set_keys:
            if key not in flags:  # keep the original date of a pause that is already on
                settings_repo.put(conn, key, json.dumps({"since": now, "source": source}), now)
        for key in clear_keys:
            settings_repo.delete(conn, key)
        after = paused_state(conn)
        if after["lanes"] != before["lanes"] or after["all"] != before["all"]:
            # One event per real change: runners in other processes wake on the commit, and
            # `jobs watch` / SSE clients see the new state without polling the settings table.
            emit(lib, conn, PAUSE_EVENT, {"type": "pause", "action": action, "lane": lane or "all",
                                          "source": source, "paused": after})
    return after
