"""`photojobs upload`: import files and folders into a project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..engine.inline import Alongside
from ..photos.imaging_pool import warm_up
from ..photos.importing import (DUPLICATE_POLICIES, check_sources, import_files,
                                processing_failures)
from . import _dispatch, _progress, exit_codes
from ._options import JsonOpt, WaitOpt
from ._render import console, print_json, state, table, warn

HELP = f"""Import photos (files or folders, e.g. a card's DCIM) into a project.

Files are accepted when their extension is configured AND their content matches it; JPG and
RAW files with the same name become one photo; sidecars (.xmp...) follow their photo; files
that are not photos at all (.txt, .MOV...) are ignored (-v lists them). A photo has one JPG,
one RAW and one other image, and its name ignores case and extension: a second file for the
same photo (DSC1.JPG and dsc1.jpg) is not imported, or imported under a new name with
--on-duplicate rename. Copies are verified before they count; --move removes a source only
after that.

Without --project, the project is named after the source folder; for a camera's folder
(DCIM, 100CANON...) after the shoot's date from EXIF, else after the card's name.

Exit codes: 0 every photo file is in the project (or listed as not imported by
--on-duplicate skip); {exit_codes.PARTLY_DONE} some photo files were rejected or failed (the rest were imported),
or some photos could not be processed; {exit_codes.JOB_FAILED} files imported but a processing job failed;
{exit_codes.ERROR} usage or library error, or a source that is not there; {exit_codes.NOT_FOUND} unknown project."""


def upload(ctx: typer.Context,
           sources: Annotated[list[Path], typer.Argument(help="Files or folders to import.", show_default=False)],
           project: Annotated[Optional[str], typer.Option(
               "--project", "-p", help="Project name (default: the source folder's name, or for a camera's folder "
                                       "the shoot's date; created if missing).")] = None,
           move: Annotated[bool, typer.Option("--move", help="Remove each source once its copy is verified.")] = False,
           recursive: Annotated[bool, typer.Option("--recursive/--no-recursive", help="Descend into sub-folders.")] = True,
           on_duplicate: Annotated[str, typer.Option(
               "--on-duplicate", help=f"A different file with a name already in the project: {'|'.join(DUPLICATE_POLICIES)}.")] = "skip",
           dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be imported; change nothing.")] = False,
           wait: WaitOpt = None,
           json_out: JsonOpt = False) -> None:
    check_sources(sources)  # before the library is opened: a card that is not mounted creates nothing
    lib = state(ctx).library(create=True)
    # Without a daemon the processing runs here: start it with the first photo in place, so
    # previews are made while the rest copies (a daemon does the same on its own).
    here = not dry_run and _dispatch.runs_here(lib, wait)
    if here:
        warm_up()  # the decoders load while the card is scanned
    with _progress.bars(not json_out) as shown, \
            Alongside(lib, on_event=shown.on_event if shown else None) as alongside:
        report = import_files(lib, sources, project=project, move=move, recursive=recursive,
                              on_duplicate=on_duplicate, dry_run=dry_run, progress=shown.copy if shown else None,
                              on_job=alongside.start if here else None)
        if shown:
            shown.copy_done()
        handed = None if report.job is None else _dispatch.finish(
            lib, report.job, wait, quiet=json_out, alongside=alongside, on_event=shown.on_event if shown else None)
    mode, outcome = (handed.mode, handed.result) if handed else (None, None)
    not_processed = processing_failures(lib, outcome)
    code = _dispatch.exit_code(outcome)   # a failed job, unless some files were left out as well
    if report.partly_done or (code == exit_codes.OK and not_processed):
        code = exit_codes.PARTLY_DONE
    if json_out:
        print_json({**report.to_dict(), "task": outcome, "processing": mode, "processing_failed": not_processed,
                    "exit_code": code})
        raise typer.Exit(code)
    _summary(report, verbose=state(ctx).verbose)
    for f in not_processed:
        console.print(f"not processed: {f['name']}: {f['reason']}", markup=False, soft_wrap=True)
    if not_processed:
        n = len(not_processed)
        console.print(f"{n} photo{'s' if n > 1 else ''} could not be processed: imported, but without "
                      "thumbnails and previews", markup=False)
    problem = _dispatch.describe(outcome)
    job_id = report.job["id"] if report.job else None
    if problem:
        warn(f"processing did not complete: {problem}")
    elif job_id and outcome is None and mode == "daemon":
        console.print(f"thumbnails and previews: handed to the daemon as job {job_id}; `photojobs jobs watch` "
                      f"follows it, `photojobs jobs show {job_id}` tells how it went", markup=False)
    elif job_id and outcome is None:
        console.print(f"thumbnails and previews: queued as job {job_id}; `photojobs jobs run --until-empty` "
                      f"(or a daemon) makes them, `photojobs jobs show {job_id}` tells how it went", markup=False)
    raise typer.Exit(code)


def _summary(report, *, verbose: int = 0) -> None:
    verb = "would import" if report.dry_run else "imported"
    folder = (report.project or {}).get("folder") or (report.project or {}).get("name")
    if report.project_named_after:
        console.print(f"project {report.project['name']}: named after {report.project_named_after} "
                      "(--project names it yourself)", markup=False)
    if not report.dry_run and not (report.project or {}).get("folder"):
        found = "nothing to import" if report.rejected or report.failed else "no photos found"
        console.print(f"{found}: project {folder} was not created", markup=False)
    else:
        console.print(f"{verb} {len(report.imported)} files into {folder}"
                      + (f", {len(report.sidecars)} sidecars" if report.sidecars else "")
                      + (f", {len(report.completed_pairs)} completed JPG+RAW pairs" if report.completed_pairs else ""),
                      markup=False)
    if report.renamed:
        console.print(f"renamed {len(report.renamed)}: " + ", ".join(f"{r['name']} -> {r['as']}" for r in report.renamed),
                      markup=False)
    if report.overwritten:
        console.print(f"replaced {len(report.overwritten)} (previous files are in .trash): "
                      + ", ".join(report.overwritten), markup=False)
    identical = [s for s in report.skipped if s.get("identical", True)]
    different = [s for s in report.skipped if not s.get("identical", True)]
    if identical:
        console.print(f"skipped {len(identical)} duplicates", markup=False)
        if len(identical) <= 20:
            table(["skipped", "why"], [(s["name"], s["reason"]) for s in identical])
    # One line per file (not a table): long card paths stay whole and greppable.
    for word, entries in (("ignored", report.ignored if verbose else []), ("not imported", different),
                          ("rejected", report.rejected), ("failed", report.failed)):
        for r in entries:
            console.print(f"{word}: {r['path']}: {r['reason']}", markup=False, soft_wrap=True)
    if report.ignored:
        n = len(report.ignored)
        console.print(f"ignored {n} file{'s that are not photos' if n > 1 else ' that is not a photo'}"
                      + ("" if verbose else f" (-v lists {'them' if n > 1 else 'it'})"), markup=False)
    if different:
        # Not duplicates: other pictures under names the project (or this import) already
        # uses: a second card, a camera's counter wrapping. They are nowhere in the project.
        console.print(f"{len(different)} not imported: a different file has the same photo name "
                      "(--on-duplicate rename imports them under new names)", markup=False)
    if report.rejected or report.failed:
        console.print(f"{len(report.rejected)} rejected, {len(report.failed)} failed", markup=False)
