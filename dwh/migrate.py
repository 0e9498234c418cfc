"""Alembic's command API with the project's configuration.

Alembic runs in-process: the connection is opened here and handed to
``migrations/env.py`` through ``config.attributes``, so connection failures are
reported by dwh, and env.py takes the warehouse lock on it.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2.errors
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text as text_
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from dwh import db, sqlfiles
from dwh.errors import MigrationError, ProjectError
from dwh.settings import Settings, render_url, resolve_url

log = logging.getLogger(__name__)

VERSION_SCHEMA = "setup"


def config(settings: Settings, **attributes: object) -> Config:
    """The project's Alembic config, told not to reconfigure logging."""
    ini = settings.alembic_ini
    if not ini.is_file():
        raise ProjectError(
            f"no alembic.ini in {settings.project_dir}: run dwh from the project directory "
            f"(the one with alembic.ini, migrations/ and sql/) or set DWH_PROJECT_DIR"
        )
    cfg = Config(str(ini))
    cfg.attributes["configure_logging"] = False
    cfg.attributes.update(attributes)
    return cfg


def script_directory(settings: Settings) -> ScriptDirectory:
    return ScriptDirectory.from_config(config(settings))


@contextmanager
def quiet() -> Iterator[None]:
    """Silence Alembic's progress lines for work the user did not ask to watch
    (a scratch database, the SQL of a downgrade plan)."""
    logger = logging.getLogger("alembic")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _connected(settings: Settings, **attributes: object) -> Iterator[tuple[Config, Connection]]:
    url = resolve_url(settings)
    with db.connect(url, application_name="dwh migrate") as conn:
        yield config(settings, connection=conn, **attributes), conn


def _heads(conn: Connection) -> tuple[str, ...]:
    if conn.in_transaction():
        conn.commit()
    heads = MigrationContext.configure(
        conn, opts={"version_table_schema": VERSION_SCHEMA}
    ).get_current_heads()
    conn.commit()
    return heads


def _denied(conn: Connection, what: str, err: Exception) -> MigrationError | None:
    """A refusal for lack of privilege, told as who may do it instead."""
    if not isinstance(getattr(err, "orig", err), psycopg2.errors.InsufficientPrivilege):
        return None
    conn.rollback()
    user, owner = conn.execute(text_(
        "SELECT current_user, (SELECT pg_catalog.pg_get_userbyid(nspowner) "
        "FROM pg_catalog.pg_namespace WHERE nspname = 'setup')")).one()
    conn.rollback()
    return MigrationError(
        f"user {user} may not {what} ({db.error_line(err)}): that takes the role that "
        f"deployed the warehouse ({owner or 'the owner of its schemas'}), or a superuser; "
        f"a dwh_loader login runs the pipeline and reads the revision (dwh orchestrate, dwh runs, "
        f"dwh current)")


