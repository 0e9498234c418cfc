"""Rows the revisions own: the settings they seed and the quality checks' queries.

A revision seeds settings it introduces (a key a user already set keeps its value)
and removes them on downgrade.  A revision that improves a check's query or a
setting's value changes it only where it is still as an earlier revision shipped
it, so a user's own edit is kept; its downgrade calls the same function with the
two values swapped.  Called from a revision's upgrade or downgrade (online, or
offline with ``--sql``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

_checks = sa.table("quality_checks", sa.column("check_name", sa.Text),
                   sa.column("query", sa.Text), schema="setup")
_config = sa.table("etl_config", sa.column("key", sa.Text), sa.column("value", sa.Text),
                   sa.column("description", sa.Text), schema="setup")


def add_settings(rows: Sequence[dict]) -> None:
    """Seed setup.etl_config with ``rows`` (key, value, description); a key already
    there is left as it is."""
    from alembic import op

    op.execute(insert(_config).values(list(rows)).on_conflict_do_nothing(index_elements=["key"]))


def remove_settings(rows: Sequence[dict]) -> None:
    """Undo ``add_settings(rows)``."""
    from alembic import op

    op.execute(_config.delete().where(_config.c.key.in_([row["key"] for row in rows])))


def replace_check_query(check: str, old: str, new: str) -> None:
    """Give quality check ``check`` the query ``new`` if its query is ``old``."""
    from alembic import op

    op.execute(_checks.update()
               .where(_checks.c.check_name == check, _checks.c.query == old)
               .values(query=new))


def replace_setting(key: str, old: str, new: str) -> None:
    """Give setting ``key`` of setup.etl_config the value ``new`` if it is ``old``."""
    from alembic import op

    op.execute(_config.update()
               .where(_config.c.key == key, _config.c.value == old)
               .values(value=new))
