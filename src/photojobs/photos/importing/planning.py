"""What an import does with each file of a photo: copy, skip, overwrite or rename (a Placement), decided before anything is written."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photojobs.engine.queue import resolve_project
from photojobs.errors import PhotojobsError
from photojobs.library import Library
from photojobs.storage.repos import photos as photos_repo

from ..filenames import Rules
from ..fileops import same_content
from .accepting import Candidate, Refused, accepted_name

DUPLICATE_POLICIES = ("skip", "overwrite", "rename")


class Action(str, enum.Enum):
    COPY = "copy"            # a new file (or the missing half of a photo), under `target`
    SAME = "same"            # an identical file is already there
    SKIP = "skip"            # a conflict under --on-duplicate skip, or a second file for a role
    OVERWRITE = "overwrite"  # conflict: the old file to .trash, the new one copied
    TWIN = "twin"            # identical to a file this import brings in: skipped as a duplicate
    FULL = "full"            # not tried: the disk filled up earlier in this import


@dataclass(frozen=True)
class Placement:
    """What happens to one candidate file: the action, the name it gets in the project, the
    photo it belongs to, and why (for skips and renames)."""

    cand: Candidate
    action: Action
    target: str
    basename: str
    reason: str | None = None
    renamed: bool = False    # it gets another basename than its own (--on-duplicate rename)


# Which files an import places, by photo and role (sidecars by name) -> (target, candidate).
Claimed = dict[tuple[str, str], tuple[str, Candidate]]


def groups(candidates: list[Candidate]) -> list[list[Candidate]]:
    """Candidates that form one photo: same basename (any case) in the same source folder.
    Photo files come before sidecars so a sidecar finds its photo in the catalog.

    A photo has one JPG, one RAW and one other image, so a second file of a role (DSC1.JPG and
    dsc1.jpg, DSC1.jpg and DSC1.jpeg, or two names that become one) starts a group of its own,
    planned after the first: it then meets the first as a file of this very import."""
    by_photo: dict[tuple[str, str], list[Candidate]] = {}
    for c in candidates:
        folder = os.path.dirname(c.shown) if c.shown != c.name else ""
        by_photo.setdefault((c.basename.lower(), folder), []).append(c)
    out = []
    for _, group in sorted(by_photo.items()):
        photos: list[list[Candidate]] = [[]]
        for c in sorted(group, key=lambda c: (c.role == "sidecar", c.role, c.shown)):
            home = next((p for p in photos if not any(_same_slot(c, o) for o in p)), None)
            if home is None:
                photos.append(home := [])
            home.append(c)
        out += photos
    return out


def _same_slot(a: Candidate, b: Candidate) -> bool:
    """Whether two files of one photo would take the same place: its JPG, RAW or other image;
    for sidecars (a photo may have many), the same name."""
    return a.role == b.role and (a.role != "sidecar" or a.name == b.name)


def plan_group(lib: Library, project: Any, path: Path | None, group: list[Candidate], on_duplicate: str,
               claimed: Claimed) -> list[Placement]:
    """A Placement for each file of a photo group.

    A conflict on any file of the group applies the policy to the whole group: with "rename"
    every file gets a new basename, with "skip" nothing new is added to a photo that is
    evidently a different shot.

    `claimed` holds the files this import places (in a dry run, would place), by photo and
    role (sidecars by name), and is updated here. A file meeting one of them would be a second
    file of that photo: it is renamed with --on-duplicate rename and otherwise not copied,
    whatever the policy (overwriting a file of the same card makes no sense), so every file
    that lands in the project is one the catalog tracks."""
    conn = lib.conn()
    basename = next((c.basename for c in group if c.role == "jpg"), group[0].basename)
    existing = photos_repo.get_by_basename(conn, project["id"], basename) if project is not None else None
    status = []
    for c in group:
        target = _renamed(c, basename)
        twin = claimed.get(_claim(c, basename, target))
        current = twin[0] if twin else _current(path, existing, c, target)
        if current is None:
            status.append((c, "new", current, None))
        elif c.path is not None and same_content(c.path, twin[1].path if twin else path / current):
            status.append((c, "same", current, twin))  # (a path of None: known by name only, in plan_names)
        else:
            status.append((c, "conflict", current, twin))
    conflicts = [cur for _, st, cur, _ in status if st == "conflict"]
    twins = [c.name for c, st, _, twin in status if st == "conflict" and twin]
    plan = []
    if conflicts and on_duplicate == "rename":
        new_base = _free_basename(conn, project, path, basename, group, claimed)
        for c, st, cur, twin in status:
            why = "renamed with its photo"
            if st == "conflict":
                why = f"renamed: {_twin_clash(c, twin)}" if twin else f"renamed: a different {cur} is in the project"
            plan.append(Placement(c, Action.COPY, _renamed(c, new_base), new_base, why, renamed=True))
    else:
        for c, st, cur, twin in status:
            target = _renamed(c, basename)
            if st == "same" and twin:
                plan.append(Placement(c, Action.TWIN, cur, basename,
                                      f"same content as {twin[1].shown}, which this import brings in as {cur}"))
            elif st == "same":
                plan.append(Placement(c, Action.SAME, cur, basename, f"already in the project as {cur}"))
            elif twin:
                plan.append(Placement(c, Action.SKIP, target, basename, _twin_clash(c, twin)))
            elif twins or (conflicts and on_duplicate == "skip"):
                why = (f"a different {cur} is already in the project" if st == "conflict"
                       else f"belongs with {', '.join(twins)}, which this import does not bring in" if twins
                       else f"belongs with {', '.join(conflicts)}, which differs from the project's")
                plan.append(Placement(c, Action.SKIP, target, basename, why))
            elif st == "conflict":
                plan.append(Placement(c, Action.OVERWRITE, cur, basename))
            else:
                plan.append(Placement(c, Action.COPY, target, basename))
    for p in plan:
        if p.action in (Action.COPY, Action.OVERWRITE, Action.SAME):
            claimed[_claim(p.cand, p.basename, p.target)] = (p.target, p.cand)
    return plan


def not_tried(group: list[Candidate]) -> list[Placement]:
    """The plan for a group that comes after the disk filled up: nothing is tried."""
    return [Placement(c, Action.FULL, c.name, c.basename) for c in group]


def _claim(c: Candidate, basename: str, target: str) -> tuple[str, str]:
    """What a placed file takes: its role in the photo the catalog knows by the lowercased
    basename; a sidecar, only its own name (a photo may have many)."""
    return (target, "sidecar") if c.role == "sidecar" else (basename.lower(), c.role)


def _twin_clash(c: Candidate, twin: tuple[str, Candidate]) -> str:
    """Why `c` cannot join the file `twin` this import already brings in."""
    other = twin[1]
    if c.name == other.name:
        return (f"{c.shown} and {other.shown} both become {c.name} in the project "
                "(names are kept in Unicode NFC form and to 240 bytes)")
    role = {"jpg": "JPG", "raw": "RAW"}.get(c.role, "other image")
    return (f"{other.shown} is photo {other.basename}'s {role} in this import; a photo has one {role}, "
            "and photo names ignore case and extension")


def _renamed(c: Candidate, basename: str) -> str:
    return f"{basename}{c.name[len(c.basename):]}"


def _current(path: Path | None, existing: Any, c: Candidate, name: str) -> str | None:
    """The project file this candidate would meet: the photo's file of the same role in the
    catalog, else a file of the same name on disk (not cataloged yet). Only files on disk
    count: a catalogued file that is gone (before manifest_check noticed) is no conflict, the
    new file takes its place."""
    if path is None:
        return None
    known = existing[f"{c.role}_name"] if c.role != "sidecar" and existing is not None else None
    if known and os.path.lexists(path / known):
        return known
    return name if os.path.lexists(path / name) else None


def _free_basename(conn, project: Any, path: Path | None, basename: str, group: list[Candidate],
                   claimed: Claimed) -> str:
    """`basename-1`, `-2`... the first that no photo, no file of this import and no file of the
    group uses yet (a dry run into a new project has only this import to go by)."""
    n = 1
    while True:
        candidate = f"{basename}-{n}"
        if not any((candidate.lower(), role) in claimed for role in photos_repo.ROLES) and (
                project is None or photos_repo.get_by_basename(conn, project["id"], candidate) is None) and (
                path is None or not any(os.path.lexists(path / _renamed(c, candidate)) for c in group)):
            return candidate
        n += 1


# --- planning by name (before an upload) -----------------------------------------------------

@dataclass
class PlannedFile:
    """What importing one file (known by name only) into a project would do."""

    name: str                  # as given
    basename: str              # of the photo it would belong to
    role: str
    action: str                # "copy" (a new file, or the missing half of a photo), "skip", "overwrite"
    target: str                # the name it would get in the project
    reason: str | None         # why it is skipped or renamed
    photo_exists: bool         # the photo is in the project already (this file completes or meets it)
    renamed: bool = False      # it would get another basename (--on-duplicate rename)

    @property
    def conflict(self) -> bool:
        """It meets a file of the project: skipped, overwritten or renamed by the duplicate policy."""
        return self.action in ("skip", "overwrite") or self.renamed


def check_policy(on_duplicate: str, option: str = "--on-duplicate") -> None:
    if on_duplicate not in DUPLICATE_POLICIES:
        raise PhotojobsError(f"{option} must be one of {', '.join(DUPLICATE_POLICIES)}, got {on_duplicate!r}")


def plan_names(lib: Library, project: str | int, names: list[str], *,
               on_duplicate: str = "skip") -> tuple[list[PlannedFile], list[dict[str, str]]]:
    """What an import of files with these names would do, writing nothing: the same acceptance
    of names, pairing and duplicate policy as `import_files`, without the files' content, so a
    file that meets one already in the project counts as different (identical ones are found
    at the import). Returns (planned files, rejected {name, reason})."""
    check_policy(on_duplicate, "on_duplicate")
    row = resolve_project(lib.conn(), project)
    path = lib.project_path(row["folder"])
    rules = Rules.from_config(lib.config)
    candidates, rejected = [], []
    for raw in names:
        accepted = accepted_name(raw, rules)
        if isinstance(accepted, Refused):
            rejected.append({"name": raw, "reason": accepted.reason})
            continue
        name, basename, role = accepted
        candidates.append(Candidate(path=None, shown=raw, name=name, basename=basename, role=role))
    planned = []
    conn = lib.conn()
    claimed: Claimed = {}
    for group in groups(candidates):
        for p in plan_group(lib, row, path, group, on_duplicate, claimed):
            exists = photos_repo.get_by_basename(conn, row["id"], p.basename) is not None
            planned.append(PlannedFile(p.cand.shown, p.basename, p.cand.role, p.action.value, p.target, p.reason,
                                       exists, p.renamed))
    return planned, rejected
