"""Schemas of the warehouse: bronze, silver, gold and setup.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LAYERS = {
    "bronze": "Raw source files, as delivered: one table per source file, every value as text.",
    "silver": "Cleaned and conformed data, same grain as bronze, typed.",
    "gold": "Star schema for analysts: dimensions and facts, built from silver.",
}
SETUP = "Orchestration: procedures, etl_config, run history, quality checks, alembic_version."


def upgrade() -> None:
    for name, comment in LAYERS.items():
        op.execute(sa.schema.CreateSchema(name))
        op.execute(f"COMMENT ON SCHEMA {name} IS '{comment}'")
    # setup already exists: migrations/env.py creates it to hold alembic_version.
    op.execute(sa.schema.CreateSchema("setup", if_not_exists=True))
    op.execute(f"COMMENT ON SCHEMA setup IS '{SETUP}'")


def downgrade() -> None:
    # setup stays: it holds alembic_version, which outlives every revision.
    op.execute("COMMENT ON SCHEMA setup IS NULL")
    for name in reversed(LAYERS):
        op.execute(sa.schema.DropSchema(name))
