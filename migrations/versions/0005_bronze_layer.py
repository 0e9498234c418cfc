"""Bronze layer: one table per source file, the bronze load and setup.orchestrate_bronze().

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import insert

from dwh import sqlfiles

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# bronze.<source>_<dataset>: the source header names, lower-cased, every value as text.
TABLES = {
    "crm_cust_info": ["cst_id", "cst_key", "cst_firstname", "cst_lastname",
                      "cst_marital_status", "cst_gndr", "cst_create_date"],
    "crm_prd_info": ["prd_id", "prd_key", "prd_nm", "prd_cost", "prd_line", "prd_start_dt",
                     "prd_end_dt"],
    "crm_sales_details": ["sls_ord_num", "sls_prd_key", "sls_cust_id", "sls_order_dt",
                          "sls_ship_dt", "sls_due_dt", "sls_sales", "sls_quantity", "sls_price"],
    "erp_cust_az12": ["cid", "bdate", "gen"],
    "erp_loc_a101": ["cid", "cntry"],
    "erp_px_cat_g1v2": ["id", "cat", "subcat", "maintenance"],
}

SQL: dict[str, int] = {
    "setup.refresh_load_jobs": 1,
    "setup.prepare_bronze": 1,
    "setup.check_header": 1,
    "setup.bronze_file_path": 1,
    "setup.load_bronze_file": 1,
    "setup.describe_load_error": 1,
    "setup.bronze_load_end": 1,
    "setup.orchestrate_bronze": 1,
}

quality_checks = sa.table(
    "quality_checks", sa.column("check_name", sa.Text), sa.column("layer", sa.Text),
    sa.column("severity", sa.Text), sa.column("description", sa.Text),
    sa.column("query", sa.Text), schema="setup",
)

CHECKS = [
    ("bronze_customers_without_id", "warning",
     "customer rows without a numeric id (silver drops them)",
     "SELECT 1 FROM {bronze}.crm_cust_info WHERE setup.parse_int(cst_id) IS NULL"),
    ("bronze_unparseable_numbers", "warning",
     "sales lines whose sales, quantity or price is not a number (silver derives or empties it)",
     "SELECT 1 FROM {bronze}.crm_sales_details"
     " WHERE (sls_sales IS NOT NULL AND setup.parse_int(sls_sales) IS NULL)"
     " OR (sls_quantity IS NOT NULL AND setup.parse_int(sls_quantity) IS NULL)"
     " OR (sls_price IS NOT NULL AND setup.parse_int(sls_price) IS NULL)"),
    ("bronze_unparseable_dates", "warning",
     "dates that are not real calendar dates (silver empties them; an order date of 0 included)",
     "SELECT 1 FROM {bronze}.crm_sales_details"
     " WHERE (sls_order_dt IS NOT NULL AND setup.parse_yyyymmdd(sls_order_dt) IS NULL)"
     " OR (sls_ship_dt IS NOT NULL AND setup.parse_yyyymmdd(sls_ship_dt) IS NULL)"
     " OR (sls_due_dt IS NOT NULL AND setup.parse_yyyymmdd(sls_due_dt) IS NULL)"
     " UNION ALL SELECT 1 FROM {bronze}.crm_cust_info"
     " WHERE cst_create_date IS NOT NULL AND setup.parse_iso_date(cst_create_date) IS NULL"
     " UNION ALL SELECT 1 FROM {bronze}.crm_prd_info"
     " WHERE prd_start_dt IS NOT NULL AND setup.parse_iso_date(prd_start_dt) IS NULL"
     " UNION ALL SELECT 1 FROM {bronze}.erp_cust_az12"
     " WHERE bdate IS NOT NULL AND setup.parse_iso_date(bdate) IS NULL"),
]


def upgrade() -> None:
    for table, columns in TABLES.items():
        op.create_table(
            table, *(sa.Column(c, sa.Text) for c in columns), schema="bronze",
            comment=f"Raw {table.split('_', 1)[1]} from the {table.split('_', 1)[0].upper()} "
                    "extract, as delivered (every value as text).",
        )
    sqlfiles.apply_all(SQL)
    op.execute(insert(quality_checks).values(
        [dict(check_name=n, layer="bronze", severity=s, description=d, query=q)
         for n, s, d, q in CHECKS]).on_conflict_do_nothing(index_elements=["check_name"]))


def downgrade() -> None:
    op.execute(quality_checks.delete().where(
        quality_checks.c.check_name.in_([c[0] for c in CHECKS])))
    sqlfiles.restore_all(SQL)
    op.execute("DELETE FROM bronze.load_jobs")
    for table in reversed(TABLES):
        # a run's leftover work copy of the table goes with it
        op.execute(f"DROP TABLE IF EXISTS bronze_stage.{table}")
        op.drop_table(table, schema="bronze")
