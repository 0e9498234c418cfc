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

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
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
def _connected(settings: Settings, **attributes: object) -> Iterator[tuple[Config, Connection]]:
    url = resolve_url(settings)
    with db.connect(url) as conn:
        yield config(settings, connection=conn, **attributes), conn


def _heads(conn: Connection) -> tuple[str, ...]:
    if conn.in_transaction():
        conn.commit()
    heads = MigrationContext.configure(
        conn, opts={"version_table_schema": VERSION_SCHEMA}
    ).get_current_heads()
    conn.commit()
    return heads


def _run(settings: Settings, what: str, fn, target: str, *, upgrading: bool,
         lock_timeout_s: float | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    with _connected(settings, lock_timeout_s=lock_timeout_s) as (cfg, conn):
        script = ScriptDirectory.from_config(cfg)
        before = _heads(conn)
        _check_known(script, before, settings)
        try:
            fn(cfg, target)
        except CommandError as err:
            raise MigrationError(f"{what}: {err}") from err
        except DBAPIError as err:
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


def _first_line(err: DBAPIError) -> str:
    text = str(err.orig).strip() if err.orig is not None else str(err)
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


def upgrade(settings: Settings, target: str = "head", *,
            lock_timeout_s: float | None = None) -> Change:
    """Upgrade the warehouse to ``target`` (default: head)."""
    before, after = _run(settings, f"upgrade to {target}", command.upgrade, target,
                         upgrading=True, lock_timeout_s=lock_timeout_s)
    return Change(before, after)


def downgrade(settings: Settings, target: str, *,
              lock_timeout_s: float | None = None) -> Change:
    """Downgrade the warehouse to ``target`` (a revision, ``-1`` or ``base``)."""
    before, after = _run(settings, f"downgrade to {target}", command.downgrade, target,
                         upgrading=False, lock_timeout_s=lock_timeout_s)
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
        heads = _heads(conn)
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
