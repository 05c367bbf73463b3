"""Which files an import takes: the sources walked, each file accepted by name, extension and content, or refused with why."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from photojobs.errors import PhotojobsError

from .. import media
from ..filenames import Rules, is_ignored, safe_name
from .report import ImportReport


@dataclass
class Candidate:
    """A file an import accepted, on its way into the project."""

    path: Path | None      # where to read it (None: known by name only, in plan_names)
    shown: str             # how to name it in messages (the source path, or the uploaded name)
    name: str              # the safe name it gets in the project
    basename: str
    role: str
    size: int = 0
    kind: str | None = None  # its content kind (media.sniff), read once when it was accepted


def check_sources(sources: list[Path]) -> None:
    """Refuse the whole import when a source is not there: a card that is not mounted (or a
    mistyped path) is the user's to fix, not a photo that was rejected."""
    for src in sources:
        if not os.path.lexists(src):
            what = "file" if Path(src).suffix else "folder"
            raise PhotojobsError(f"no such {what}: {src} (is the card mounted?)")


def collect(sources: list[Path], recursive: bool, rules: Rules, source_names: dict[Path, str],
            report: ImportReport) -> list[Candidate]:
    out: list[Candidate] = []
    for src in sources:
        if src in source_names:
            out += accept(src, source_names[src], source_names[src], rules, report)
            continue
        if src.is_dir():
            for file in _walk(src, recursive, report):
                out += accept(file, str(file), file.name, rules, report)
        else:
            out += accept(src, str(src), src.name, rules, report)
    return out


def _walk(root: Path, recursive: bool, report: ImportReport) -> Iterator[Path]:
    """Files under `root`, hidden ones skipped; symlinks only when they stay inside `root`,
    symlinked folders never entered (no escape, no loops)."""
    real_root = root.resolve()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            report.rejected.append({"name": folder.name, "path": str(folder),
                                    "reason": f"cannot read folder: {exc.strerror}"})
            continue
        for entry in entries:
            if is_ignored(entry.name):
                continue
            p = Path(entry.path)
            if entry.is_symlink():
                target = p.resolve()
                if not target.is_relative_to(real_root):
                    report.rejected.append({"name": entry.name, "path": str(p),
                                            "reason": "symlink leads outside the imported folder"})
                    continue
                if not target.exists():
                    report.rejected.append({"name": entry.name, "path": str(p),
                                            "reason": "unreadable: broken symlink"})
                elif target.is_file():
                    yield p
                continue
            if entry.is_dir(follow_symlinks=False):
                if recursive:
                    stack.append(p)
            elif entry.is_file(follow_symlinks=False):
                yield p


@dataclass(frozen=True)
class Refused:
    """Why a file is not imported; `ignored` when it is no photo at all, so nothing was lost."""
    reason: str
    ignored: bool = False


def accepted_name(raw_name: str, rules: Rules) -> tuple[str, str, str] | Refused:
    """(safe name, basename, role) if the name is usable and its extension accepted, else why not."""
    name = safe_name(raw_name)
    if name is None:
        return Refused("unusable file name")
    basename, role = rules.classify(name)
    if role is None:
        ext = name.rpartition(".")[2] if "." in name else ""
        if media.role_of(ext) is None and ext.lower() not in rules.accepted:
            # Not a photo at all (a clip, a note, the camera's own files): nothing was lost.
            return Refused(f"not a photo (.{ext})" if ext else "not a photo (no extension)", ignored=True)
        return Refused(f"extension .{ext} is not accepted")
    return name, basename, role


def accept(path: Path, shown: str, raw_name: str, rules: Rules, report: ImportReport) -> list[Candidate]:
    """A candidate if the name is safe, the extension accepted and the content matches it."""
    accepted = accepted_name(raw_name, rules)
    if isinstance(accepted, Refused):
        (report.ignored if accepted.ignored else report.rejected).append(
            {"name": safe_name(raw_name) or raw_name, "path": shown, "reason": accepted.reason})
        return []
    name, basename, role = accepted
    try:
        size = os.stat(path).st_size
        kind = media.sniff(path) if role != "sidecar" else None
    except OSError as exc:
        report.rejected.append({"name": name, "path": shown, "reason": f"unreadable: {exc.strerror}"})
        return []
    if role != "sidecar":
        if size == 0:
            report.rejected.append({"name": name, "path": shown, "reason": "empty file"})
            return []
        if not media.content_matches(name.rpartition(".")[2], kind):
            looks = f"looks like {kind.upper()}" if kind else "not a recognised image format"
            report.rejected.append({"name": name, "path": shown,
                                    "reason": f"content does not match .{name.rpartition('.')[2]} ({looks})"})
            return []
    return [Candidate(path=path, shown=shown, name=name, basename=basename, role=role, size=size, kind=kind)]
