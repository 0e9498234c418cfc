"""Steps that can run at once: build plans in waves, one check at a time.

setup.layer_steps lists the build steps of silver and gold in waves (the steps
of a wave depend only on earlier waves); setup.run_check runs one quality check
and setup.conclude_checks decides the run.  The procedures run them one by one
as before; dwh runs each wave's steps, and the checks, on several connections.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "setup.layer_steps": 1,
    "setup.run_check": 1,
    "setup.conclude_checks": 1,
    "setup.run_quality_checks": 3,
    "setup.orchestrate_silver": 3,
    "setup.orchestrate_gold": 3,
}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
