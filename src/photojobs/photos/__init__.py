"""The photo domain: projects, import, culling, trash, derivatives, reconciliation and their job types."""
