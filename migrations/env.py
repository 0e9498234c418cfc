"""Alembic environment of the warehouse.

* The database comes from dwh's one resolver (``dwh.settings``): a connection
  handed in through ``config.attributes["connection"]`` (dwh and the tests run
  Alembic in-process), else DWH_DATABASE_URL, else the embedded server.
* The version table is ``setup.alembic_version``; each revision runs in its
  own transaction.
* The whole run holds the warehouse's session-level advisory lock, so two
  concurrent upgrades serialize: the second waits, then reads the version
  table and finds nothing left to do.
"""

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text

from dwh import db, settings

config = context.config
VERSION_SCHEMA = "setup"

if config.attributes.get("configure_logging", True) and config.config_file_name:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

COMMON_OPTIONS = dict(
    version_table_schema=VERSION_SCHEMA,
    transaction_per_migration=True,
)


def run_offline() -> None:
    """``--sql``: write the script; nothing is resolved or started."""
    # paramstyle "named": a literal's % is written as is (pyformat, psycopg2's default,
    # would double it, and psql would store '%%').
    context.configure(dialect_name="postgresql", literal_binds=True,
                      dialect_opts={"paramstyle": "named"}, **COMMON_OPTIONS)
    context.execute(f"CREATE SCHEMA IF NOT EXISTS {VERSION_SCHEMA}")
    with context.begin_transaction():
        context.run_migrations()


def _run(connection) -> None:
    with db.warehouse_lock(connection, timeout_s=config.attributes.get("lock_timeout_s")):
        context.configure(connection=connection, **COMMON_OPTIONS)
        # Only a command that writes versions (dwh's in-process upgrade and
        # downgrade, or alembic upgrade/downgrade/stamp) creates anything.
        command = getattr(config.cmd_opts, "cmd", None)
        writes = command is None or command[0].__name__ in ("upgrade", "downgrade", "stamp")
        if writes and not context.get_context().opts.get("dont_mutate"):
            # The version table lives in the setup schema, which must exist
            # before Alembic creates that table; revision 0001 documents it.
            exists = connection.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": VERSION_SCHEMA}
            ).first()
            if not exists:
                connection.execute(text(f"CREATE SCHEMA {VERSION_SCHEMA}"))
            connection.commit()
        with context.begin_transaction():
            context.run_migrations()
        if connection.in_transaction():
            connection.commit()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = settings.resolve_url(settings.Settings.from_environ(os.environ))
    with db.connect(url, application_name="alembic") as connection:
        _run(connection)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
