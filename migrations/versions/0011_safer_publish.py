"""Safer publish and clearer failures.

- swap_table: views keep their options (security_invoker, security_barrier,
  check_option); column grants, triggers and row-level security policies move
  to the new table too.
- a disabled load job keeps its last data through a run of all layers;
- a failed quality check is the run's failed step; the server-side load keeps
  the hint of its error (what to do next); missing client loads are named;
- a run whose session is gone is abandoned even when backend_start is hidden.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "setup.begin_run": 2,
    "setup.swap_table": 2,
    "setup.run_quality_checks": 2,
    "setup.prepare_bronze": 2,
    "setup.orchestrate_bronze": 2,
}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
