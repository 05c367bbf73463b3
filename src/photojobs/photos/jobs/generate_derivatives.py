"""generate_derivatives: make the thumbnails and previews of a project's photos that need them."""

from __future__ import annotations

from photojobs.engine.registry import handler

from .. import derivatives, derivatives_work


@handler("generate_derivatives", priority=50)
def run(ctx) -> None:
    """Payload {force?: bool, filenames?: [str]}. Without items, the job takes one per candidate
    photo when it starts (not when queued: what needs doing is decided as late as possible)."""
    force, filenames = derivatives.parse_payload(ctx.payload)
    if not ctx.has_items():
        derivatives_work.create_items(ctx, filenames, force=force)
    derivatives_work.process(ctx, force=force)
