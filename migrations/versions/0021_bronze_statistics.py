"""Smaller statistics samples for bronze: run.bronze_statistics_target (10).

Measured at scale 10 (bench/, 604,000 sales lines): the ANALYZE after a bronze
load took 0.38 s with the server's default target (100: a sample of 30,000 rows,
statistics for every text column), a third of the load of the largest file, and
0.04 s with 10. Bronze is raw text that silver reads whole, so its plans need
little more than the row counts; a user who queries bronze directly can raise
the setting. Silver and gold keep the server's default.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import insert

from dwh import sqlfiles

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "setup.load_bronze_file": 2,
}

etl_config = sa.table("etl_config", sa.column("key", sa.Text), sa.column("value", sa.Text),
                      sa.column("description", sa.Text), schema="setup")
SEED = {"key": "run.bronze_statistics_target", "value": "10",
        "description": "statistics target of the ANALYZE after each bronze load (the server's "
                       "default_statistics_target, 100, samples 30,000 rows of every table); "
                       "raise it to query bronze directly."}


def upgrade() -> None:
    op.execute(insert(etl_config).values(SEED).on_conflict_do_nothing(index_elements=["key"]))
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
    op.execute(etl_config.delete().where(etl_config.c.key == SEED["key"]))
