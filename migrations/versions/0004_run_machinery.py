"""Run machinery: stage schemas, quality-check definitions, run bookkeeping, publish.

A run builds each layer into its stage schema (bronze_stage, silver_stage,
gold_stage), runs the quality checks on the staged data, then publishes every
staged table in one short transaction (setup.publish / setup.swap_table).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dwh import sqlfiles

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAGES = {
    "bronze_stage": "Work tables of a run: bronze being loaded, published by swapping in.",
    "silver_stage": "Work tables of a run: silver being built, published by swapping in.",
    "gold_stage": "Work tables of a run: gold being built, published by swapping in.",
}

SQL: dict[str, int] = {
    "setup.parse_int": 1,
    "setup.parse_iso_date": 1,
    "setup.parse_yyyymmdd": 1,
    "setup.begin_run": 1,
    "setup.step_begin": 1,
    "setup.step_end": 1,
    "setup.lock_warehouse": 1,
    "setup.release_lock": 1,
    "setup.fail_run": 1,
    "setup.layer_schema": 1,
    "setup.prepare_stage": 1,
    "setup.swap_table": 1,
    "setup.run_step": 1,
    "setup.run_quality_checks": 1,
    "setup.publish": 1,
}


def upgrade() -> None:
    for name, comment in STAGES.items():
        op.execute(sa.schema.CreateSchema(name))
        op.execute(f"COMMENT ON SCHEMA {name} IS '{comment}'")
    op.create_table(
        "quality_checks",
        sa.Column("check_name", sa.Text, primary_key=True),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("query", sa.Text, nullable=False,
                  comment="SELECT returning the violating rows; {bronze}, {silver} and {gold} "
                          "stand for the schema the run checks (staged or published)."),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.CheckConstraint("layer IN ('bronze', 'silver', 'gold')", name="layer_valid"),
        sa.CheckConstraint("severity IN ('error', 'warning')", name="severity_valid"),
        schema="setup",
        comment="Quality checks run by every run: a failed error check fails the run, "
                "a warning is recorded. Add your own rows.",
    )
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
    op.drop_table("quality_checks", schema="setup")
    for name in reversed(STAGES):
        # Stage tables are work tables of runs: they go with their schema.
        op.execute(sa.schema.DropSchema(name, cascade=True))
