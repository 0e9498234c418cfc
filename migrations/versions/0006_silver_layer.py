"""Silver layer: cleaned and conformed tables, their load functions, setup.orchestrate_silver().

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import insert

from dwh import sqlfiles

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T, I, D = sa.Text, sa.Integer, sa.Date
TABLES = {
    "crm_cust_info": [("cst_id", I), ("cst_key", T), ("cst_firstname", T), ("cst_lastname", T),
                      ("cst_marital_status", T), ("cst_gndr", T), ("cst_create_date", D)],
    "crm_prd_info": [("prd_id", I), ("cat_id", T), ("prd_key", T), ("prd_nm", T),
                     ("prd_cost", I), ("prd_line", T), ("prd_start_dt", D), ("prd_end_dt", D)],
    "crm_sales_details": [("sls_ord_num", T), ("sls_prd_key", T), ("sls_cust_id", I),
                          ("sls_order_dt", D), ("sls_ship_dt", D), ("sls_due_dt", D),
                          ("sls_sales", I), ("sls_quantity", I), ("sls_price", I)],
    "erp_cust_az12": [("cid", T), ("bdate", D), ("gen", T)],
    "erp_loc_a101": [("cid", T), ("cntry", T)],
    "erp_px_cat_g1v2": [("id", T), ("cat", T), ("subcat", T), ("maintenance", T)],
}

SQL: dict[str, int] = {
    **{f"silver.load_{table}": 1 for table in TABLES},
    "setup.orchestrate_silver": 1,
}

quality_checks = sa.table(
    "quality_checks", sa.column("check_name", sa.Text), sa.column("layer", sa.Text),
    sa.column("severity", sa.Text), sa.column("description", sa.Text),
    sa.column("query", sa.Text), schema="setup",
)

CHECKS = [
    ("silver_customer_ids_unique", "error", "customer ids are present and unique",
     "SELECT cst_id FROM {silver}.crm_cust_info GROUP BY cst_id"
     " HAVING cst_id IS NULL OR count(*) > 1"),
    ("silver_product_ids_unique", "error", "product ids are present and unique",
     "SELECT prd_id FROM {silver}.crm_prd_info GROUP BY prd_id"
     " HAVING prd_id IS NULL OR count(*) > 1"),
    ("silver_no_untrimmed_text", "error",
     "keys, names and categories have no leading or trailing spaces",
     "SELECT 1 FROM {silver}.crm_cust_info WHERE cst_key <> btrim(cst_key)"
     " OR cst_firstname <> btrim(cst_firstname) OR cst_lastname <> btrim(cst_lastname)"
     " UNION ALL SELECT 1 FROM {silver}.crm_prd_info WHERE prd_key <> btrim(prd_key)"
     " OR cat_id <> btrim(cat_id) OR prd_nm <> btrim(prd_nm)"
     " UNION ALL SELECT 1 FROM {silver}.crm_sales_details"
     " WHERE sls_ord_num <> btrim(sls_ord_num) OR sls_prd_key <> btrim(sls_prd_key)"
     " UNION ALL SELECT 1 FROM {silver}.erp_cust_az12 WHERE cid <> btrim(cid)"
     " UNION ALL SELECT 1 FROM {silver}.erp_loc_a101 WHERE cid <> btrim(cid)"
     " OR cntry <> btrim(cntry)"
     " UNION ALL SELECT 1 FROM {silver}.erp_px_cat_g1v2 WHERE id <> btrim(id)"
     " OR cat <> btrim(cat) OR subcat <> btrim(subcat) OR maintenance <> btrim(maintenance)"),
    ("silver_codes_mapped", "error", "code columns hold only their mapped values",
     "SELECT 1 FROM {silver}.crm_cust_info"
     " WHERE cst_marital_status NOT IN ('Single', 'Married', 'n/a')"
     " OR cst_gndr NOT IN ('Female', 'Male', 'n/a')"
     " OR cst_marital_status IS NULL OR cst_gndr IS NULL"
     " UNION ALL SELECT 1 FROM {silver}.crm_prd_info"
     " WHERE prd_line IS NULL OR prd_line NOT IN ('Mountain', 'Road', 'Other Sales', 'Touring', 'n/a')"
     " UNION ALL SELECT 1 FROM {silver}.erp_cust_az12"
     " WHERE gen IS NULL OR gen NOT IN ('Female', 'Male', 'n/a')"),
    ("silver_product_versions_ordered", "error", "no product version ends before it starts",
     "SELECT 1 FROM {silver}.crm_prd_info WHERE prd_end_dt < prd_start_dt"),
    ("silver_order_dates_ordered", "error", "no order date after its ship or due date",
     "SELECT 1 FROM {silver}.crm_sales_details"
     " WHERE sls_order_dt > sls_ship_dt OR sls_order_dt > sls_due_dt"),
    ("silver_sales_consistent", "error",
     "every sales line has sales = quantity x price, all three positive",
     "SELECT 1 FROM {silver}.crm_sales_details"
     " WHERE sls_sales IS NULL OR sls_quantity IS NULL OR sls_price IS NULL"
     " OR sls_sales <= 0 OR sls_quantity <= 0 OR sls_price <= 0"
     " OR sls_sales <> sls_quantity * sls_price"),
    ("silver_birthdates_before_1924", "warning",
     "birth dates before 1924-01-01 (kept by the rules)",
     "SELECT 1 FROM {silver}.erp_cust_az12 WHERE bdate < DATE '1924-01-01'"),
    ("silver_sales_without_order_date", "warning", "sales lines without an order date",
     "SELECT 1 FROM {silver}.crm_sales_details WHERE sls_order_dt IS NULL"),
]


def upgrade() -> None:
    for table, columns in TABLES.items():
        op.create_table(
            table, *(sa.Column(name, type_) for name, type_ in columns),
            sa.Column("dwh_loaded_at", sa.TIMESTAMP(timezone=True), nullable=False,
                      server_default=sa.text("now()")),
            schema="silver",
            comment=f"bronze.{table} cleaned and conformed, typed (same grain).",
        )
    sqlfiles.apply_all(SQL)
    op.execute(insert(quality_checks).values(
        [dict(check_name=n, layer="silver", severity=s, description=d, query=q)
         for n, s, d, q in CHECKS]).on_conflict_do_nothing(index_elements=["check_name"]))


def downgrade() -> None:
    op.execute(quality_checks.delete().where(
        quality_checks.c.check_name.in_([c[0] for c in CHECKS])))
    sqlfiles.restore_all(SQL)
    for table in reversed(TABLES):
        # a run's leftover work copy of the table goes with it
        op.execute(f"DROP TABLE IF EXISTS silver_stage.{table}")
        op.drop_table(table, schema="silver")
