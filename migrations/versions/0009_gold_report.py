"""gold.report(): the business summary that `dwh report` prints.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {"gold.report": 1}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
