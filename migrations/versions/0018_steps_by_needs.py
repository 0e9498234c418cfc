"""Steps by what they need: setup.run_plan.

A run's build steps and checks, each with the tables it reads. dwh starts a step
as soon as those are built instead of waiting for a whole wave, so silver's
customer tables, the key map and the dimensions are built while the sales lines
still load, and the checks run beside the builds. The facts read their customer
keys from the key map (the keys the dimension gives), so they are built beside
dim_customers rather than after it. setup.layer_steps now reads its steps from
setup.run_plan (one list of steps), one after the other.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-28

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "setup.run_plan": 1,
    "setup.layer_steps": 2,
    "gold.load_fact_sales": 3,
}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
