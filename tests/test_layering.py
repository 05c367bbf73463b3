"""The layering of README "Layout" holds: the import-linter contracts in pyproject.toml are kept."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "lint-imports is missing: install the test extra (pip install -e '.[test]')"
    out = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout, out.stdout


def test_the_engine_names_no_job_type_or_task_of_the_photo_domain():
    """The engine knows job types and tasks only by what the domain registers: no photo type or
    task name appears in its source as a string."""
    import ast

    from photojobs.engine import tasks
    from photojobs.photos.jobs import USER_TYPES
    names = set(USER_TYPES) | set(tasks.definitions())
    named = []
    for path in sorted((ROOT / "src" / "photojobs" / "engine").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                named.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert "change_commit" in names and not named, named


# What a command needs only on another catalog, with a daemon, or for another command; and pydantic,
# which typer 0.29 loads to check every option (+120 ms on each command line: pyproject pins below it).
_NOT_NEEDED_ON_SQLITE_WITHOUT_A_DAEMON = ("psycopg", "httpx", "rich.progress", "photojobs.daemon.client",
                                          "photojobs.cli.catalog", "photojobs.cli.daemon", "photojobs.cli.jobs",
                                          "pydantic")


def test_a_command_imports_what_it_uses_only(library_path, tmp_path):
    """A command line loads the module of its own command, not the others': an upload into a SQLite
    library with no daemon (processing here, no terminal for progress bars) and `project list` run
    without the PostgreSQL driver, the HTTP client or rich's progress display."""
    from photo_fixtures import shoot
    card = tmp_path / "card"
    shoot(card, "DSC0001", raw=False)
    probe = ("import sys\n"
             "from photojobs.cli import main\n"
             "code = main(sys.argv[1:])\n"
             f"loaded = [m for m in {_NOT_NEEDED_ON_SQLITE_WITHOUT_A_DAEMON!r} if m in sys.modules]\n"
             "print('PROBE', code, loaded, file=sys.stderr)\n")
    for args, done in ((["upload", str(card), "--project", "Shoot", "--json"], '"status": "completed"'),
                       (["project", "list", "--json"], '"Shoot"')):
        proc = subprocess.run([sys.executable, "-c", probe, "--library", str(library_path), *args],
                              capture_output=True, text=True, timeout=120)
        assert "PROBE 0 []" in proc.stderr, (args, proc.stderr[-3000:])
        assert done in proc.stdout, (args, proc.stdout[-3000:])


def test_the_console_script_imports_nothing_until_a_command_runs():
    """The `photojobs` script (`from photojobs.cli import main`) runs again in every derivative
    worker as it starts (forkserver and spawn re-run a script __main__): it must load nothing there."""
    probe = "import sys\nimport photojobs.cli\nprint(sorted(m for m in sys.modules if m.startswith(('photojobs', 'typer', 'rich'))))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "['photojobs', 'photojobs.cli']", out.stdout + out.stderr
