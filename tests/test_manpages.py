"""The man pages name every command and option of the real CLI (regenerate: python man/generate.py)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import typer

from photojobs.cli import _manpage, app

ROOT = Path(__file__).resolve().parent.parent
MAN_DIR = ROOT / "man"                                    # what `man -l man/photojobs.1` reads
PACKAGED = Path(resources.files("photojobs")) / "man"     # the copy installed with the package
HINT = "the man pages are out of date: run `python man/generate.py` and commit man/ and src/photojobs/man/"


def generator():
    """man/generate.py, the one generator, loaded as a module."""
    spec = importlib.util.spec_from_file_location("man_generate", MAN_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def real_commands():
    """(path, command) for every visible command of the Typer app, walked independently of the generator."""
    out = []

    def walk(cmd, path):
        out.append((path, cmd))
        for name, child in (getattr(cmd, "commands", None) or {}).items():
            if not getattr(child, "hidden", False):
                walk(child, [*path, name])
    walk(typer.main.get_command(app), [])
    return out


def flags_of(cmd):
    for p in cmd.params:
        if getattr(p, "hidden", False) or p.name == "help":
            continue
        if type(p).__name__.endswith("Argument"):
            yield p.name.upper(), "argument"
        else:
            for flag in [*p.opts, *p.secondary_opts]:
                yield flag, "option"


def unroff(text: str) -> str:
    return re.sub(r"\\f[BIRP]", "", text).replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")


def sections(page: str) -> dict[str, str]:
    """Command sections of a page: `photojobs jobs watch` -> its text up to the next section."""
    out, name, buf = {}, None, []
    for line in page.splitlines():
        m = re.match(r'^\.S[SH] "?(.*?)"?$', line)
        if m:
            if name is not None:
                out[name] = "\n".join(buf)
            name, buf = unroff(m.group(1)), []
        else:
            buf.append(line)
    if name is not None:
        out[name] = "\n".join(buf)
    return out


def read(name: str) -> str:
    path = MAN_DIR / name
    assert path.exists(), f"{path} is missing; {HINT}"
    return path.read_text()


def test_every_command_and_option_is_in_photojobs_1():
    page = sections(read("photojobs.1"))
    missing = []
    for path, cmd in real_commands():
        if getattr(cmd, "commands", None) is not None and path:
            continue  # a group: its commands are checked one by one
        title = "GLOBAL OPTIONS" if not path else " ".join(["photojobs", *path])
        if title not in page:
            missing.append(title)
            continue
        text = unroff(page[title])
        for flag, kind in flags_of(cmd):
            if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text):
                missing.append(f"{title}: {kind} {flag}")
    assert not missing, f"{HINT}; missing: {missing}"


def test_every_group_has_a_page_with_all_its_commands():
    for path, cmd in real_commands():
        if len(path) != 1 or getattr(cmd, "commands", None) is None:
            continue
        page = sections(read(f"photojobs-{path[0]}.1"))
        for name, sub in cmd.commands.items():
            if getattr(sub, "hidden", False):
                continue
            title = f"photojobs {path[0]} {name}"
            assert title in page, f"{HINT}; {title} missing from photojobs-{path[0]}.1"
            text = unroff(page[title])
            for flag, _ in flags_of(sub):
                assert flag in text, f"{HINT}; {title} {flag} missing from photojobs-{path[0]}.1"


def test_every_command_and_option_has_help():
    undocumented = []
    for path, cmd in real_commands():
        if path and not (cmd.help or "").strip():
            undocumented.append(" ".join(path))
        for p in cmd.params:
            if p.name != "help" and not getattr(p, "hidden", False) and not (getattr(p, "help", None) or "").strip():
                undocumented.append(f"{' '.join(path) or 'photojobs'} {p.name}")
    assert not undocumented, f"commands or options without help text: {undocumented}"


def test_one_run_writes_the_pages_and_check_mode_agrees(tmp_path):
    gen = generator()
    assert gen.OUTPUTS == (MAN_DIR, ROOT / "src" / "photojobs" / "man")   # by default: man/ and the package copy
    out = ["--output", str(tmp_path / "a"), "--output", str(tmp_path / "b")]
    assert gen.main(out) == 0
    assert gen.main(["--check", *out]) == 0
    (tmp_path / "b" / "photojobs.1").write_text("stale")
    (tmp_path / "a" / "photojobs-gone.1").write_text("a group that no longer exists")
    assert gen.main(["--check", *out]) == 1
    gen.main(out)
    assert not (tmp_path / "a" / "photojobs-gone.1").exists()
    for folder in (tmp_path / "a", tmp_path / "b"):
        assert sorted(p.name for p in folder.glob("*.1")) == sorted(p.name for p in MAN_DIR.glob("*.1")), HINT
        assert (folder / "photojobs.1").read_text() == (MAN_DIR / "photojobs.1").read_text(), HINT


def test_the_pages_in_man_and_the_installed_copy_are_current():
    proc = subprocess.run([sys.executable, str(MAN_DIR / "generate.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, f"{HINT}: {proc.stderr}"
    assert sorted(p.name for p in PACKAGED.glob("*.1")) == sorted(p.name for p in MAN_DIR.glob("*.1"))
    assert all(not p.is_symlink() for p in MAN_DIR.glob("*.1"))     # real files: man -l needs no package


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_pages_render_without_roff_warnings():
    for page in sorted(MAN_DIR.glob("*.1")):
        proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stderr == "", (page.name, proc.stderr)


def test_exit_codes_in_the_man_page_and_the_readme_come_from_one_table():
    from photojobs.cli import exit_codes
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert _manpage.readme_with_exit_codes(readme) == readme, f"the README's exit codes are stale; {HINT}"
    status = unroff(sections(read("photojobs.1"))["EXIT STATUS"])
    for code, meaning in exit_codes.TABLE:
        assert f"| {code} | {meaning} |" in readme
        assert str(code) in status.split() and unroff(_manpage.esc(meaning)) in status
