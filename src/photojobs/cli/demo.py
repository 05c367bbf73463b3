"""`photojobs demo`: import and process a generated sample shoot (no photos of your own needed)."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ..engine.projects import get_project
from ..engine.sample import make_sample_shoot
from ._render import console, state
from .upload import upload


def demo(ctx: typer.Context,
         photos: Annotated[int, typer.Option("--photos", min=1, max=200, help="How many sample photos to make.")] = 8,
         project: Annotated[str, typer.Option("--project", "-p", help="Project to import them into.")] = "Sample shoot") -> None:
    """Make a small sample shoot, import it into a project and make its thumbnails and previews."""
    with tempfile.TemporaryDirectory(prefix="photojobs-demo-") as tmp:
        card = Path(tmp) / "card"
        make_sample_shoot(card, photos)
        console.print(f"library: {state(ctx).library(create=True).root}", markup=False)
        try:
            ctx.invoke(upload, ctx=ctx, sources=[card / "DCIM"], project=project, move=False, recursive=True,
                       on_duplicate="skip", dry_run=False, wait=True, json_out=False)
        except typer.Exit as done:
            if done.exit_code == 0:
                lib = state(ctx).library()
                folder = get_project(lib, project)["folder"]
                console.print(f"next: photojobs --library {shlex.quote(str(lib.root))} photos list {shlex.quote(project)}"
                              f"  ·  thumbnails in {lib.project_path(folder) / '.thumb'}", markup=False)
            raise
