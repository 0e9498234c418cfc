"""setup.tune_step names a refused run.work_mem or run.maintenance_work_mem.

Every build and check starts with setup.tune_step, which sets work_mem and
maintenance_work_mem from setup.etl_config. A value PostgreSQL refuses failed the
step with PostgreSQL's message alone ('invalid value for parameter "work_mem"'),
which does not say where the value comes from. Version 2 sets both through
setup.apply_setting (revision 0023), as run.join_work_mem and
run.bronze_statistics_target already are: the error names the setting of
setup.etl_config and hints at a valid value.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-29

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Versioned SQL this revision applies; the downgrade restores version 1.
SQL: dict[str, int] = {"setup.tune_step": 2}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
