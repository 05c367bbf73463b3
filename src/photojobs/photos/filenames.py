"""File names in a project: safe names, which photo and role a name belongs to, one-pass folder scans."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from photojobs.config import Config

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
class FolderScan:
    """One os.scandir of a project folder: the visible regular files, and the sidecars by
    basename. Nothing else is classified here: manifest_check needs only set membership, and
    folder_check classifies just the names the catalog does not know."""

    path: Path
    exists: bool
    marked: bool
    names: set[str] = field(default_factory=set)
    sidecars: dict[str, list[str]] = field(default_factory=dict)  # basename_key -> sidecar names

    def has_photos(self, rules: Rules) -> bool:
        return any(n.rpartition(".")[2].lower() in rules.accepted for n in self.names)


def scan_folder(path: Path, rules: Rules) -> FolderScan:
    """Read a project folder once: O(number of entries), no stat per photo per extension."""
    try:
        it = os.scandir(path)
    except (FileNotFoundError, NotADirectoryError):
        return FolderScan(path, exists=False, marked=False)
    scan = FolderScan(path, exists=True, marked=False)
    names, sidecar_exts = scan.names, rules.sidecars
    with it:
        for entry in it:
            name = entry.name
            if name[0] == ".":
                if name == MARKER:
                    scan.marked = True
                continue  # hidden: temp files, .DS_Store, our subfolders
            try:
                # d_type from the directory listing: no extra stat on most filesystems
                if not entry.is_file(follow_symlinks=False):
                    continue
            except OSError:
                continue
            names.add(name)
            if name.rpartition(".")[2].lower() in sidecar_exts:
                basename, _ = rules.classify(name)
                scan.sidecars.setdefault(basename.lower(), []).append(name)
    return scan
