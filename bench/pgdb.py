"""A throwaway PostgreSQL database for one benchmark run: created from an admin URL, dropped after."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = os.environ.get("PHOTOJOBS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise SystemExit("the PostgreSQL benchmark needs psycopg: .venv/bin/pip install -e '.[test,bench]'") from None
    return psycopg


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead of its own."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def server_version(url: str) -> str:
    psycopg = _psycopg()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.OperationalError as exc:
        raise SystemExit(f"cannot reach PostgreSQL at {url}: {str(exc).strip().splitlines()[0]}") from None


@contextmanager
def fresh_database(admin_url: str, prefix: str) -> Iterator[str]:
    """Create an empty database (CREATE DATABASE through `admin_url`), yield its URL, drop it."""
    psycopg = _psycopg()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
