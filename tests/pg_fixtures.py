"""PostgreSQL for the tests: a fresh database per test module on the test server, and the
`backend` fixture that the library fixtures honour.

A module runs its tests on both backends by saying `BACKENDS = ("sqlite", "postgresql")`; a
test in it that needs SQLite itself (raw PRAGMAs, the file) says `@pytest.mark.sqlite_only`.
In a module that stays on SQLite, one representative test of a flow runs on both by saying
`@pytest.mark.both_backends` and taking the `backend` fixture (so the suite does not double);
`@pytest.mark.postgresql_only` is for what only PostgreSQL does (LISTEN/NOTIFY).
The server is PHOTOJOBS_TEST_DATABASE_URL (default the local test server); when it cannot be
reached the PostgreSQL tests skip with one line, or fail when PHOTOJOBS_REQUIRE_POSTGRES=1."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

TEST_SERVER_URL = os.environ.get("PHOTOJOBS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
BOTH = ("sqlite", "postgresql")


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def admin_connection():
    """An autocommit session on the test server's own database, or a skip/fail saying why not."""
    import psycopg
    try:
        return psycopg.connect(TEST_SERVER_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        reason = f"PostgreSQL test server {urlsplit(TEST_SERVER_URL).netloc} unreachable: " \
                 f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
        if os.environ.get("PHOTOJOBS_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def pg_database():
    """The URL of a fresh, empty database for this test module (dropped at its end)."""
    admin = admin_connection()
    name = f"pj_{uuid.uuid4().hex[:16]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(TEST_SERVER_URL, name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def empty_tables(url: str) -> None:
    """Every catalog table emptied, ids restarting (the schema and its migrations stay)."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'")]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


@pytest.fixture
def backend(request, monkeypatch) -> str:
    """"sqlite" or "postgresql": the catalog the library fixtures open. PostgreSQL: the module's
    database, emptied for this test, named in PHOTOJOBS_DATABASE_URL (subprocesses inherit it)."""
    which = getattr(request, "param", "sqlite")
    if which == "postgresql":
        url = request.getfixturevalue("pg_database")
        empty_tables(url)
        monkeypatch.setenv("PHOTOJOBS_DATABASE_URL", url)
    else:
        monkeypatch.delenv("PHOTOJOBS_DATABASE_URL", raising=False)
    return which


def parametrize_backends(metafunc) -> None:
    """pytest_generate_tests: a module's BACKENDS (or a test's both_backends mark) run every
    test using `backend` on each."""
    backends = getattr(metafunc.module, "BACKENDS", None)
    if metafunc.definition.get_closest_marker("both_backends"):
        backends = BOTH
    if not backends or "backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("sqlite_only"):
        backends = ("sqlite",)
    if metafunc.definition.get_closest_marker("postgresql_only"):
        backends = ("postgresql",)
    metafunc.parametrize("backend", backends, indirect=True)
