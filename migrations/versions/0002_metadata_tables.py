"""Metadata tables: etl_config, run history, bronze.load_jobs and bronze.load_log.

Run history is one design for all three layers: a run (setup.etl_runs) has
steps (setup.etl_run_steps), one per target table or quality check, each with
its layer, status, rows, start, end and message.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dwh import sqlfiles

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {"setup.touch_updated_at": 1}

TS = sa.TIMESTAMP(timezone=True)
NOW = sa.text("clock_timestamp()")


def _status(column: str, *values: str) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_valid")


def upgrade() -> None:
    sqlfiles.apply_all(SQL)

    op.create_table(
        "etl_config",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.text("now()")),
        schema="setup",
        comment="Settings the pipeline reads; a user's value is never overwritten by a deploy.",
    )
    op.execute(
        "CREATE TRIGGER etl_config_touch BEFORE UPDATE ON setup.etl_config "
        "FOR EACH ROW EXECUTE FUNCTION setup.touch_updated_at()"
    )

    op.create_table(
        "etl_runs",
        sa.Column("run_id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("status", sa.Text, nullable=False, server_default="running"),
        sa.Column("layers", sa.Text, nullable=False, server_default="all"),
        sa.Column("bronze_source", sa.Text, comment="server (COPY from etl_config paths) or client"),
        sa.Column("started_at", TS, nullable=False, server_default=NOW),
        sa.Column("finished_at", TS),
        sa.Column("db_user", sa.Text, nullable=False, server_default=sa.text("current_user")),
        sa.Column("backend_pid", sa.Integer, server_default=sa.text("pg_backend_pid()")),
        sa.Column("application_name", sa.Text,
                  server_default=sa.text("current_setting('application_name')")),
        sa.Column("failed_step", sa.Text),
        sa.Column("message", sa.Text),
        _status("status", "running", "succeeded", "failed", "abandoned"),
        schema="setup",
        comment="One row per pipeline run.",
    )
    op.create_table(
        "etl_run_steps",
        sa.Column("step_id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("run_id", sa.BigInteger,
                  sa.ForeignKey("setup.etl_runs.run_id", ondelete="CASCADE"), nullable=False),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="running"),
        sa.Column("rows", sa.BigInteger),
        sa.Column("started_at", TS, nullable=False, server_default=NOW),
        sa.Column("finished_at", TS),
        sa.Column("message", sa.Text),
        _status("layer", "bronze", "silver", "gold", "all"),
        _status("kind", "load", "build", "check", "publish"),
        _status("status", "running", "succeeded", "failed", "warning", "skipped"),
        schema="setup",
        comment="One row per step of a run: a target table loaded or built, a check, the publish.",
    )
    op.create_index("etl_run_steps_run", "etl_run_steps", ["run_id", "step_id"], schema="setup")

    op.create_table(
        "load_jobs",
        sa.Column("table_name", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("dataset", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("load_order", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("discovered_at", TS, nullable=False, server_default=sa.text("now()")),
        schema="bronze",
        comment="Load jobs discovered from the bronze tables: one per table, file and order.",
    )
    op.create_table(
        "load_log",
        sa.Column("load_id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("run_id", sa.BigInteger,
                  sa.ForeignKey("setup.etl_runs.run_id", ondelete="CASCADE"), nullable=False),
        sa.Column("table_name", sa.Text, nullable=False),
        sa.Column("file_path", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="running"),
        sa.Column("rows_loaded", sa.BigInteger),
        sa.Column("started_at", TS, nullable=False, server_default=NOW),
        sa.Column("finished_at", TS),
        sa.Column("message", sa.Text),
        _status("method", "server", "client"),
        _status("status", "running", "succeeded", "failed"),
        schema="bronze",
        comment="One row per file load attempt.",
    )
    op.create_index("load_log_run", "load_log", ["run_id"], schema="bronze")


def downgrade() -> None:
    op.drop_table("load_log", schema="bronze")
    op.drop_table("load_jobs", schema="bronze")
    op.drop_table("etl_run_steps", schema="setup")
    op.drop_table("etl_runs", schema="setup")
    op.drop_table("etl_config", schema="setup")
    sqlfiles.restore_all(SQL)
