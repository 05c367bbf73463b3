"""`photojobs catalog`: check the catalog file, rebuild it from the project folders, move it into another database."""

from __future__ import annotations

from typing import Annotated

import typer

from ..daemon.state import lock_holder
from ..errors import PhotojobsError
from ..photos import catalog_care, catalog_move
from ..photos.catalog_care import counted
from . import exit_codes
from ._options import JsonOpt
from ._render import console, err_console, print_json, state

app = typer.Typer(help="Check the catalog, rebuild it from the project folders when it is lost or damaged, "
                  "or move it into another database.",
                  no_args_is_help=True)


@app.command("check")
def check(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Check the catalog for damage, and its projects against the project folders.

    SQLite's full integrity check (every page, index and foreign key); reads only.

    Exit codes: 0 sound; 1 damaged, or lost (missing, empty or listing no projects while
    project folders exist); 3 no library there."""
    report = catalog_care.check(state(ctx).library_root(), state(ctx).config)
    if json_out:
        print_json(report.to_dict())
    else:
        if report.ok:
            how = "sound" if report.backend == "sqlite" else f"reachable, schema {report.schema or 'none yet'}"
            console.print(f"catalog {report.catalog}: {how} ({counted(report.projects, 'project')}, "
                          f"{counted(report.photos, 'photo')})",
                          markup=False, soft_wrap=True)
        else:
            err_console.print(f"photojobs: catalog {report.catalog} is {report.state}:", markup=False, soft_wrap=True)
            for problem in report.problems[:20]:
                err_console.print(f"  {problem}", markup=False, soft_wrap=True)
            if len(report.problems) > 20:
                err_console.print(f"  ... and {len(report.problems) - 20} more", markup=False)
            err_console.print("`photojobs catalog rebuild` makes a new catalog from the project folders "
                              "(the old one is kept aside)", markup=False, soft_wrap=True)
        if report.unlisted_folders:
            console.print(f"project folders the catalog does not list: {', '.join(report.unlisted_folders)}",
                          markup=False, soft_wrap=True)
        if report.backend != "sqlite":
            console.print("backups: the PostgreSQL server's job (photojobs backs up SQLite catalogs only)",
                          markup=False)
        else:
            console.print(f"backups: {len(report.backups)}" + (f", newest {report.backups[0]}" if report.backups else ""),
                          markup=False)
    raise typer.Exit(exit_codes.OK if report.ok else exit_codes.ERROR)


@app.command("rebuild")
def rebuild(ctx: typer.Context,
            force: Annotated[bool, typer.Option(
                "--force", help="Rebuild even a sound catalog that lists projects (moved aside, not deleted).")] = False,
            json_out: JsonOpt = False) -> None:
    """Re-create a lost or damaged catalog from the project folders.

    One project per folder with a .photojobs-project marker, its photos from the files by the
    import's rules (JPG+RAW pairs, sidecars). Keep flags come from the old catalog when it is
    sound, else from the newest sound backup in .photojobs/backups. No file is moved or deleted;
    the old catalog is kept beside the new one as catalog-replaced-<time>.db. Job history is not
    rebuilt.

    Exit codes: 0 rebuilt; 1 refused (a sound catalog without --force, a running daemon, no
    project folders) or failed."""
    st = state(ctx)
    root = st.library_root()
    holder = lock_holder(root)
    if holder is not None:
        raise PhotojobsError(f"a daemon (pid {holder}) is running for {root}; stop it first (`photojobs daemon stop`)")
    report = catalog_care.rebuild(root, st.config, force=force)
    if json_out:
        print_json(report.to_dict())
        return
    photos = sum(p.photos for p in report.projects)
    lines = [f"rebuilt the catalog {report.catalog}: {counted(len(report.projects), 'project')}, "
             f"{counted(photos, 'photo')}"]
    for p in report.projects:
        restored = (f", keep flags of {p.flags_restored} from {p.flags_from}" if p.flags_restored
                    else ", every photo kept (no sound copy of the catalog lists it)")
        lines.append(f"  {p.folder}: {counted(p.photos, 'photo')}{restored}")
        lines += [f"  {p.folder}: left alone ({why}): {name}" for name, why in sorted(p.not_photos.items())]
        lines += [f"  {p.folder}: left alone (a second file for one photo): {name}" for name in p.clashes]
    lines += [f"the old catalog is kept as {path}" for path in report.kept_aside]
    for line in lines:
        console.print(line, markup=False, soft_wrap=True)


@app.command("migrate")
def migrate(ctx: typer.Context,
            to: Annotated[str, typer.Option(
                "--to", metavar="URL",
                help="The empty catalog to move to: postgresql://USER@HOST/DB, sqlite:///abs/path or a file path.")],
            json_out: JsonOpt = False) -> None:
    """Move the catalog into another database, in one transaction, ids kept.

    Typically the library's SQLite catalog into PostgreSQL, so that several machines share the
    library (README "Several machines"); or into another SQLite file. Projects, photos and their
    keep flags, jobs and their items, events, schedule runs, settings and the files that are not
    photos move; open import feeds of this host stay behind. The old catalog is left as it was.
    Says how many rows of each table moved, and the line to put in the config file.

    Exit codes: 0 moved; 1 refused (the target holds projects, photos or jobs; a running daemon)
    or failed, nothing copied."""
    st = state(ctx)
    root = st.library_root()
    holder = lock_holder(root, st.config)
    if holder is not None:
        raise PhotojobsError(f"a daemon (pid {holder}) is running for {root}; stop it first (`photojobs daemon stop`)")
    report = catalog_move.migrate_catalog(st.library(), to)
    if json_out:
        print_json(report.to_dict())
        return
    moved = ", ".join(f"{n} {table}" for table, n in report.counts.items())
    console.print(f"moved the catalog to {report.target}: {moved}", markup=False, soft_wrap=True)
    for table, n in report.left_behind.items():
        console.print(f"  left behind: {n} {table} rows (open import feeds of this host)", markup=False, soft_wrap=True)
    console.print(report.advice + (":" if report.config_line else ""), markup=False, soft_wrap=True)
    if report.config_line:
        console.print(f"  {report.config_line}", markup=False, soft_wrap=True)
