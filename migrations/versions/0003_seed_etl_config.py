"""Seed etl_config with the settings the pipeline reads.

Re-applying never overwrites a value a user set (ON CONFLICT DO NOTHING).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

"""
from collections.abc import Sequence

from dwh import seeds

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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
    seeds.add_settings(SEED)


def downgrade() -> None:
    seeds.remove_settings(SEED)
