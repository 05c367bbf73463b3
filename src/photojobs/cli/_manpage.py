"""Man pages generated from the Typer command tree, so they list exactly the commands and options the CLI has.

photojobs.1 (every command) and photojobs-<group>.1 (one per command group); `man/generate.py`
in the repository is the one command that writes them (and the README's exit-code table).
"""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import typer

from .. import __version__
from . import exit_codes

DESCRIPTION = ("photojobs imports shoots of JPG+RAW pairs into projects, keeps a SQLite catalog of them, makes "
               "thumbnails and previews in the background, lets the photographer cull (keep the JPG, the RAW, "
               "both or neither) and commit, and keeps the catalog and the disk consistent. It never overwrites or "
               "deletes an original except by an explicit commit, and then only into the project's .trash folder.")
ENVIRONMENT = [
    ("PHOTOJOBS_LIBRARY", "The library folder, as --library."),
    ("PHOTOJOBS_CONFIG", "A config.json overlaid on the defaults, as --config."),
    ("PHOTOJOBS_PLUGINS", "Comma-separated Python modules imported when the job registry loads; they may "
                          "register extra job types or replace the derivative maker (tests and benchmarks use it)."),
    ("XDG_DATA_HOME, XDG_CONFIG_HOME, XDG_STATE_HOME", "Where the default library, the user config.json and the "
                                                       "daemon state records live."),
]
FILES = [
    ("LIBRARY/.photojobs/catalog.db", "The catalog (SQLite, WAL mode)."),
    ("LIBRARY/.photojobs/backups/", "Daily catalog backups, catalog-YYYYmmdd-HHMMSS.db (UTC); the newest "
                                    "catalog.backups are kept. catalog rebuild takes keep flags from them."),
    ("LIBRARY/PROJECT/", "A project's originals; .thumb/ and .preview/ hold derivatives, .trash/ what a commit "
                         "removed, .photojobs-project marks the folder as the project's."),
    ("~/.config/photojobs/config.json", "User configuration (see config.default.json in the package)."),
    ("PACKAGE/man/*.1", "These pages, installed with the package; copy or link them into a man1 folder on "
                        "MANPATH (e.g. ~/.local/share/man/man1) to make man photojobs work."),
]
EXIT_STATUS = [(str(code), meaning) for code, meaning in exit_codes.TABLE]

# The README's exit-code section sits between these lines; `man/generate.py` rewrites it.
README_START = "<!-- exit codes: written by man/generate.py from src/photojobs/cli/exit_codes.py -->"
README_END = "<!-- end of exit codes -->"


@dataclass
class Param:
    flags: list[str]            # every spelling, e.g. ["--project", "-p"] or ["--wait", "--no-wait"]
    metavar: str | None         # None for flags and counters
    help: str
    argument: bool = False
    required: bool = False
    envvar: str | None = None
    default: str | None = None


@dataclass
class Cmd:
    path: list[str]             # ["jobs", "watch"]; [] for the program itself
    help: str
    params: list[Param] = field(default_factory=list)
    group: bool = False

    @property
    def name(self) -> str:
        return " ".join(["photojobs", *self.path])


def _metavar(p: Any) -> str | None:
    if getattr(p, "is_flag", False) or getattr(p, "count", False) or getattr(p, "secondary_opts", None):
        return None
    annotation = getattr(getattr(p, "type_descriptor", None), "annotation", None)   # typer >= 0.29
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "{" + "|".join(str(m.value) for m in annotation) + "}"
    choices = getattr(getattr(p, "type", None), "choices", None)   # what typer < 0.29 makes of an Enum
    if choices:
        return "{" + "|".join(str(getattr(c, "value", c)) for c in choices) + "}"
    return (p.metavar or p.name or "value").upper().strip("<>")


def _default(p: Any) -> str | None:
    value = getattr(p, "default", None)
    if value is None or isinstance(value, bool) or getattr(p, "is_flag", False) or getattr(p, "count", False) \
            or value == () or value == []:
        return None
    if isinstance(value, enum.Enum):
        value = value.value
    return str(value)


