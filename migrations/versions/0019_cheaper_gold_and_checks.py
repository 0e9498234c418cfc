"""Cheaper key map, checks and sorts.

Measured at scale 100 (bench/, 1.85 million customers, 6 million sales lines),
serial plans: the key map's customer ids are sorted once, for their uniqueness and
their numbering (2.8 s, was 4.4 s with a hash first); the check for untrimmed text
tests the first and last character with LIKE instead of comparing each value with
its trimmed copy (1.3 s, was 3.3 s, on the sales lines); run.work_mem goes from
128MB to 256MB, so the dimension's and silver's sorts of customers stay in memory
(dim_customers 10.7 s, was 12.7 s). A server short of memory lowers it in
setup.etl_config; a value a user set is kept.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-28

"""
from collections.abc import Sequence

from dwh import seeds, sqlfiles

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "gold.load_surrogate_keys": 4,
}

CHECK = "silver_no_untrimmed_text"
TEXT_COLUMNS = [
    ("crm_cust_info", ["cst_key", "cst_firstname", "cst_lastname"]),
    ("crm_prd_info", ["prd_key", "cat_id", "prd_nm"]),
    ("crm_sales_details", ["sls_ord_num", "sls_prd_key"]),
    ("erp_cust_az12", ["cid"]),
    ("erp_loc_a101", ["cid", "cntry"]),
    ("erp_px_cat_g1v2", ["id", "cat", "subcat", "maintenance"]),
]


def _query(untrimmed) -> str:
    return " UNION ALL ".join(
        f"SELECT 1 FROM {{silver}}.{table} WHERE " + " OR ".join(untrimmed(c) for c in columns)
        for table, columns in TEXT_COLUMNS)


# As 0006 shipped it; the same rows: btrim() trims spaces only, so a value differs from
# its trimmed copy exactly when its first or last character is a space.
OLD_QUERY = _query(lambda c: f"{c} <> btrim({c})")
NEW_QUERY = _query(lambda c: f"{c} LIKE ' %' OR {c} LIKE '% '")


def upgrade() -> None:
    sqlfiles.apply_all(SQL)
    seeds.replace_check_query(CHECK, OLD_QUERY, NEW_QUERY)
    seeds.replace_setting("run.work_mem", "128MB", "256MB")


def downgrade() -> None:
    seeds.replace_check_query(CHECK, NEW_QUERY, OLD_QUERY)
    seeds.replace_setting("run.work_mem", "256MB", "128MB")
    sqlfiles.restore_all(SQL)
