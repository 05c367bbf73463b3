"""Errors the library raises for the CLI and the daemon to turn into one-line messages."""


class PhotojobsError(Exception):
    """A problem the user can act on (the CLI's exit code for each type is in cli/exit_codes.py)."""

    http_status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigError(PhotojobsError):
    pass


class UsageError(PhotojobsError):
    """A command asked for something contradictory or incomplete (names and --all, neither...)."""


class NotFound(PhotojobsError):
    http_status = 404


class UnknownJobType(PhotojobsError):
    def __init__(self, job_type: str):
        super().__init__(f"Unknown job type: {job_type}")
        self.job_type = job_type


class SchemaTooNew(PhotojobsError):
    pass


class StorageFull(PhotojobsError):
    """A write failed because the disk (or the quota) is full: the catalog's (SQLite's SQLITE_FULL)
    or the one a file was written to. Nothing half-written was kept, and it is no job's fault: the
    same work succeeds once there is room, so its job goes back to the queue instead of failing."""

    http_status = 507   # Insufficient Storage


class StorageBusy(PhotojobsError):
    """The catalog stayed locked by another writer past the busy timeout (a slow disk, a long
    transaction in another process). Nothing was written; the same call succeeds later, so
    loops retry it and never count it against a job."""

    http_status = 503   # Service Unavailable: try again


class PermanentJobError(PhotojobsError):
    """A job (or item) failure that cannot succeed on retry: fail at once, no backoff."""


class BadPayload(PermanentJobError):
    pass


class WrongLibrary(PhotojobsError):
    """The catalog and the library folder are not the same library (their library ids differ):
    a wrong --library, a share mounted in the wrong place, or a catalog.url naming another
    library's catalog. Nothing was changed."""

    http_status = 409


class ForeignProjectFolder(WrongLibrary, PermanentJobError):
    """A project folder whose marker names another library: a folder copied in from elsewhere,
    or a catalog pointed at the wrong share. A job meeting one fails at once."""


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
