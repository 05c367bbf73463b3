"""Shared fixtures: a fresh library per test, the CLI in-process and as a real subprocess.

Every test runs with HOME and the XDG folders under its tmp_path, so nothing touches the
user's real library, and with the test job types (tests/plugins/testjobs.py) registered
through the documented PHOTOJOBS_PLUGINS hook, which also reaches subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
PLUGINS = TESTS / "plugins"
if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
os.environ["PHOTOJOBS_PLUGINS"] = "testjobs"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))

from pg_fixtures import backend, parametrize_backends, pg_database  # noqa: E402,F401 - fixtures


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: runs on the SQLite catalog only (raw SQLite, the file)")
    config.addinivalue_line("markers", "both_backends: runs on SQLite and PostgreSQL (takes the backend fixture)")
    config.addinivalue_line("markers", "postgresql_only: runs on the PostgreSQL catalog only (takes the backend fixture)")
    config.addinivalue_line("markers", "both_backends: runs on SQLite and PostgreSQL (takes the backend fixture)")


def pytest_generate_tests(metafunc):
    parametrize_backends(metafunc)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state"),
                     ("XDG_RUNTIME_DIR", "run"), ("XDG_CACHE_HOME", "cache")):
        (home / sub).mkdir()
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.delenv("PHOTOJOBS_CONFIG", raising=False)
    monkeypatch.delenv("PHOTOJOBS_LIBRARY", raising=False)
    monkeypatch.delenv("PHOTOJOBS_DATABASE_URL", raising=False)   # the `backend` fixture sets it


@pytest.fixture
def library_path(tmp_path) -> Path:
    return tmp_path / "library"


@pytest.fixture
def make_config(tmp_path):
    """Write a config.json overlay and return its path."""
    def make(data: dict, name: str = "config.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(data))
        return path
    return make


@pytest.fixture
def open_library(library_path, backend):
    """Open a library (optionally with config overrides); closed at teardown."""
    from photojobs.config import load_config
    from photojobs.library import Library
    opened = []

    def open_(overrides: dict | None = None, path: Path | None = None, **kw):
        lib = Library.open(path or library_path, load_config(overrides=overrides), **kw)
        opened.append(lib)
        return lib
    yield open_
    for lib in opened:
        lib.close()


@pytest.fixture
def lib(open_library):
    return open_library()


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"CliResult(code={self.code}, out={self.out[-2000:]!r}, err={self.err[-2000:]!r})"


@pytest.fixture
def cli(library_path, capsys):
    """Run `photojobs --library <tmp> ARGS...` in this process; returns code, stdout, stderr."""
    from photojobs.cli import main

    def run(*args: str, library: Path | None = None) -> CliResult:
        capsys.readouterr()
        code = main(["--library", str(library or library_path), *map(str, args)])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)
    return run


@pytest.fixture
def cli_proc(library_path):
    """Run the real `python -m photojobs` as a subprocess."""
    def run(*args: str, library: Path | None = None, timeout: float = 120, env: dict | None = None,
            input: str | None = None) -> CliResult:
        proc = subprocess.run([sys.executable, "-m", "photojobs", "--library", str(library or library_path),
                               *map(str, args)], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})}, input=input)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)
    return run
