"""Job handlers, registered under stable type names (never by Python import path).

The engine knows no job type of its own: the built-in ones (the photo domain's, one
module per job type) register through the `photojobs.handlers` entry-point group declared
in pyproject.toml, like any installed plugin, so every runner process finds them. Tests
and benchmarks add their own handlers through a documented hook that also reaches runner
subprocesses: the environment variable PHOTOJOBS_PLUGINS (comma-separated module names,
imported after the entry points when the registry loads, so they may replace a built-in
type). Whatever else the domain defines for the engine (task chains, schedules, chores,
what an item event says of its item) it registers while those modules are imported, so
`load()` makes it all known, in every process alike.
"""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable

from ..errors import UnknownJobType
from ..storage import Connection, Row

if TYPE_CHECKING:
    from ..library import Library
    from .context import JobContext


@dataclass(frozen=True)
class HandlerSpec:
    type: str
    run: Callable[["JobContext"], None]
    priority: int = 50            # default priority when the enqueuer gives none
    unique: bool = False          # one queued job per (project, type) at most
    needs_project: bool = True


_HANDLERS: dict[str, HandlerSpec] = {}
_ITEM_DESCRIBER: list[Callable[..., dict[str, Any]]] = []
_loaded = False
_load_lock = threading.RLock()  # re-entrant: a plugin may look up handlers while it is imported


def handler(type: str, *, priority: int = 50, unique: bool = False, needs_project: bool = True):
    """Decorator: register `fn(ctx)` as the handler of job `type`."""
    def register(fn: Callable[["JobContext"], None]) -> Callable[["JobContext"], None]:
        _HANDLERS[type] = HandlerSpec(type, fn, priority, unique, needs_project)
        return fn
    return register


def item_describer(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Decorator: `fn(lib, conn, item, subject_id)` returns what an item event tells of the
    item's subject as it is now (merged over the engine's keys; the last one registered wins).
    `subject_id` is the catalog row the item stands for (the job_items.photo_id), or None."""
    _ITEM_DESCRIBER[:] = [fn]
    return fn


def describe_item(lib: "Library", conn: Connection, item: Row | dict,
                  subject_id: int | None) -> dict[str, Any]:
    """The registered describer's keys for an item event ({} when the domain registered none)."""
    load()
    return _ITEM_DESCRIBER[0](lib, conn, item, subject_id) if _ITEM_DESCRIBER else {}


def load() -> None:
    """Import the built-in job types and the plugins once per process (each registers itself)."""
    global _loaded
    if _loaded:
        return
    # Lane threads look up handlers concurrently: nobody may see a half-filled registry.
    with _load_lock:
        if _loaded:
            return
        # Built-in job types come through the entry-point group like any installed plugin's;
        # PHOTOJOBS_PLUGINS load after them, so a test may replace one.
        for ep in entry_points(group="photojobs.handlers"):
            ep.load()
        for name in filter(None, (n.strip() for n in os.environ.get("PHOTOJOBS_PLUGINS", "").split(","))):
            importlib.import_module(name)
        _loaded = True


def get(type: str) -> HandlerSpec:
    load()
    spec = _HANDLERS.get(type)
    if spec is None:
        raise UnknownJobType(type)
    return spec


def known_types() -> list[str]:
    load()
    return sorted(_HANDLERS)
