"""`photojobs demo`: import and process a generated sample shoot (no photos of your own needed)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

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
        console.print(f"library: {state(ctx).library().root}", markup=False)
        try:
            ctx.invoke(upload, ctx=ctx, sources=[card / "DCIM"], project=project, move=False, recursive=True,
                       on_duplicate="skip", dry_run=False, wait=True, json_out=False)
        except typer.Exit as done:
            if done.exit_code == 0:
                console.print(f'next: photojobs photos list "{project}"  ·  photojobs jobs list  ·  '
                              f'thumbnails in {state(ctx).library().root / project / ".thumb"}', markup=False)
            raise
