"""Storage: the SQLite catalog, its migrations, and one repository module per table.

Everything that speaks SQL lives in this package; the engine calls repository functions
with a connection, so another backend can replace this package without touching the engine.
"""

from .db import Catalog, atomic, after_commit

__all__ = ["Catalog", "atomic", "after_commit"]
