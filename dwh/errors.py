"""The exception hierarchy of dwh.

Library code raises these (``raise ... from err`` keeps the cause); the CLI turns
them into one line on stderr and exit code 1.  Every message names the thing that
is wrong (file, line, table, revision, step) and says what to do next.
"""

import re


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


#: How long a message may be where it is shown or recorded (an error line, a step's
#: message): a file can put anything in one (3,000 header names, a 10 MB field).
MESSAGE_LIMIT = 1000
# Characters a terminal acts on or breaks a line at: C0 and C1 controls, DEL, the
# Unicode line and paragraph separators, and the bidirectional overrides.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _printable(text: str) -> str:
    return _CONTROL.sub(_escape, text.replace("\r\n", "\n").replace("\n", " "))


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` as one readable line of at most ``limit`` characters: line breaks become
    spaces, other control characters are escaped (\x1b, \u2028), and the middle of a
    longer text is cut out (its start says what failed, its end often what to do)."""
    text = text.strip()
    if len(text) <= limit:
        shown = _printable(text)
        if len(shown) <= limit:
            return shown
    keep = max(1, (limit - 7) // 2)  # escaping only grows a text: cut, then escape
    return f"{_printable(text[:keep])[:keep]} [...] {_printable(text[-keep:])[-keep:]}"