def _param(p: Any) -> Param:
    argument = type(p).__name__.endswith("Argument")
    if argument:
        return Param(flags=[p.name], metavar=(p.metavar or p.name).upper(), help=getattr(p, "help", None) or "",
                     argument=True, required=bool(p.required))
    envvar = p.envvar if isinstance(p.envvar, str) else None
    return Param(flags=[*p.opts, *p.secondary_opts], metavar=_metavar(p), help=p.help or "",
                 required=bool(p.required), envvar=envvar, default=_default(p))


def walk(command: Any, path: list[str] | None = None) -> Iterator[Cmd]:
    """Every command of the real Typer/click tree, groups before their commands, in help order."""
    path = path or []
    sub = getattr(command, "commands", None)
    params = [_param(p) for p in command.params if not getattr(p, "hidden", False)
              and (p.name or "") != "help"]
    yield Cmd(path=path, help=(command.help or "").strip(), params=params, group=sub is not None)
    for name, child in (sub or {}).items():
        if not getattr(child, "hidden", False):
            yield from walk(child, [*path, name])


def command_tree(app: typer.Typer | None = None) -> list[Cmd]:
    if app is None:
        from . import app as cli_app
        app = cli_app
    return list(walk(typer.main.get_command(app)))


# --- roff ----------------------------------------------------------------------------------------
def esc(text: str) -> str:
    """Text safe in roff: backslashes, hyphens (so options copy-paste right), line-leading dots."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    return text


def _lines(text: str) -> list[str]:
    """Paragraphs of a docstring as roff lines (.PP between paragraphs)."""
    out: list[str] = []
    for i, para in enumerate(p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()):
        if i:
            out.append(".PP")
        body = " ".join(line.strip() for line in para.splitlines())
        line = esc(body)
        out.append(("\\&" + line) if line.startswith((".", "'")) else line)
    return out


def _flag_text(p: Param) -> str:
    if p.argument:
        return f"\\fI{esc(p.metavar or p.flags[0].upper())}\\fR"
    text = ", ".join(f"\\fB{esc(f)}\\fR" for f in p.flags)
    if p.metavar:
        text += f" \\fI{esc(p.metavar)}\\fR"
    return text


def _synopsis(cmd: Cmd) -> str:
    parts = [f"\\fB{esc(cmd.name)}\\fR"]
    if any(not p.argument for p in cmd.params):
        parts.append("[\\fIOPTIONS\\fR]")
    for p in cmd.params:
        if p.argument:
            name = f"\\fI{esc(p.metavar or p.flags[0].upper())}\\fR"
            parts.append(name if p.required else f"[{name}]")
    if cmd.group:
        parts.append("\\fICOMMAND\\fR [\\fIARGS\\fR]...")
    return " ".join(parts)


def _params(cmd: Cmd) -> list[str]:
    out = []
    for p in cmd.params:
        out += [".TP", _flag_text(p)]
        extra = []
        if p.default is not None:
            extra.append(f"Default: {p.default}.")
        if p.envvar:
            extra.append(f"Environment: {p.envvar}.")
        out += _lines(" ".join(filter(None, [p.help, *extra])) or "(no description)")
    return out


def _section_list(title: str, items: list[tuple[str, str]]) -> list[str]:
    out = [f".SH {title}"]
    for term, text in items:
        out += [".TP", f"\\fB{esc(term)}\\fR", *_lines(text)]
    return out


def _header(name: str, summary: str) -> list[str]:
    # No date: the pages are a pure function of the code, so regenerating changes nothing.
    return [f'.TH {name.upper()} 1 "" "photojobs {__version__}" "photojobs manual"', ".SH NAME",
            f"{esc(name)} \\- {esc(summary)}"]


def _command_section(cmd: Cmd) -> list[str]:
    out = [f'.SS "{esc(cmd.name)}"', _synopsis(cmd), ".PP", *_lines(cmd.help or "(no description)")]
    if cmd.params:
        out += _params(cmd)
    return out


def _first_sentence(text: str) -> str:
    first = " ".join(text.strip().split("\n\n")[0].split())
    return first.rstrip(".") if first else ""


def main_page(tree: list[Cmd]) -> str:
    root, commands = tree[0], [c for c in tree[1:] if not c.group]
    groups = [c for c in tree[1:] if c.group]
    out = _header("photojobs", _first_sentence(root.help) or "photo import and culling")
    out += [".SH SYNOPSIS", _synopsis(root), ".SH DESCRIPTION", *_lines(DESCRIPTION)]
    out += [".SH GLOBAL OPTIONS", ".PP", "These go before or after the command: "
            "\\fBphotojobs \\-\\-library ~/Photos jobs watch\\fR and "
            "\\fBphotojobs jobs watch \\-\\-library ~/Photos\\fR are the same.", *_params(root)]
    out += [".SH COMMANDS"]
    for cmd in commands:
        out += _command_section(cmd)
    if groups:
        out += [".SH COMMAND GROUPS", ".PP", "Each group also has its own page: "
                + ", ".join(f"\\fBphotojobs\\-{esc(g.path[-1])}\\fR(1)" for g in groups if len(g.path) == 1) + "."]
        for g in groups:
            out += [f'.SS "{esc(g.name)}"', *_lines(g.help or "")]
    out += _section_list("ENVIRONMENT", ENVIRONMENT)
    out += _section_list("FILES", FILES)
    out += _section_list("EXIT STATUS", EXIT_STATUS)
    out += [".SH SEE ALSO", ", ".join(f"\\fBphotojobs\\-{esc(g.path[-1])}\\fR(1)" for g in groups
                                      if len(g.path) == 1)]
    return "\n".join(out) + "\n"


def group_page(tree: list[Cmd], group: Cmd) -> str:
    name = "photojobs-" + "-".join(group.path)
    out = _header(name, _first_sentence(group.help) or group.name)
    out += [".SH SYNOPSIS", _synopsis(group), ".SH DESCRIPTION", *_lines(group.help or ""), ".PP",
            "Global options (\\fB\\-\\-library\\fR, \\fB\\-\\-config\\fR, \\fB\\-v\\fR, \\fB\\-q\\fR) go "
            "before the group name or after the command; see \\fBphotojobs\\fR(1)."]
    out += [".SH COMMANDS"]
    for cmd in tree:
        if cmd.path[:len(group.path)] == group.path and cmd is not group and not cmd.group:
            out += _command_section(cmd)
    out += [".SH SEE ALSO", "\\fBphotojobs\\fR(1)"]
    return "\n".join(out) + "\n"


def pages(app: typer.Typer | None = None) -> dict[str, str]:
    """{file name: roff text} for photojobs.1 and one page per top-level command group."""
    tree = command_tree(app)
    out = {"photojobs.1": main_page(tree)}
    for cmd in tree[1:]:
        if cmd.group and len(cmd.path) == 1:
            out[f"photojobs-{cmd.path[0]}.1"] = group_page(tree, cmd)
    return out


def write(directory: Path, generated: dict[str, str]) -> list[str]:
    """Write the pages (temp name, then replace; a link becomes a file); remove stale photojobs*.1 pages.
    Returns the changed names."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in generated.items():
        target = directory / name
        if target.exists() and not target.is_symlink() and target.read_text() == text:
            continue
        tmp = directory / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, target)
        changed.append(name)
    for old in directory.glob("photojobs*.1"):
        if old.name not in generated:
            old.unlink()
            changed.append(old.name)
    return changed


def stale(directory: Path, generated: dict[str, str]) -> list[str]:
    """The pages in `directory` that `write` would change: missing, different or no longer generated."""
    out = [n for n, t in generated.items() if not (directory / n).exists() or (directory / n).is_symlink()
           or (directory / n).read_text() != t]
    return out + [p.name for p in directory.glob("photojobs*.1") if p.name not in generated]


def readme_with_exit_codes(text: str) -> str:
    """`text` (the README) with the exit-code table between its markers made current."""
    if README_START not in text or README_END not in text:
        raise ValueError(f"the README has no {README_START!r} ... {README_END!r} section")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    return f"{head}{README_START}\n{exit_codes.markdown()}{README_END}{tail}"
