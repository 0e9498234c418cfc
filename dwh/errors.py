"""The exception hierarchy of dwh.

Library code raises these (``raise ... from err`` keeps the cause); the CLI turns
them into one line on stderr and exit code 1.  Every message names the thing that
is wrong (file, line, table, revision, step) and says what to do next.
"""


class DwhError(Exception):
    """Base class of every error dwh reports to its user."""


class ConfigError(DwhError):
    """A setting (URL, directory, option) is missing or malformed."""


class ProjectError(DwhError):
    """The project on disk (alembic.ini, migrations/, sql/) is incomplete or inconsistent."""


class DatabaseUnavailable(DwhError):
    """The database server cannot be reached or refuses the login."""


class DatabaseMissing(DatabaseUnavailable):
    """The warehouse database does not exist on a reachable server."""


class EmbeddedServerError(DwhError):
    """The embedded PostgreSQL server cannot be started, found or stopped."""


class MigrationError(DwhError):
    """A revision failed, or the database is at a revision this project does not know."""


class SqlFileError(ProjectError):
    """A versioned SQL file is missing, malformed, or a released file was edited."""


class LockTimeout(DwhError):
    """Another migration or run holds the warehouse lock for longer than allowed."""


class NotDeployed(DwhError):
    """The database has not been upgraded far enough to run the pipeline."""


class RunFailed(DwhError):
    """A pipeline run failed; the message names the step and the cause."""

    def __init__(self, message: str, run_id: int | None = None):
        super().__init__(message)
        self.run_id = run_id
