"""The publish outwaits no autovacuum: it waits long enough for the server to cancel one.

Each run replaces the published tables, and autovacuum VACUUMs the rows the last run
published (millions of new rows, never vacuumed).  A run's publish takes every table
in ACCESS EXCLUSIVE mode, trying for 100 ms at a time so that a reader of two tables
never deadlocks with it.  An autovacuum worker gives way only to a lock request that
has waited deadlock_timeout (the server then cancels it), so the publish waited for the
whole VACUUM of a table it was about to drop.  At scale 100, a second run right after
a first one spent 18.7 s in its publish; with a slow VACUUM (a table's
autovacuum_vacuum_cost_delay set high) the publish never ended.  setup.publish v4:
while a session holds SHARE UPDATE EXCLUSIVE on one of the tables (what a VACUUM
holds; read from pg_locks, which every role sees, where pg_stat_activity hides other
users' backend_type from the loader), each try waits deadlock_timeout and one second
more, and the server cancels an autovacuum (never one against wraparound; that, and a
VACUUM a user ran, are waited for as before); a deadlock with a reader meanwhile makes
the publish give way and try again.  Measured on the
embedded server with a VACUUM crawling at 100 ms a page: the publish took 1.15 s; at
0029 the run was still waiting after 60 s.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "0030"
down_revision: str | Sequence[str] | None = '0029'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Versioned SQL this revision applies; the downgrade restores version 3.
SQL: dict[str, int] = {"setup.publish": 4}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
