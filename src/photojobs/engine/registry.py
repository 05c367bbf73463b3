"""Job handlers, registered under stable type names (never by Python import path).

The engine knows no job type of its own: the built-in ones (the photo domain's, one
module per job type) register through the `photojobs.handlers` entry-point group declared
in pyproject.toml, like any installed plugin, so every runner process finds them. Tests
and benchmarks add their own handlers through a documented hook that also reaches runner
subprocesses: the environment variable PHOTOJOBS_PLUGINS (comma-separated module names,
imported after the entry points when the registry loads, so they may replace a built-in
type). A plugin may also replace the function the derivative workers run
(`derivative_maker`).
"""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Callable

from ..errors import UnknownJobType

if TYPE_CHECKING:
    from .context import JobContext

# Job types that a user may enqueue (the seed's, plus file_removal for commit).
USER_TYPES = ("generate_derivatives", "upload_postprocess", "trash_maintenance", "manifest_check",
              "folder_check", "manifest_cleaning", "file_removal")
# Maintenance types are unique per (project, type) while queued.
MAINTENANCE_TYPES = ("trash_maintenance", "manifest_check", "folder_check", "manifest_cleaning")


@dataclass(frozen=True)
class HandlerSpec:
    type: str
    run: Callable[["JobContext"], None]
    priority: int = 50            # default priority when the enqueuer gives none
    unique: bool = False          # one queued job per (project, type) at most
    needs_project: bool = True


_HANDLERS: dict[str, HandlerSpec] = {}
_DERIVATIVE_MAKER: list[Callable[..., dict]] = []   # the one a plugin registered, if any
_loaded = False
_load_lock = threading.RLock()  # re-entrant: a plugin may look up handlers while it is imported


def handler(type: str, *, priority: int = 50, unique: bool = False, needs_project: bool = True):
    """Decorator: register `fn(ctx)` as the handler of job `type`."""
    def register(fn: Callable[["JobContext"], None]) -> Callable[["JobContext"], None]:
        _HANDLERS[type] = HandlerSpec(type, fn, priority, unique, needs_project)
        return fn
    return register


def derivative_maker(fn: Callable[..., dict]) -> Callable[..., dict]:
    """Decorator: derivative workers call `fn(source, thumb_out, preview_out, settings)` instead of
    imaging.make_derivatives (say, to wrap it with a decoder for a format Pillow lacks); the last
    one registered wins. Workers are other processes: `fn` must be a module-level function, which
    they import by name."""
    _DERIVATIVE_MAKER[:] = [fn]
    return fn


def get_derivative_maker() -> Callable[..., dict]:
    """What the derivative workers run: a plugin's derivative_maker, else imaging.make_derivatives."""
    _load()
    if _DERIVATIVE_MAKER:
        return _DERIVATIVE_MAKER[0]
    from ..photos.imaging import make_derivatives
    return make_derivatives


def _load() -> None:
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
    _load()
    spec = _HANDLERS.get(type)
    if spec is None:
        raise UnknownJobType(type)
    return spec


def known_types() -> list[str]:
    _load()
    return sorted(_HANDLERS)
