"""setup.orchestrate_all(): bronze, silver, gold, the checks, one atomic publish.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {"setup.orchestrate_all": 1}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
