"""File names in a project: safe names, which photo and role a name belongs to, one-pass folder scans."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from . import media
from .projects import MARKER

TMP_PREFIX = ".photojobs-tmp-"   # hidden, so scans and folder_check never mistake it for a photo
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME_BYTES = 240             # leaves room for a temp prefix under the usual 255-byte limit


@dataclass(frozen=True)
class Rules:
    """What the configuration accepts: photo extensions and sidecar extensions (lowercase)."""

    accepted: frozenset[str]
    sidecars: frozenset[str]

    @classmethod
    def from_config(cls, config: Config) -> "Rules":
        accepted = frozenset(e.lower().lstrip(".") for e in config.get("uploader.accepted_files.extensions", ()))
        sidecars = frozenset(e.lower().lstrip(".") for e in config.get("uploader.sidecar_extensions", ()))
        return cls(accepted=accepted, sidecars=sidecars | media.SIDECAR_EXTS)

    def classify(self, name: str) -> tuple[str, str | None]:
        """(basename, role) of a file name. role is "jpg", "raw", "other", "sidecar", or None
        when the extension is not accepted. A sidecar's basename drops a photo extension too
        (darktable writes DSC0001.ARW.xmp)."""
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            return name, None
        ext = ext.lower()
        if ext in self.sidecars:
            inner_stem, inner_dot, inner_ext = stem.rpartition(".")
            if inner_dot and inner_stem and media.role_of(inner_ext) in ("jpg", "raw", "other"):
                return inner_stem, "sidecar"
            return stem, "sidecar"
        role = media.role_of(ext)
        if ext not in self.accepted or role not in ("jpg", "raw", "other"):
            return stem, None
        return stem, role


def safe_name(name: str) -> str | None:
    """A file name that cannot leave its folder: the last path component of `name`, without
    control characters or leading dots/spaces. None if nothing usable is left."""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = _CONTROL.sub("", name).strip().lstrip(". ").rstrip(" ")
    if not name:
        return None
    while len(name.encode()) > MAX_NAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[:-1]}.{ext}" if dot and len(stem) > 1 else name[:-1]
    return name


def is_ignored(name: str) -> bool:
    """Hidden files (temp files, the marker, .DS_Store, AppleDouble ._ files) are never photos."""
    return name.startswith(".")


@dataclass
class Group:
    """The files of one basename found on disk."""

    jpg: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    sidecar: list[str] = field(default_factory=list)


@dataclass
class FolderScan:
    """One os.scandir of a project folder: every visible regular file, grouped by basename."""

    path: Path
    exists: bool
    marked: bool
    names: set[str] = field(default_factory=set)
    groups: dict[str, Group] = field(default_factory=dict)   # basename_key -> files
    basenames: dict[str, str] = field(default_factory=dict)  # basename_key -> basename as on disk
    unknown: list[str] = field(default_factory=list)         # visible files with no accepted role

    @property
    def media_count(self) -> int:
        return sum(len(g.jpg) + len(g.raw) + len(g.other) for g in self.groups.values())


def scan_folder(path: Path, rules: Rules) -> FolderScan:
    """Read a project folder once: O(number of entries), no stat per photo per extension."""
    try:
        entries = os.scandir(path)
    except FileNotFoundError:
        return FolderScan(path, exists=False, marked=False)
    except NotADirectoryError:
        return FolderScan(path, exists=False, marked=False)
    scan = FolderScan(path, exists=True, marked=False)
    with entries:
        for entry in entries:
            name = entry.name
            if name == MARKER:
                scan.marked = True
                continue
            if is_ignored(name):
                continue
            try:
                # d_type from the directory listing: no extra stat on most filesystems
                if not entry.is_file(follow_symlinks=False):
                    continue
            except OSError:
                continue
            scan.names.add(name)
            basename, role = rules.classify(name)
            if role is None:
                scan.unknown.append(name)
                continue
            key = basename.lower()
            group = scan.groups.get(key)
            if group is None:
                group = scan.groups[key] = Group()
                scan.basenames[key] = basename
            getattr(group, role).append(name)
    return scan
