"""Customer keys joined by id, merge joins for dim_customers, sorted uniqueness checks.

Measured at scale 100 (bench/, 1.85 million customers, 6 million sales lines),
serial, on the same machine and hour:
- gold.load_surrogate_keys also writes the key of every silver customer by id to
  gold_stage.customer_keys__work (unlogged scratch; setup.publish drops it), and
  gold.load_fact_sales joins it on the integer id: 8.5-9 s, was 11 s (a join of
  1.85 million text keys to the map, and a wider hash, each run);
- gold.load_dim_customers joins it too, and joins the ERP rows with merge joins on
  the customer number (they are already sorted for their DISTINCT ON): 6.3-6.5 s,
  was 8.9 s;
- the uniqueness checks of silver customer ids and gold keys group sorted input
  (an index on dim_customers, a sort of 1.85 million ids) instead of hashing 1.85
  million groups: 0.4-0.7 s each, was 1.2-1.3 s. Same rows: only the plan differs.
A check query a user edited is kept as it is.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-29

"""
from collections.abc import Sequence

from dwh import seeds, sqlfiles

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "gold.load_surrogate_keys": 5,
    "gold.load_dim_customers": 4,
    "gold.load_fact_sales": 4,
    "setup.publish": 3,
}

# (check, as 0006/0007 shipped it, sorted): a GROUP BY over sorted input is a
# GroupAggregate, which the planner does not pick for 1.85 million groups by itself.
CHECKS = [
    ("silver_customer_ids_unique",
     "SELECT cst_id FROM {silver}.crm_cust_info GROUP BY cst_id"
     " HAVING cst_id IS NULL OR count(*) > 1",
     "SELECT cst_id FROM (SELECT cst_id FROM {silver}.crm_cust_info ORDER BY cst_id) AS s"
     " GROUP BY cst_id HAVING cst_id IS NULL OR count(*) > 1"),
    ("gold_surrogate_keys_unique",
     "SELECT customer_key FROM {gold}.dim_customers GROUP BY customer_key"
     " HAVING customer_key IS NULL OR count(*) > 1"
     " UNION ALL SELECT product_key FROM {gold}.dim_products GROUP BY product_key"
     " HAVING product_key IS NULL OR count(*) > 1",
     "SELECT customer_key FROM (SELECT customer_key FROM {gold}.dim_customers"
     " ORDER BY customer_key) AS s GROUP BY customer_key"
     " HAVING customer_key IS NULL OR count(*) > 1"
     " UNION ALL SELECT product_key FROM {gold}.dim_products GROUP BY product_key"
     " HAVING product_key IS NULL OR count(*) > 1"),
]


def upgrade() -> None:
    sqlfiles.apply_all(SQL)
    for check, old, new in CHECKS:
        seeds.replace_check_query(check, old, new)


def downgrade() -> None:
    for check, old, new in CHECKS:
        seeds.replace_check_query(check, new, old)
    sqlfiles.restore_all(SQL)
