"""Seed etl_config with the settings the pipeline reads.

Re-applying never overwrites a value a user set (ON CONFLICT DO NOTHING).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import insert

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

etl_config = sa.table(
    "etl_config",
    sa.column("key", sa.Text),
    sa.column("value", sa.Text),
    sa.column("description", sa.Text),
    schema="setup",
)

SEED = [
    {
        "key": "source.crm.base_path",
        "value": None,
        "description": "Directory on the database server holding the CRM extracts "
        "(cust_info.csv, prd_info.csv, sales_details.csv), read by server-side COPY "
        "when the pipeline runs as CALL setup.orchestrate_all().",
    },
    {
        "key": "source.erp.base_path",
        "value": None,
        "description": "Directory on the database server holding the ERP extracts "
        "(CUST_AZ12.csv, LOC_A101.csv, PX_CAT_G1V2.csv), read by server-side COPY.",
    },
]


def upgrade() -> None:
    op.execute(insert(etl_config).values(SEED).on_conflict_do_nothing(index_elements=["key"]))


def downgrade() -> None:
    op.execute(etl_config.delete().where(etl_config.c.key.in_([row["key"] for row in SEED])))
