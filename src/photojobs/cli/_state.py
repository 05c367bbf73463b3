"""What every command receives from the global options: where the library is, and its config."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config, load_config
from ..library import Library, default_library_path


@dataclass
class AppState:
    library_path: Path | None = None
    config_path: Path | None = None
    verbose: int = 0
    quiet: bool = False
    _config: Config | None = field(default=None, repr=False)
    _library: Library | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def library_root(self) -> Path:
        """The library's folder, for commands that must not open its catalog (catalog check/rebuild)."""
        return (self.library_path or default_library_path()).expanduser()

    def library(self, *, create: bool = False) -> Library:
        """Open the library once per command. Only commands that add to it create one at a
        path the user named (--library, $PHOTOJOBS_LIBRARY): a typo, a card or an unmounted
        drive's mount point must not quietly become a library. The default one is ours to make."""
        if self._library is None:
            path = self.library_path or default_library_path()
            explicit = self.library_path is not None or "PHOTOJOBS_LIBRARY" in os.environ
            self._library = Library.open(path, self.config, create=create or not explicit)
            from ._render import note
            self._library.on_note = note
        return self._library

    def close(self) -> None:
        if self._library is not None:
            self._library.close()
            self._library = None


def current_state():
    """The running command's AppState (global options), from the root context, so callers that
    only hold the library need not pass it. Typer >= 0.20 carries its own copy of click."""
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # an older Typer on plain click
        from click import get_current_context
    ctx = get_current_context(silent=True)
    return ctx.find_root().obj if ctx is not None else None
