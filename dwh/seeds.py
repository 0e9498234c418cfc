"""Rows the revisions own: the quality checks' queries and the settings they seed.

A revision that improves one changes it only where it is still as an earlier
revision shipped it, so a user's own edit is kept; its downgrade calls the same
function with the two values swapped.  Called from a revision's upgrade or
downgrade (online, or offline with ``--sql``).
"""

from __future__ import annotations

import sqlalchemy as sa

_checks = sa.table("quality_checks", sa.column("check_name", sa.Text),
                   sa.column("query", sa.Text), schema="setup")
_config = sa.table("etl_config", sa.column("key", sa.Text), sa.column("value", sa.Text),
                   schema="setup")


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
