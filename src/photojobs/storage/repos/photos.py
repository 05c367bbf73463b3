"""The photos table: one row per basename in a project, with its JPG/RAW/other files and keep intent.

Contract (every backend must keep it):
- A photo is identified by (project_id, basename_key), basename_key = basename.lower(), so
  `DSC0001.JPG` and `DSC0001.arw` are one photo.
- `<role>_name` is the file's real name on disk; `<role>_available` says whether it is there.
- keep_jpg / keep_raw are the user's intent for the next commit; "other" files (PNG, TIFF...)
  are never removed by a commit, so they have no keep flag.
- `metadata` is a JSON object {role: {date_time_original, make, model, orientation, width,
  height}}; the orientation/date/width/height columns mirror the file derivatives are made
  from (JPG, else other, else RAW) -- see `primary_role`.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable, Iterator

from ..db import is_row_id

ROLES = ("jpg", "raw", "other")
_CHUNK = 500  # stay well under SQLite's bound-parameter limit


# A photo with at least one file on disk (the availability flags are 0/1 integers: portable SQL).
_ANY_FILE = "(jpg_available + raw_available + other_available > 0)"


def _chunks(values: list, size: int = _CHUNK) -> Iterator[list]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def primary_role(row: sqlite3.Row | dict) -> str | None:
    """The file derivatives are made from: the JPG, else an other image, else the RAW."""
    for role in ("jpg", "other", "raw"):
        if row[f"{role}_available"]:
            return role
    return None


# --- reads ---------------------------------------------------------------------------------

def get(conn: sqlite3.Connection, photo_id: int) -> sqlite3.Row | None:
    if not is_row_id(photo_id):
        return None
    return conn.execute("SELECT * FROM photos WHERE id = ?", (photo_id,)).fetchone()


def get_by_basename(conn: sqlite3.Connection, project_id: int, basename: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM photos WHERE project_id = ? AND basename_key = ?",
                        (project_id, basename.lower())).fetchone()


def get_many(conn: sqlite3.Connection, project_id: int, names: Iterable[str]) -> list[sqlite3.Row]:
    """Photos whose basename -- or one of whose file names -- is in `names`, case-insensitive.

    So "DSC0001", "dsc0001.jpg" and "DSC0001.ARW" all find the same photo. Ordered by basename.
    A photo's files are named its basename plus an extension, so the lookup is by basename_key
    and the file names are compared here: SQL's lower() folds only ASCII on SQLite and all of
    Unicode on PostgreSQL, and Python's str.lower() made basename_key."""
    wanted = {n.lower() for n in names}
    keys = sorted(wanted | {n.rpartition(".")[0].lower() for n in names if "." in n})
    found: dict[int, sqlite3.Row] = {}
    for chunk in _chunks(keys):
        for row in conn.execute(f"SELECT * FROM photos WHERE project_id = ? AND basename_key IN "
                                f"({','.join('?' * len(chunk))})", (project_id, *chunk)):
            if row["basename_key"] in wanted or any(
                    row[f"{role}_name"] and row[f"{role}_name"].lower() in wanted for role in ROLES):
                found[row["id"]] = row
    return sorted(found.values(), key=lambda r: r["basename_key"])


def list_for_project(conn: sqlite3.Connection, project_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM photos WHERE project_id = ? ORDER BY basename_key",
                        (project_id,)).fetchall()


def files_for_project(conn: sqlite3.Connection, project_id: int) -> list[tuple]:
    """(id, basename_key, jpg_name, raw_name, other_name, jpg_available, raw_available,
    other_available, sidecars JSON) per photo: the narrow, fast read reconciliation needs."""
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: a third of the cost of Row objects at 100k photos
    return cur.execute(
        """SELECT id, basename_key, jpg_name, raw_name, other_name, jpg_available, raw_available,
                  other_available, sidecars FROM photos WHERE project_id = ?""", (project_id,)).fetchall()


