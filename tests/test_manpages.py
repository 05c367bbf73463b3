"""The man pages name every command and option of the real CLI (regenerate: python man/generate.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest
import typer

from photojobs.cli import _manpage, app

MAN_DIR = Path(resources.files("photojobs")) / "man"
HINT = "the man pages are out of date: run `python man/generate.py` and commit src/photojobs/man/"


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


def test_generator_writes_what_is_installed_and_check_mode_agrees(tmp_path):
    assert _manpage.main(["--output", str(tmp_path)]) == 0
    assert _manpage.main(["--check", "--output", str(tmp_path)]) == 0
    (tmp_path / "photojobs.1").write_text("stale")
    (tmp_path / "photojobs-gone.1").write_text("a group that no longer exists")
    assert _manpage.main(["--check", "--output", str(tmp_path)]) == 1
    _manpage.main(["--output", str(tmp_path)])
    assert not (tmp_path / "photojobs-gone.1").exists()
    assert sorted(p.name for p in tmp_path.glob("*.1")) == sorted(p.name for p in MAN_DIR.glob("*.1")), HINT


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
