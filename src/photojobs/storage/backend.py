"""Choosing the catalog's backend: a PostgreSQL server when a URL is given, else the SQLite file."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError
from .db import Catalog

URL_ENV = "PHOTOJOBS_DATABASE_URL"
_SCHEMES = ("postgresql://", "postgres://")


def catalog_url(configured: str | None) -> str | None:
    """The catalog URL in force: PHOTOJOBS_DATABASE_URL, else the configured `catalog.url`;
    None (the SQLite file in the library) when both are empty."""
    url = os.environ.get(URL_ENV) or configured or ""
    return url.strip() or None


def open_catalog(url: str | None, sqlite_path: Path, busy_timeout_ms: int, *, synchronous_commit: str = "off"):
    """The catalog: PostgreSQL at `url` (postgresql://...), or the SQLite file at `sqlite_path`
    when `url` is empty. Connections are opened lazily, per thread. `synchronous_commit` (PostgreSQL
    only): "off", the durability of SQLite's WAL with synchronous=NORMAL, or "on"."""
    if not url:
        return Catalog(sqlite_path, busy_timeout_ms)
    if not url.startswith(_SCHEMES):
        raise ConfigError(f"catalog.url must be a postgresql:// URL (or empty for the SQLite catalog "
                          f"in the library), not {url.split('://')[0] + '://...' if '://' in url else url!r}")
    from .postgres import PgCatalog
    return PgCatalog(url, busy_timeout_ms, synchronous_commit=synchronous_commit)


def redacted(url: str) -> str:
    """The URL without its password, fit for a message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the catalog server"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
