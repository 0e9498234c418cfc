"""Customer keys by id, without a join, where the ids have no gap.

gold.customer_keys_by_id (new) puts the key of every customer of the run into an
array indexed by id, when the ids run from the smallest to the largest without a gap
(as a sequence numbers customers: the reference extracts and the samples do) and the
array fits the step's work_mem (4 bytes a customer).  Version 6 of
gold.load_fact_sales and of gold.load_dim_customers then find each customer's key by
subscript instead of joining <target>.customer_keys__work on the id: the facts no
longer probe a hash of every customer (90 MB at scale 100) at random from each sales
line, and the dimension no longer sorts its customers and their keys by id for a merge
join.  Ids with gaps keep the join of version 5.  Same rows either way.

At scale 100 (embedded server, serial, alternated): the facts' query 5.5 s against
7.3 s (medians of four), the dimension's 3.8-4.1 s against 4.1-5.7 s.  Whole runs
(--jobs 2, alternated with 0027): 29.7, 30.6, 30.5 s against 31.8, 32.0, 32.8 s.

The facts' query still runs with run.join_work_mem (a refused value fails the step
as before); the array is built before, under run.work_mem.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "0028"
down_revision: str | Sequence[str] | None = '0027'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Versioned SQL this revision applies; the downgrade restores version 0 (drops the object).
SQL: dict[str, int] = {"gold.customer_keys_by_id": 1, "gold.load_dim_customers": 6,
                        "gold.load_fact_sales": 6}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