def count_for_project(conn: sqlite3.Connection, project_id: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM photos WHERE project_id = ?", (project_id,)).fetchone()[0]


def count_by_project(conn: sqlite3.Connection) -> dict[int, int]:
    """Photos per project id (projects without photos are absent)."""
    return {r[0]: r[1] for r in conn.execute("SELECT project_id, COUNT(*) FROM photos GROUP BY project_id")}


def count_available(conn: sqlite3.Connection, project_id: int) -> int:
    """Photos with at least one file on disk, as far as the catalog knows."""
    return conn.execute(
        "SELECT COUNT(*) FROM photos WHERE project_id = ? AND " + _ANY_FILE,
        (project_id,)).fetchone()[0]


def derivative_states(conn: sqlite3.Connection, project_id: int) -> list[sqlite3.Row]:
    """Id, basename, file names and derivative statuses of the photos with a file on disk: the
    narrow read that deciding which photos still need derivatives takes."""
    return conn.execute(
        """SELECT id, basename, jpg_name, raw_name, other_name, thumbnail_status, preview_status
           FROM photos WHERE project_id = ? AND """ + _ANY_FILE,
        (project_id,)).fetchall()


def culling_counts(conn: sqlite3.Connection) -> dict[int, dict[str, int]]:
    """Per project id, over photos with a file on disk: how many; how many are rejected (a JPG
    or RAW, keeping neither, no other file: the next commit trashes them all); how many have
    derivatives still to make (pending or never tried) or that failed (or lost their source)."""
    rows = conn.execute(
        """SELECT project_id, COUNT(*) AS photos,
                  SUM(CASE WHEN other_available = 0 AND keep_jpg = 0 AND keep_raw = 0 THEN 1 ELSE 0 END)
                      AS rejected,
                  SUM(CASE WHEN thumbnail_status IS NULL OR thumbnail_status = 'pending'
                      OR preview_status IS NULL OR preview_status = 'pending' THEN 1 ELSE 0 END)
                      AS derivatives_pending,
                  SUM(CASE WHEN thumbnail_status IN ('failed', 'missing')
                      OR preview_status IN ('failed', 'missing') THEN 1 ELSE 0 END) AS derivatives_failed
           FROM photos WHERE """ + _ANY_FILE + " GROUP BY project_id")
    return {r["project_id"]: {"photos": r["photos"], "kept": r["photos"] - r["rejected"], "rejected": r["rejected"],
                              "derivatives_pending": r["derivatives_pending"],
                              "derivatives_failed": r["derivatives_failed"]} for r in rows}


def removal_plan(conn: sqlite3.Connection, project_id: int) -> list[sqlite3.Row]:
    """Photos with an available JPG or RAW that the keep flags say to remove."""
    return conn.execute(
        """SELECT * FROM photos WHERE project_id = ?
           AND ((jpg_available = 1 AND keep_jpg = 0) OR (raw_available = 1 AND keep_raw = 0))
           ORDER BY basename_key""", (project_id,)).fetchall()


# --- writes --------------------------------------------------------------------------------

def insert(conn: sqlite3.Connection, project_id: int, *, basename: str, now: float) -> sqlite3.Row:
    """An empty photo (no files yet); `add_file` fills it in."""
    return conn.execute(
        """INSERT INTO photos (project_id, basename, basename_key, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?) RETURNING *""",
        (project_id, basename, basename.lower(), now, now)).fetchone()


def insert_many(conn: sqlite3.Connection, project_id: int, photos: Iterable[dict[str, Any]], now: float) -> int:
    """Insert many photos at once (keys: basename, and any of jpg_name/raw_name/other_name);
    each named file is available and kept, derivatives pending. For bulk loads and benchmarks."""
    rows = [(project_id, p["basename"], p["basename"].lower(), p.get("jpg_name"), p.get("raw_name"),
             p.get("other_name"), int(bool(p.get("jpg_name"))), int(bool(p.get("raw_name"))),
             int(bool(p.get("other_name"))), int(bool(p.get("jpg_name"))), int(bool(p.get("raw_name"))), now, now)
            for p in photos]
    conn.executemany(
        """INSERT INTO photos (project_id, basename, basename_key, jpg_name, raw_name, other_name,
               jpg_available, raw_available, other_available, keep_jpg, keep_raw,
               thumbnail_status, preview_status, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 'pending', ?, ?)""", rows)
    return len(rows)


def add_file(conn: sqlite3.Connection, project_id: int, *, basename: str, role: str, name: str,
             meta: dict[str, Any] | None, now: float, keep: bool = True) -> sqlite3.Row:
    """Record that file `name` (role jpg/raw/other) of photo `basename` is on disk.

    Creates the photo if needed; sets the role's keep flag to `keep` (import: keep what
    arrived), marks derivatives pending, and refreshes the mirrored metadata columns."""
    assert role in ROLES, role
    row = get_by_basename(conn, project_id, basename) or insert(conn, project_id, basename=basename, now=now)
    metadata = json.loads(row["metadata"] or "{}")
    if meta is not None:
        metadata[role] = meta
    keep_sql = f", keep_{role} = {1 if keep else 0}" if role != "other" else ""
    conn.execute(
        f"""UPDATE photos SET {role}_name = ?, {role}_available = 1{keep_sql},
                thumbnail_status = 'pending', preview_status = 'pending',
                metadata = ?, updated_at = ? WHERE id = ?""",
        (name, json.dumps(metadata, separators=(",", ":")), now, row["id"]))
    return _refresh_mirror(conn, row["id"], now)


def set_available(conn: sqlite3.Connection, photo_id: int, *, now: float, jpg: bool | None = None,
                  raw: bool | None = None, other: bool | None = None, clamp_keep: bool = True) -> sqlite3.Row:
    """Change availability flags (None leaves one as it is). A file that is gone cannot be
    kept, so its keep flag follows it down when `clamp_keep`."""
    sets, args = [], []
    for role, value in (("jpg", jpg), ("raw", raw), ("other", other)):
        if value is None:
            continue
        sets.append(f"{role}_available = ?")
        args.append(1 if value else 0)
        if not value and clamp_keep and role != "other":
            sets.append(f"keep_{role} = 0")
    if sets:
        conn.execute(f"UPDATE photos SET {', '.join(sets)}, updated_at = ? WHERE id = ?", (*args, now, photo_id))
    return _refresh_mirror(conn, photo_id, now)


def set_presence(conn: sqlite3.Connection, photo_id: int, *, now: float, present: dict[str, bool],
                 sidecars: list[str] | None = None) -> None:
    """Reconciliation's one write per photo: each role in `present` available or not, kept
    again when it came back (a file that is gone cannot be kept), and the sidecar list."""
    sets, args = [], []
    for role, on_disk in present.items():
        assert role in ROLES, role
        sets.append(f"{role}_available = ?")
        args.append(int(on_disk))
        if role != "other":
            sets.append(f"keep_{role} = ?")
            args.append(int(on_disk))
    if sidecars is not None:
        sets.append("sidecars = ?")
        args.append(json.dumps(sorted(set(sidecars))))
    if not sets:
        return
    row = conn.execute(f"UPDATE photos SET {', '.join(sets)}, updated_at = ? WHERE id = ? RETURNING *",
                       (*args, now, photo_id)).fetchone()
    if present and row is not None:
        _refresh_mirror(conn, photo_id, now, row=row)


def set_sidecars(conn: sqlite3.Connection, photo_id: int, sidecars: list[str], now: float) -> None:
    conn.execute("UPDATE photos SET sidecars = ?, updated_at = ? WHERE id = ?",
                 (json.dumps(sorted(set(sidecars))), now, photo_id))


def set_keep(conn: sqlite3.Connection, project_id: int, photo_ids: list[int] | None, *,
             keep_jpg: bool | None, keep_raw: bool | None, now: float) -> int:
    """Set keep intent for the given photos (None: all of the project). A flag given as None
    is left as it is; a file that is not available cannot be kept. Returns rows changed."""
    if keep_jpg is None and keep_raw is None:
        return 0
    # The flags are 0/1 integers on both backends: a product is their AND.
    new_jpg = "CASE WHEN CAST(:kj AS INTEGER) IS NULL THEN keep_jpg ELSE (:kj * jpg_available) END"
    new_raw = "CASE WHEN CAST(:kr AS INTEGER) IS NULL THEN keep_raw ELSE (:kr * raw_available) END"
    base = (f"UPDATE photos SET keep_jpg = {new_jpg}, keep_raw = {new_raw}, updated_at = :now "
            f"WHERE project_id = :p AND (keep_jpg != {new_jpg} OR keep_raw != {new_raw})")
    args: dict[str, Any] = {"kj": None if keep_jpg is None else int(keep_jpg),
                            "kr": None if keep_raw is None else int(keep_raw), "now": now, "p": project_id}
    if photo_ids is None:
        return conn.execute(base, args).rowcount
    changed = 0
    for chunk in _chunks(list(photo_ids)):
        ids = {f"i{n}": v for n, v in enumerate(chunk)}
        changed += conn.execute(base + f" AND id IN ({','.join(':' + k for k in ids)})", {**args, **ids}).rowcount
    return changed


def revert_keep(conn: sqlite3.Connection, project_id: int, now: float) -> int:
    """keep flags := availability. Returns how many photos changed."""
    return conn.execute(
        """UPDATE photos SET keep_jpg = jpg_available, keep_raw = raw_available, updated_at = ?
           WHERE project_id = ? AND (keep_jpg != jpg_available OR keep_raw != raw_available)""",
        (now, project_id)).rowcount


def set_derivatives(conn: sqlite3.Connection, photo_id: int, thumbnail_status: str | None,
                    preview_status: str | None, derivative_settings: dict | str | None, now: float,
                    error: str | None = None) -> None:
    """Record the outcome of making a photo's derivatives (settings as a dict or JSON text), with
    the reason when they could not be made (shown by `photos list`)."""
    if isinstance(derivative_settings, dict):
        derivative_settings = json.dumps(derivative_settings, sort_keys=True, separators=(",", ":"))
    conn.execute(
        """UPDATE photos SET thumbnail_status = ?, preview_status = ?, derivative_settings = ?,
                derivative_error = ?, updated_at = ? WHERE id = ?""",
        (thumbnail_status, preview_status, derivative_settings, error, now, photo_id))


def mark_derivatives_pending(conn: sqlite3.Connection, photo_ids: list[int], now: float) -> None:
    for chunk in _chunks(list(photo_ids)):
        conn.execute(f"""UPDATE photos SET thumbnail_status = 'pending', preview_status = 'pending',
                             derivative_settings = NULL, derivative_error = NULL, updated_at = ?
                         WHERE id IN ({','.join('?' * len(chunk))})""", (now, *chunk))


def delete_many(conn: sqlite3.Connection, photo_ids: list[int]) -> list[str]:
    """Delete photos; returns the basenames of those deleted."""
    out: list[str] = []
    for chunk in _chunks(list(photo_ids)):
        out += [r[0] for r in conn.execute(
            f"DELETE FROM photos WHERE id IN ({','.join('?' * len(chunk))}) RETURNING basename", chunk)]
    return out


def _refresh_mirror(conn: sqlite3.Connection, photo_id: int, now: float,
                    row: sqlite3.Row | None = None) -> sqlite3.Row:
    """Copy the primary file's metadata into the orientation/date/width/height columns (`row`:
    the photo as the caller's write returned it, spares reading it again)."""
    row = row if row is not None else get(conn, photo_id)
    metadata = json.loads(row["metadata"] or "{}")
    role = primary_role(row)
    # Each field from the primary file first, then from the others (a RAW may lack a date).
    order = [role] * bool(role) + [r for r in ("jpg", "other", "raw") if r != role]
    metas = [metadata[r] for r in order if metadata.get(r)]

    def pick(field: str):
        return next((m[field] for m in metas if m.get(field) is not None), None)
    values = (pick("orientation"), pick("date_time_original"), pick("width"), pick("height"))
    if values != (row["orientation"], row["date_time_original"], row["width"], row["height"]):
        return conn.execute(
            """UPDATE photos SET orientation = ?, date_time_original = ?, width = ?, height = ?
               WHERE id = ? RETURNING *""", (*values, photo_id)).fetchone()
    return row
