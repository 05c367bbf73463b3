"""upload_postprocess: the first step after an import, making the derivatives of the photos it brought.

The import queues one item per photo it touched; the work is generate_derivatives' own, so a
re-import of unchanged files decodes nothing."""

from __future__ import annotations

from photojobs.engine.registry import handler

from .generate_derivatives import run

handler("upload_postprocess", priority=90)(run)
