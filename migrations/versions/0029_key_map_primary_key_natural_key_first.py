"""The key map's primary key leads with the natural key.

gold.surrogate_keys' primary key was (entity, natural_key).  Nearly every row's
entity is 'customer', so the sort that builds the key (a first load swaps in a whole
new map, whose key is built then) found the first column equal almost every time: the
abbreviated keys PostgreSQL sorts on first were all alike, and it compared each pair
of rows in full.  On (natural_key, entity) they tell the rows apart.  At scale 100
(1.88 million keys, COLLATE "C", serial, alternated four times) the key built in 0.84 s
against 2.21 s.  Lookups of the map are equalities on both columns, which either order
serves; the unique key (entity, surrogate_key), which answers each entity's largest
key, stays as it is.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07

"""
from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | Sequence[str] | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _primary_key(columns: str) -> None:
    op.execute("ALTER TABLE gold.surrogate_keys DROP CONSTRAINT surrogate_keys_pkey, "
               f"ADD CONSTRAINT surrogate_keys_pkey PRIMARY KEY ({columns})")


def upgrade() -> None:
    _primary_key("natural_key, entity")


def downgrade() -> None:
    _primary_key("entity, natural_key")
