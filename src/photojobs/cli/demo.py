"""`photojobs demo`: import and process a generated sample shoot (no photos of your own needed)."""

from __future__ import annotations

import shlex
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from ..photos.culling import list_photos
from ..photos.projects import get_project
from ..photos.sample import make_sample_shoot
from . import exit_codes
from ._render import console, state
from .upload import upload


def demo(ctx: typer.Context,
         photos: Annotated[int, typer.Option(
        "--photos", min=1, max=200, help="How many sample shots to make (besides the broken file).")] = 8,
         project: Annotated[str, typer.Option("--project", "-p", help="Project to import them into.")] = "Sample shoot") -> None:
    """Make a sample card (JPG+RAW pairs, a RAW alone, and one JPG cut short as a card pulled out
    mid-write leaves it), import it into a project and make its thumbnails and previews: the
    pairs become one photo each, and the broken file fails and says why."""
    with tempfile.TemporaryDirectory(prefix="photojobs-demo-") as tmp:
        card = Path(tmp) / "card"
        broken = make_sample_shoot(card, photos)[-1].name
        console.print(f"library: {state(ctx).library(create=True).root}", markup=False)
        try:
            ctx.invoke(upload, ctx=ctx, sources=[card / "DCIM"], project=project, move=False, recursive=True,
                       on_duplicate="skip", dry_run=False, wait=True, json_out=False)
        except typer.Exit as done:
            # Upload exits 5 for the broken file planted on the card: that failure is the demo's
            # point, so only an unplanted one (or any other error) makes the demo fail.
            if done.exit_code in (exit_codes.OK, exit_codes.PARTLY_DONE):
                unplanned = _tell(state(ctx).library(), project, broken)
                raise typer.Exit(exit_codes.PARTLY_DONE if unplanned else exit_codes.OK) from None
            raise


_PLURAL = {"JPG+RAW pair": "JPG+RAW pairs", "RAW alone": "RAWs alone", "JPG alone": "JPGs alone"}


def _tell(lib, project: str, broken: str) -> list[str]:
    """What the catalog made of the card: pairs, lone files, and each failure with its reason.
    Returns the photos that failed other than the one planted broken."""
    shots = list_photos(lib, project)
    kinds = Counter("JPG+RAW pair" if p["jpg_name"] and p["raw_name"] else
                    "RAW alone" if p["raw_name"] else "JPG alone" for p in shots)
    console.print(f"{len(shots)} photos: " + ", ".join(f"{n} {kind if n == 1 else _PLURAL[kind]}"
                                                       for kind, n in kinds.items()), markup=False)
    unplanned = [p["filename"] for p in shots if p["derivative_error"] and p["filename"] != broken]
    for p in shots:
        if p["derivative_error"]:
            why = " (on purpose: the sample card's last file was cut short)" if p["filename"] == broken else ""
            console.print(f"failed: {p['filename']}: {p['derivative_error']}{why}", markup=False, soft_wrap=True)
    folder = get_project(lib, project)["folder"]
    console.print(f"next: photojobs --library {shlex.quote(str(lib.root))} photos list {shlex.quote(project)}"
                  f"  ·  thumbnails in {lib.project_path(folder) / '.thumb'}", markup=False)
    return unplanned