def _run(settings: Settings, what: str, fn, target: str, *, upgrading: bool,
         lock_timeout_s: float | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    with _connected(settings, lock_timeout_s=lock_timeout_s) as (cfg, conn):
        script = ScriptDirectory.from_config(cfg)
        try:
            before = _heads(conn)
        except DBAPIError as err:
            raise (_denied(conn, what, err) or err) from err
        _check_known(script, before, settings)
        try:
            fn(cfg, target)
        except CommandError as err:
            raise MigrationError(f"{what}: {err}") from err
        except (DBAPIError, psycopg2.Error) as err:
            denied = _denied(conn, what, err)
            if denied is not None:
                raise denied from err
            conn.rollback()
            now = _heads(conn)
            failed = _failing_revision(script, now, upgrading)
            raise MigrationError(
                f"{what}: revision {failed} failed: {_first_line(err)}; each revision runs in "
                f"its own transaction, so the database stays at {', '.join(now) or 'base'}"
            ) from err
        return before, _heads(conn)


def _failing_revision(script: ScriptDirectory, heads: tuple[str, ...], upgrading: bool) -> str:
    """The revision that was running when a migration stopped at ``heads``."""
    if not upgrading:
        return heads[0] if heads else "(none)"
    current = heads[0] if heads else None
    for rev in script.walk_revisions():
        down = rev.down_revision
        if down == current or (current is None and not down):
            doc = (rev.doc or "").strip().splitlines()
            return f"{rev.revision} ({doc[0]})" if doc else rev.revision
    return "(unknown)"


def _first_line(err: Exception) -> str:
    orig = getattr(err, "orig", None)
    text = str(orig if orig is not None else err).strip()
    return " ".join(text.splitlines()[:2]) if text else type(err).__name__


def _check_known(script: ScriptDirectory, heads: tuple[str, ...], settings: Settings) -> None:
    for head in heads:
        try:
            script.get_revision(head)
        except CommandError:
            known = script.get_current_head()
            raise MigrationError(
                f"the database is at revision {head}, which this project (head {known}) "
                f"does not know: it was deployed from a newer or different checkout; "
                f"update the project in {settings.project_dir} before migrating"
            ) from None


@dataclass(frozen=True)
class Change:
    """The result of an upgrade or downgrade."""

    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.before != self.after


def upgrade(settings: Settings, target: str = "head") -> Change:
    """Upgrade the warehouse to ``target`` (default: head), under the warehouse lock."""
    before, after = _run(settings, f"upgrade to {target}", command.upgrade, target,
                         upgrading=True, lock_timeout_s=settings.lock_timeout_s)
    return Change(before, after)


@dataclass(frozen=True)
class DowngradePlan:
    """What a downgrade would do: its SQL, and the tables it drops that hold rows."""

    current: str
    target: str
    sql: str
    tables_with_rows: list[tuple[str, int]]


_DROP_TABLE = re.compile(r"^DROP TABLE (?:IF EXISTS )?([\w.\"]+)\s*;", re.M | re.I)
_DROP_SCHEMA = re.compile(r"^DROP SCHEMA (?:IF EXISTS )?([\w\"]+) CASCADE\s*;", re.M | re.I)


def _resolve_target(script: ScriptDirectory, current: str | None, target: str) -> str:
    """A downgrade target as a revision id (or 'base'): -N counts down from current."""
    if target == "base":
        return "base"
    if re.fullmatch(r"-\d+", target):
        rev = current
        for _ in range(int(target[1:])):
            if rev is None:
                raise MigrationError(f"downgrade {target}: the database is only "
                                     f"{int(target[1:]) - 1} revision(s) above base")
            down = script.get_revision(rev).down_revision
            rev = down if isinstance(down, str) else None
        return rev or "base"
    try:
        return script.get_revision(target).revision
    except CommandError as err:
        raise MigrationError(f"downgrade to {target}: {err}") from err


def plan_downgrade(settings: Settings, target: str) -> DowngradePlan:
    """The SQL a downgrade would run, and which tables holding rows it would drop."""
    script = script_directory(settings)
    url = resolve_url(settings)
    with db.connect(url) as conn:
        heads = _heads(conn)
        _check_known(script, heads, settings)
        current = heads[0] if heads else None
        resolved = _resolve_target(script, current, target)
        if current is None:
            return DowngradePlan("base", resolved, "", [])
        with quiet():
            text = offline_sql(settings, resolved, downgrade_from=current)
        dropped = [m for m in _DROP_TABLE.findall(text)]
        for schema in _DROP_SCHEMA.findall(text):
            dropped += conn.execute(
                text_("SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
                      "JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE n.nspname = :s AND c.relkind IN ('r', 'p')"), {"s": schema.strip('"')}
            ).scalars().all()
        with_rows = []
        for table in dict.fromkeys(dropped):
            if conn.execute(text_("SELECT to_regclass(:t)"), {"t": table}).scalar() is None:
                continue
            rows = conn.execute(text_(f"SELECT count(*) FROM {_quoted(table)}")).scalar()
            if rows:
                with_rows.append((table, rows))
        conn.rollback()
    return DowngradePlan(current, resolved, text, with_rows)


def _quoted(table: str) -> str:
    """schema.table from the plan, each part quoted as an identifier."""
    return ".".join('"' + p.strip('"').replace('"', '""') + '"' for p in table.split(".", 1))


def downgrade(settings: Settings, target: str, *, drop_data: bool = False) -> Change:
    """Downgrade the warehouse to ``target`` (a revision, ``-1`` or ``base``).

    Refuses, naming them, when it would drop tables holding rows, unless
    ``drop_data`` (``dwh downgrade --yes``).  Plain ``alembic downgrade`` has no guard.
    """
    if not drop_data:
        plan = plan_downgrade(settings, target)
        if plan.tables_with_rows:
            listed = ", ".join(f"{t} ({n:,} rows)" for t, n in plan.tables_with_rows)
            raise MigrationError(
                f"downgrade to {target} would drop tables holding rows: {listed}; "
                f"see the SQL with --plan, and pass --yes to drop them")
    before, after = _run(settings, f"downgrade to {target}", command.downgrade, target,
                         upgrading=False, lock_timeout_s=settings.lock_timeout_s)
    return Change(before, after)


def offline_sql(settings: Settings, target: str, *, downgrade_from: str | None = None) -> str:
    """The SQL script of an upgrade (or of a ``FROM:TO`` downgrade), without a database."""
    buffer = io.StringIO()
    cfg = config(settings)
    cfg.output_buffer = buffer
    try:
        if downgrade_from is None:
            command.upgrade(cfg, target, sql=True)
        else:
            command.downgrade(cfg, f"{downgrade_from}:{target}", sql=True)
    except CommandError as err:
        raise MigrationError(f"offline SQL for {target}: {err}") from err
    return buffer.getvalue()


@dataclass(frozen=True)
class Current:
    """Where the database is."""

    url: str
    revisions: tuple[str, ...]
    head: str | None

    @property
    def at_head(self) -> bool:
        return self.revisions == ((self.head,) if self.head else ())


def current(settings: Settings) -> Current:
    """The database's revision(s) and the project's head; writes nothing."""
    script = script_directory(settings)
    url = resolve_url(settings)
    with db.connect(url) as conn:
        try:
            heads = _heads(conn)
        except DBAPIError as err:
            raise (_denied(conn, "read the warehouse's revision", err) or err) from err
    _check_known(script, heads, settings)
    return Current(render_url(url), heads, script.get_current_head())


@dataclass(frozen=True)
class HistoryEntry:
    revision: str
    down_revision: str | None
    message: str
    sql: dict[str, int]


def history(settings: Settings) -> list[HistoryEntry]:
    """The revision chain from base to head (no database needed)."""
    script = script_directory(settings)
    entries = []
    for rev in reversed(list(script.walk_revisions())):
        down = rev.down_revision if isinstance(rev.down_revision, str) else None
        entries.append(HistoryEntry(rev.revision, down, (rev.doc or "").strip(),
                                    dict(getattr(rev.module, "SQL", {}) or {})))
    return entries


def released_sql(settings: Settings) -> set[str]:
    """Every versioned SQL file the revisions apply or restore (relative to sql/)."""
    pairs = [(obj, v) for entry in history(settings) for obj, v in entry.sql.items()]
    return sqlfiles.referenced_files(pairs)


# -- dwh revision sql --------------------------------------------------------------------

REVISION_TEMPLATE = '''"""{message}

Revision ID: {rev}
Revises: {down}
Create Date: {date}

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "{rev}"
down_revision: str | Sequence[str] | None = {down_repr}
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Versioned SQL this revision applies; the downgrade restores version {prev}.
SQL: dict[str, int] = {{"{obj}": {version}}}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
'''


@dataclass(frozen=True)
class NewRevision:
    sql_file: Path
    revision_file: Path
    revision: str


def _slug(message: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "change"


def revision_sql(settings: Settings, obj: str, message: str, kind: str = "procedure") -> NewRevision:
    """Start the next version of ``obj`` and a revision that applies it."""
    if not message.strip():
        raise ProjectError("a revision needs a message: -m 'what this change does'")
    sqlfiles.check_object_name(obj)
    script = script_directory(settings)
    heads = script.get_heads()
    if len(heads) > 1:
        raise ProjectError(f"the revision chain has several heads ({', '.join(heads)}); merge them first")
    down = heads[0] if heads else None
    numbers = [int(r.revision) for r in script.walk_revisions() if r.revision.isdigit()]
    rev = f"{(max(numbers) + 1) if numbers else 1:04d}"
    new = sqlfiles.start_next_version(settings.sql_dir, obj, kind)
    target = Path(script.versions) / f"{rev}_{_slug(message)}.py"
    target.write_text(
        REVISION_TEMPLATE.format(
            message=message.strip(), rev=rev, down=down or "", down_repr=repr(down),
            date=dt.date.today().isoformat(), obj=obj, version=new.version,
            prev=new.version - 1 if new.version > 1 else "0 (drops the object)",
        ),
        encoding="utf-8",
    )
    return NewRevision(new.path, target, rev)


def release_sql(settings: Settings) -> list[str]:
    """Record every SQL file the revisions use in sql/MANIFEST.sha256."""
    return sqlfiles.release(settings.sql_dir, released_sql(settings))
