"""Cheaper number parsing: a search for a non-digit instead of a counted pattern.

Measured at scale 100 (bench/, 6 million sales lines): setup.parse_int's pattern
'^-?[0-9]{1,9}$' cost about 1.2 microseconds a value, so the four numbers of a
sales line took most of silver's time (a serial plan of 31.7 s); a search for a
non-digit and a length accept the same values for about a third of that. Silver
sales tests the four numbers of a line at once (11.2 s for the same plan), and so
does the check of unparseable numbers. Results are the same, value for value.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28

"""
from collections.abc import Sequence

from dwh import seeds, sqlfiles

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "setup.parse_int": 2,
    "silver.load_crm_sales_details": 3,
}

CHECK = "bronze_unparseable_numbers"
OLD_QUERY = (
    "SELECT 1 FROM {bronze}.crm_sales_details"
    " WHERE CASE WHEN (sls_sales || ',' || sls_quantity || ',' || sls_price)"
    " ~ '^-?[0-9]{1,9},-?[0-9]{1,9},-?[0-9]{1,9}$' THEN false"
    " ELSE (sls_sales IS NOT NULL AND setup.parse_int(sls_sales) IS NULL)"
    " OR (sls_quantity IS NOT NULL AND setup.parse_int(sls_quantity) IS NULL)"
    " OR (sls_price IS NOT NULL AND setup.parse_int(sls_price) IS NULL) END"
)
# The same rows: a line whose three values are digits only, each 1 to 9 of them
# (nearly all), answers at once; only the others are looked at value by value.
NEW_QUERY = (
    "SELECT 1 FROM {bronze}.crm_sales_details"
    " WHERE CASE WHEN (sls_sales || sls_quantity || sls_price) !~ '[^0-9]'"
    " AND octet_length(sls_sales) BETWEEN 1 AND 9"
    " AND octet_length(sls_quantity) BETWEEN 1 AND 9"
    " AND octet_length(sls_price) BETWEEN 1 AND 9 THEN false"
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
