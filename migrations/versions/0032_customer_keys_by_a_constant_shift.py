"""A customer's key as its id plus one same number, when every key is.

The dimension and the facts find each customer's key without a join when the
customers' ids have no gap: by subscript in an array of the keys by id, which
gold.customer_keys_by_id builds by sorting the ids (0.45 s at scale 100, once for each
of the two steps).  When every key is its id plus one same number, as on a first load
(the key map numbers the customers by id) and on every later load whose new customers
come with higher ids, the key of id i is i + shift: gold.customer_key_shift finds that
number in one pass over the ids, with no sort and no array, and the steps add it.
Otherwise they take the array, or join on the id, as before.  The same keys either way.
gold.customer_key_lookup makes that choice for both steps (the SQL of the key, and the
join when there is one).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "0032"
down_revision: str | Sequence[str] | None = '0031'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Versioned SQL this revision applies; the downgrade restores the versions before
# (version 0 drops gold.customer_key_shift and gold.customer_key_lookup).
SQL: dict[str, int] = {
    "gold.customer_key_shift": 1,
    "gold.customer_key_lookup": 1,
    "gold.load_dim_customers": 7,
    "gold.load_fact_sales": 7,
}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
