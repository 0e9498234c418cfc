"""Gold layer: the star schema, stable surrogate keys, setup.orchestrate_gold().

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import insert

from dwh import sqlfiles

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T, I, D = sa.Text, sa.Integer, sa.Date

SQL: dict[str, int] = {
    "gold.load_surrogate_keys": 1,
    "gold.load_dim_customers": 1,
    "gold.load_dim_products": 1,
    "gold.load_fact_sales": 1,
    "setup.orchestrate_gold": 1,
}

quality_checks = sa.table(
    "quality_checks", sa.column("check_name", sa.Text), sa.column("layer", sa.Text),
    sa.column("severity", sa.Text), sa.column("description", sa.Text),
    sa.column("query", sa.Text), schema="setup",
)

CHECKS = [
    ("gold_surrogate_keys_unique", "error", "surrogate keys are present and unique",
     "SELECT customer_key FROM {gold}.dim_customers GROUP BY customer_key"
     " HAVING customer_key IS NULL OR count(*) > 1"
     " UNION ALL SELECT product_key FROM {gold}.dim_products GROUP BY product_key"
     " HAVING product_key IS NULL OR count(*) > 1"),
    ("gold_facts_resolve", "error", "every fact resolves to a customer and a product",
     "SELECT 1 FROM {gold}.fact_sales WHERE customer_key IS NULL OR product_key IS NULL"),
]


def upgrade() -> None:
    op.create_table(
        "surrogate_keys",
        sa.Column("entity", T, primary_key=True),
        sa.Column("natural_key", T, primary_key=True),
        sa.Column("surrogate_key", I, nullable=False),
        sa.UniqueConstraint("entity", "surrogate_key", name="surrogate_keys_unique_key"),
        schema="gold",
        comment="Every surrogate key ever given (customer ids, product numbers): keys are stable.",
    )
    op.create_table(
        "dim_customers",
        sa.Column("customer_key", I, primary_key=True, autoincrement=False),
        sa.Column("customer_id", I), sa.Column("customer_number", T),
        sa.Column("first_name", T), sa.Column("last_name", T), sa.Column("country", T),
        sa.Column("marital_status", T), sa.Column("gender", T), sa.Column("birthdate", D),
        sa.Column("create_date", D),
        schema="gold", comment="One row per customer (CRM, completed from the ERP).",
    )
    op.create_table(
        "dim_products",
        sa.Column("product_key", I, primary_key=True, autoincrement=False),
        sa.Column("product_id", I), sa.Column("product_number", T), sa.Column("product_name", T),
        sa.Column("category_id", T), sa.Column("category", T), sa.Column("subcategory", T),
        sa.Column("maintenance", T), sa.Column("cost", I), sa.Column("product_line", T),
        sa.Column("start_date", D),
        schema="gold", comment="One row per current product version, with its category.",
    )
    op.create_table(
        "fact_sales",
        sa.Column("order_number", T), sa.Column("product_key", I), sa.Column("customer_key", I),
        sa.Column("order_date", D), sa.Column("shipping_date", D), sa.Column("due_date", D),
        sa.Column("sales_amount", I), sa.Column("quantity", I), sa.Column("price", I),
        schema="gold", comment="One row per sales line.",
    )
    sqlfiles.apply_all(SQL)
    op.execute(insert(quality_checks).values(
        [dict(check_name=n, layer="gold", severity=s, description=d, query=q)
         for n, s, d, q in CHECKS]).on_conflict_do_nothing(index_elements=["check_name"]))


def downgrade() -> None:
    op.execute(quality_checks.delete().where(
        quality_checks.c.check_name.in_([c[0] for c in CHECKS])))
    sqlfiles.restore_all(SQL)
    for table in ("fact_sales", "dim_products", "dim_customers", "surrogate_keys"):
        # a run's leftover work copy of the table goes with it
        op.execute(f"DROP TABLE IF EXISTS gold_stage.{table}")
        op.drop_table(table, schema="gold")
