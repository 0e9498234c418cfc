"""Staged tables out of autovacuum's way; published tables keep their storage parameters.

A run builds every table anew in a stage schema and swaps it in at the publish.
On a server with autovacuum on (the default), a staged table of millions of new
rows soon qualifies for an autovacuum (insert threshold): it takes a core from
the run, and the publish, which takes its locks 100 ms at a time so as never to
queue in front of readers, never waits long enough (deadlock_timeout) for the
server to cancel it, so it waits for the whole VACUUM.

Staged tables are now created with autovacuum_enabled = false (bronze's by
setup.prepare_stage, the built ones by setup.finish_stage in the transaction that
builds them, the key map's scratch by gold.load_surrogate_keys); the run ANALYZEs
them itself. setup.swap_table gives the table it swaps in the storage parameters
of the one it replaces (fillfactor, autovacuum settings, TOAST ones): before, a
parameter a DBA set on a published table was lost at the next run.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-29

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Versioned SQL this revision applies, in this order; the downgrade restores the
# versions before.
SQL: dict[str, int] = {
    "setup.prepare_stage": 2,
    "setup.finish_stage": 2,
    "gold.load_surrogate_keys": 6,
    "setup.swap_table": 3,
}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
