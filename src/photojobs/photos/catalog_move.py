"""Moving a library's catalog into another database (`photojobs catalog migrate --to URL`).

Typically a SQLite catalog into PostgreSQL, so that several machines share one library; or a
SQLite catalog into another file. Everything moves in one transaction, ids kept: projects,
photos and their keep flags, jobs and their items, events, schedule runs, settings (the library
id, pause flags) and the files that are not photos. Records of this host's running imports
(open feeds) stay behind: they name processes that are not the target's. The source catalog
is left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from photojobs.engine.feed import PREFIX as FEED_PREFIX
from photojobs.errors import PhotojobsError
from photojobs.library import Library
from photojobs.storage import transfer


@dataclass
class MoveReport:
    target: str                       # the target, its password hidden
    counts: dict[str, int] = field(default_factory=dict)
    left_behind: dict[str, int] = field(default_factory=dict)
    config_line: str | None = None    # what to put in config to use the target
    advice: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "counts": self.counts, "left_behind": self.left_behind,
                "config_line": self.config_line, "advice": self.advice}


def migrate_catalog(lib: Library, url: str) -> MoveReport:
    """Copy `lib`'s catalog into the (empty) catalog `url` names: a postgresql:// URL, a
    sqlite:///abs/path URL or a plain file path. Refused, with nothing copied, when the target
    holds projects, photos or jobs, or is this library's own catalog."""
    url = url.strip()
    if not url:
        raise PhotojobsError("--to names no catalog (a postgresql:// URL, or a SQLite file)")
    if not transfer.is_postgresql(url):
        path = transfer.sqlite_target_path(url)
        own = lib.catalog.path   # None on a server
        if own is not None and path.exists() and path.resolve() == own.resolve():
            raise PhotojobsError(f"{path} is this library's own catalog; nothing was copied")
    target = transfer.open_target(url, lib.config.pipeline.busy_timeout_ms)
    try:
        copied = transfer.copy_catalog(lib.catalog, target, skip_settings=(FEED_PREFIX,))
    finally:
        target.close()
    report = MoveReport(transfer.shown(url), copied.counts, copied.skipped)
    if transfer.is_postgresql(url):
        report.config_line = f'"catalog": {{"url": "{url}"}}'
        report.advice = ("to use it, put this in the config file of every machine (or set "
                         "PHOTOJOBS_DATABASE_URL), and stop using the old catalog")
    else:
        report.advice = (f"a SQLite catalog is used from inside its library: it is LIBRARY/.photojobs/catalog.db "
                         f"of the library folder it belongs to (library {lib.library_id})")
    return report
