"""Import (upload): bring files into a project safely, pair JPG+RAW, catalog them, start processing.

The flow does not know who drives it: progress goes to a plain callback (the CLI draws rich
bars from it, the daemon forwards it), and the result is an ImportReport. Its parts, in the
order an import goes through them: accepting (which files), naming (which project),
planning (what to do with each file), placing (doing it), run (the whole import).
"""

from .accepting import check_sources
from .naming import default_project_name
from .planning import DUPLICATE_POLICIES, PlannedFile, plan_names
from .report import ImportProgress, ImportReport, processing_failures
from .run import import_files

__all__ = ["DUPLICATE_POLICIES", "ImportProgress", "ImportReport", "PlannedFile",
           "check_sources", "default_project_name", "import_files", "plan_names", "processing_failures"]
