"""Errors the library raises for the CLI and the daemon to turn into one-line messages."""


class PhotojobsError(Exception):
    """A problem the user can act on; `exit_code` is what the CLI exits with."""

    exit_code = 1
    http_status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigError(PhotojobsError):
    exit_code = 2


class NotFound(PhotojobsError):
    exit_code = 3
    http_status = 404


class UnknownJobType(PhotojobsError):
    def __init__(self, job_type: str):
        super().__init__(f"Unknown job type: {job_type}")
        self.job_type = job_type


class SchemaTooNew(PhotojobsError):
    exit_code = 4


class PermanentJobError(PhotojobsError):
    """A job (or item) failure that cannot succeed on retry: fail at once, no backoff."""


class BadPayload(PermanentJobError):
    pass


class ProjectMissing(PermanentJobError):
    http_status = 404


class ProjectFolderMissing(PhotojobsError):
    """A catalogued project's folder (or its marker) is gone: most likely an unmounted drive."""

    http_status = 409


class CatalogError(PhotojobsError):
    """The catalog file itself is the problem (not the request): damaged, unwritable or lost."""

    http_status = 500


class CatalogCorrupt(CatalogError):
    """The catalog file is damaged (not a database, truncated, failing its integrity check)."""


class CatalogUnwritable(CatalogError):
    """The catalog (or its folder) cannot be written: permissions, a read-only disk."""


class CatalogLost(CatalogError):
    """The catalog is missing or empty while the library holds project folders: starting a new
    one would orphan every photo in them."""


class BackupFailed(CatalogError):
    """A catalog backup could not be written (its folder is unwritable, the disk is full)."""
