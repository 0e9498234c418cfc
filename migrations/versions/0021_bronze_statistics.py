"""Smaller statistics samples for bronze: run.bronze_statistics_target (10).

Measured at scale 10 (bench/, 604,000 sales lines): the ANALYZE after a bronze
load took 0.38 s with the server's default target (100: a sample of 30,000 rows,
statistics for every text column), a third of the load of the largest file, and
0.04 s with 10. Bronze is raw text that silver reads whole, so its plans need
little more than the row counts; a user who queries bronze directly can raise
the setting. Silver and gold keep the server's default. One function,
setup.analyze_bronze, does it for both load paths (the client's and
setup.load_bronze_file).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29

"""
from collections.abc import Sequence

from dwh import seeds, sqlfiles

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "setup.analyze_bronze": 1,
    "setup.load_bronze_file": 2,
}

SEED = [{"key": "run.bronze_statistics_target", "value": "10",
         "description": "statistics target of the ANALYZE after each bronze load (the server's "
                        "default_statistics_target, 100, samples 30,000 rows of every table); "
                        "raise it to query bronze directly."}]


def upgrade() -> None:
    seeds.add_settings(SEED)
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
    seeds.remove_settings(SEED)
