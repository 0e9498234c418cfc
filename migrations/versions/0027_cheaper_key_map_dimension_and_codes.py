"""Cheaper key map, customers' dimension and code mapping.

The key map's key columns collate bytewise; a first load numbers the customers in one
statement.

gold.surrogate_keys holds identifiers ('customer', '11000', 'AR-08554'), compared
for equality and sorted only to index them.  Under the database's collation
(C.UTF-8 on the embedded server) each comparison of its primary key build goes
through the locale (strcoll on NUL-terminated copies); COLLATE "C" compares bytes.
At scale 100 (1.88 million keys) the build took 2.29-2.43 s with both key columns
in "C" against 3.2-3.5 s (serial, interleaved on one server).  Equality is the same
in every deterministic collation, so no lookup changes; the map's keys now sort by
code point.  Version 7 of gold.load_surrogate_keys names the collation in the
query that stages the map, since a first load's staged map is swapped in whole.

On a first load (an empty map) version 7 also numbers the customers in one CREATE
TABLE AS instead of looking each up in the empty map and then INSERTing every one
(0.75 s against 1.2 s at scale 100).

Version 5 of gold.load_dim_customers makes each ERP side of its merge joins DISTINCT
ON the very column it is joined on, which proves that side unique to the planner:
the join no longer puts a Materialize over it to re-read repeated ids (at scale 100,
3.68-3.88 s against 3.88-4.89 s for the dimension's query, identical rows).

Version 3 of silver.load_crm_cust_info and of silver.load_erp_cust_az12 map a code
delivered exactly in its usual spelling ('S', 'M', 'F'; 'Female', 'Male') without
upper(btrim()), which under a libc locale costs about 0.25 us a value; any other
value takes the full rule, so every result is the same (at scale 100 the customers'
query took 2.28-3.23 s against 2.99-3.50 s, the birthdates' 1.27-1.62 s against
1.75-2.27 s, identical rows).

Version 4 of setup.swap_table compares the collations of the staged and the published
columns too: a staged table whose columns collate otherwise (such as a key map staged
without COLLATE "C") fails the publish instead of being swapped in.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07

"""
from collections.abc import Sequence

from alembic import op

from dwh import sqlfiles

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Versioned SQL this revision applies; the downgrade restores the versions before.
SQL: dict[str, int] = {"gold.load_surrogate_keys": 7, "gold.load_dim_customers": 5,
                        "silver.load_crm_cust_info": 3, "silver.load_erp_cust_az12": 3,
                        "setup.swap_table": 4}


# PostgreSQL refuses to change a column's collation while a view reads the column
# (and a view's column cannot change collation in place): fail first, naming the views
# and what to do, rather than with the server's bare refusal.
NO_VIEWS_ON_KEYS = """
DO $$
DECLARE
    v_views text;
BEGIN
    SELECT string_agg(DISTINCT v.oid::regclass::text, ', ' ORDER BY v.oid::regclass::text)
      INTO v_views
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid
      JOIN pg_catalog.pg_class v ON v.oid = w.ev_class
      JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass
       AND d.refobjid = 'gold.surrogate_keys'::regclass
       AND a.attname IN ('entity', 'natural_key') AND v.oid <> d.refobjid;
    IF v_views IS NOT NULL THEN
        RAISE EXCEPTION 'revision 0027 changes the collation of gold.surrogate_keys.entity and '
                        '.natural_key, which PostgreSQL refuses while a view reads them: %', v_views
              USING HINT = 'Save each view''s definition and grants (pg_get_viewdef), drop it, '
                           'migrate again, then create it again.';
    END IF;
END
$$
"""


def _collate(collation: str) -> None:
    op.execute(NO_VIEWS_ON_KEYS)
    op.execute(f"ALTER TABLE gold.surrogate_keys "
               f"ALTER COLUMN entity TYPE text COLLATE {collation}, "
               f"ALTER COLUMN natural_key TYPE text COLLATE {collation}")


def upgrade() -> None:
    _collate('"C"')
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
    _collate('pg_catalog."default"')
