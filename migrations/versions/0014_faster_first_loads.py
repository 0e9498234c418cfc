"""Faster first loads and checks.

Measured at scale 100 (bench/): a first load appended 1.85 million new keys to
the indexed key map inside the publish transaction (6.9 s of publish); now a
first load stages the whole map, indexed before the publish, which swaps it in.
Customer keys are numbered in integer order (no text sort); the dimension's
deduplicating sorts compare bytes (COLLATE "C"); the check of unparseable
numbers tests the three values of a line with one regular expression.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27

"""
from collections.abc import Sequence

from alembic import op

from dwh import seeds, sqlfiles

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "gold.load_surrogate_keys": 3,
    "gold.load_dim_customers": 3,
    "gold.load_dim_products": 3,
}

CHECK = "bronze_unparseable_numbers"
OLD_QUERY = (
    "SELECT 1 FROM {bronze}.crm_sales_details"
    " WHERE (sls_sales IS NOT NULL AND setup.parse_int(sls_sales) IS NULL)"
    " OR (sls_quantity IS NOT NULL AND setup.parse_int(sls_quantity) IS NULL)"
    " OR (sls_price IS NOT NULL AND setup.parse_int(sls_price) IS NULL)"
)
# The same rows: one regular expression answers for a line whose three values are
# numbers (nearly all); only the others are looked at value by value.
NEW_QUERY = (
    "SELECT 1 FROM {bronze}.crm_sales_details"
    " WHERE CASE WHEN (sls_sales || ',' || sls_quantity || ',' || sls_price)"
    " ~ '^-?[0-9]{1,9},-?[0-9]{1,9},-?[0-9]{1,9}$' THEN false"
    " ELSE (sls_sales IS NOT NULL AND setup.parse_int(sls_sales) IS NULL)"
    " OR (sls_quantity IS NOT NULL AND setup.parse_int(sls_quantity) IS NULL)"
    " OR (sls_price IS NOT NULL AND setup.parse_int(sls_price) IS NULL) END"
)


def upgrade() -> None:
    sqlfiles.apply_all(SQL)
    seeds.replace_check_query(CHECK, OLD_QUERY, NEW_QUERY)


def downgrade() -> None:
    seeds.replace_check_query(CHECK, NEW_QUERY, OLD_QUERY)
    sqlfiles.restore_all(SQL)
    # a run's leftover staged whole map goes with the version that stages it
    op.execute("DROP TABLE IF EXISTS gold_stage.surrogate_keys")
