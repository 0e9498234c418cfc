"""Faster silver and gold: calendar joins, CREATE TABLE AS, memory per step, an append-only key map.

Measured by the benchmark (bench/): parsing each date per row and repeating the
parse in every CASE that used it cost ~12 us per sales line; a hash join with
setup.calendar, one parse per value, and CREATE TABLE AS (indexes and
constraints added after the rows, by setup.finish_stage) cost ~2 us.  Sorts and
hashes of millions of rows spilled to disk with the server's 4MB work_mem:
setup.tune_step gives each step run.work_mem.  The surrogate-key map was
copied whole at every run: now only new keys are staged and appended at
publish.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dwh import seeds, sqlfiles

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "setup.tune_step": 1,
    "setup.finish_stage": 1,
    "setup.publish": 2,
    "silver.load_crm_cust_info": 2,
    "silver.load_crm_prd_info": 2,
    "silver.load_crm_sales_details": 2,
    "silver.load_erp_cust_az12": 2,
    "silver.load_erp_loc_a101": 2,
    "silver.load_erp_px_cat_g1v2": 2,
    "gold.load_surrogate_keys": 2,
    "gold.load_dim_customers": 2,
    "gold.load_dim_products": 2,
    "gold.load_fact_sales": 2,
    "setup.orchestrate_silver": 2,
    "setup.orchestrate_gold": 2,
}

DATES_CHECK = "bronze_unparseable_dates"
OLD_DATES_QUERY = (
    "SELECT 1 FROM {bronze}.crm_sales_details"
    " WHERE (sls_order_dt IS NOT NULL AND setup.parse_yyyymmdd(sls_order_dt) IS NULL)"
    " OR (sls_ship_dt IS NOT NULL AND setup.parse_yyyymmdd(sls_ship_dt) IS NULL)"
    " OR (sls_due_dt IS NOT NULL AND setup.parse_yyyymmdd(sls_due_dt) IS NULL)"
    " UNION ALL SELECT 1 FROM {bronze}.crm_cust_info"
    " WHERE cst_create_date IS NOT NULL AND setup.parse_iso_date(cst_create_date) IS NULL"
    " UNION ALL SELECT 1 FROM {bronze}.crm_prd_info"
    " WHERE prd_start_dt IS NOT NULL AND setup.parse_iso_date(prd_start_dt) IS NULL"
    " UNION ALL SELECT 1 FROM {bronze}.erp_cust_az12"
    " WHERE bdate IS NOT NULL AND setup.parse_iso_date(bdate) IS NULL"
)
# The same rows, the calendar answering first: only a day it does not know is
# parsed (OFFSET 0 keeps the planner from parsing every row before the joins).
NEW_DATES_QUERY = (
    "SELECT 1 FROM (SELECT b.sls_order_dt AS o, o.day AS od, b.sls_ship_dt AS s, s.day AS sd,"
    " b.sls_due_dt AS d, d.day AS dd FROM {bronze}.crm_sales_details b"
    " LEFT JOIN setup.calendar o ON o.yyyymmdd = b.sls_order_dt"
    " LEFT JOIN setup.calendar s ON s.yyyymmdd = b.sls_ship_dt"
    " LEFT JOIN setup.calendar d ON d.yyyymmdd = b.sls_due_dt OFFSET 0) x"
    " WHERE (x.o IS NOT NULL AND x.od IS NULL AND setup.parse_yyyymmdd(x.o) IS NULL)"
    " OR (x.s IS NOT NULL AND x.sd IS NULL AND setup.parse_yyyymmdd(x.s) IS NULL)"
    " OR (x.d IS NOT NULL AND x.dd IS NULL AND setup.parse_yyyymmdd(x.d) IS NULL)"
    " UNION ALL SELECT 1 FROM (SELECT b.cst_create_date AS v, c.day FROM {bronze}.crm_cust_info b"
    " LEFT JOIN setup.calendar c ON c.iso = b.cst_create_date OFFSET 0) x"
    " WHERE x.v IS NOT NULL AND x.day IS NULL AND setup.parse_iso_date(x.v) IS NULL"
    " UNION ALL SELECT 1 FROM (SELECT b.prd_start_dt AS v, c.day FROM {bronze}.crm_prd_info b"
    " LEFT JOIN setup.calendar c ON c.iso = b.prd_start_dt OFFSET 0) x"
    " WHERE x.v IS NOT NULL AND x.day IS NULL AND setup.parse_iso_date(x.v) IS NULL"
    " UNION ALL SELECT 1 FROM (SELECT b.bdate AS v, c.day FROM {bronze}.erp_cust_az12 b"
    " LEFT JOIN setup.calendar c ON c.iso = b.bdate OFFSET 0) x"
    " WHERE x.v IS NOT NULL AND x.day IS NULL AND setup.parse_iso_date(x.v) IS NULL"
)


SEED = [
    {"key": "run.work_mem", "value": "128MB",
     "description": "work_mem of each pipeline step (sorts and hashes of a layer's tables); "
                    "lower it on a small server."},
    {"key": "run.maintenance_work_mem", "value": "256MB",
     "description": "maintenance_work_mem of each pipeline step (index builds after a load)."},
]


def upgrade() -> None:
    op.create_table(
        "calendar",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("yyyymmdd", sa.Text, nullable=False),
        sa.Column("iso", sa.Text, nullable=False),
        schema="setup",
        comment="Every day from 1900 to 2100 with its YYYYMMDD and YYYY-MM-DD spellings: "
                "dates are parsed by a join with it (setup.parse_* for days outside it).",
    )
    op.execute(
        "INSERT INTO setup.calendar (day, yyyymmdd, iso) "
        "SELECT d, to_char(d, 'YYYYMMDD'), to_char(d, 'YYYY-MM-DD') "
        "FROM generate_series(DATE '1900-01-01', DATE '2100-12-31', INTERVAL '1 day') AS g(t), "
        "LATERAL (SELECT t::date) AS x(d)"
    )
    # The keys are built once the rows are in: a third of the time of
    # maintaining three indexes row by row (the names are PostgreSQL's defaults).
    op.create_primary_key("calendar_pkey", "calendar", ["day"], schema="setup")
    op.create_unique_constraint("calendar_yyyymmdd_key", "calendar", ["yyyymmdd"], schema="setup")
    op.create_unique_constraint("calendar_iso_key", "calendar", ["iso"], schema="setup")
    op.execute("ANALYZE setup.calendar")
    seeds.add_settings(SEED)
    sqlfiles.apply_all(SQL)
    seeds.replace_check_query(DATES_CHECK, OLD_DATES_QUERY, NEW_DATES_QUERY)


def downgrade() -> None:
    seeds.replace_check_query(DATES_CHECK, NEW_DATES_QUERY, OLD_DATES_QUERY)
    sqlfiles.restore_all(SQL)
    seeds.remove_settings(SEED)
    # a run's leftover staged key map goes with the version that stages it
    op.execute("DROP TABLE IF EXISTS gold_stage.surrogate_keys__append")
    op.drop_table("calendar", schema="setup")
