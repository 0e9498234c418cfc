"""One orchestrator for the built layers: setup.orchestrate_layer.

setup.orchestrate_silver and setup.orchestrate_gold were the same procedure
but for the layer's name; both now call setup.orchestrate_layer.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "setup.orchestrate_layer": 1,
    "setup.orchestrate_silver": 4,
    "setup.orchestrate_gold": 4,
}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
