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
