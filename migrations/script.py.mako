"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from collections.abc import Sequence

from alembic import op
import sqlalchemy as sa
from dwh import sqlfiles
${imports if imports else ""}
revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}

# Versioned SQL this revision applies, as {"schema.object": version}; the
# downgrade restores the previous version of each (see dwh/sqlfiles.py).
SQL: dict[str, int] = {}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
    ${downgrades if downgrades else "pass"}
