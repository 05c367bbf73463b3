"""What every command receives from the global options: where the library is, and its config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config, load_config
from ..engine.library import Library, default_library_path


@dataclass
class AppState:
    library_path: Path | None = None
    config_path: Path | None = None
    verbose: int = 0
    _config: Config | None = field(default=None, repr=False)
    _library: Library | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def library(self) -> Library:
        """Open (creating if needed) the library once per command."""
        if self._library is None:
            self._library = Library.open(self.library_path or default_library_path(), self.config)
        return self._library

    def close(self) -> None:
        if self._library is not None:
            self._library.close()
            self._library = None
