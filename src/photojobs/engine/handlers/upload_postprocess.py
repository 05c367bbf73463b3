"""upload_postprocess: the first step after an import, making the derivatives of the photos it brought."""

from __future__ import annotations

from .. import derivatives
from ..registry import handler


@handler("upload_postprocess", priority=90)
def run(ctx) -> None:
    """The import queues one item per photo it touched; the same work as generate_derivatives,
    so a re-import of unchanged files decodes nothing."""
    force, filenames = derivatives.parse_payload(ctx.payload)
    if not ctx.has_items():
        derivatives.create_items(ctx, filenames, force=force)
    derivatives.process(ctx, force=force)
