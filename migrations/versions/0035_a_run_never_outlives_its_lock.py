"""A run never goes on without its lock, and a publish never waits for ever.

- The warehouse lock lives on the session that started the run, which is idle while
  other sessions do the work: when it ended (terminated, an idle_session_timeout) the
  work went on unlocked, beside a second run or a migration.  Each piece of a run's
  work (a load, a step, a check, the publish) now takes part through setup.join_run:
  it holds the run lock shared for its transaction and goes on only while the run's
  session still holds the warehouse lock; a migration or a new run, once it holds the
  warehouse lock, waits for every such transaction to end (setup.lock_warehouse v3;
  dwh/db.py for dwh's own).  A run that lost its lock stops at its next step, saying so.
- A run's failure is its first: a step that fails after it (or stops because of it) is
  recorded as failed with its own message, and no longer replaces the run's
  (setup.fail_run v2).
- The publish waits at most run.publish_timeout (3 minutes) for the sessions using the
  tables it replaces, then fails naming each (pid, user, application, state, since
  when, its query), the warehouse untouched; each try waits twice as long as the last
  (up to 5 s), so readers that come and go let it through once a try outlasts their
  queries (setup.publish_tables v2).

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07

"""
from collections.abc import Sequence

from dwh import seeds, sqlfiles

revision: str = "0035"
down_revision: str | Sequence[str] | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "setup.join_run": 1,
    "setup.fail_run": 2,
    "setup.lock_warehouse": 3,
    "setup.run_step": 3,
    "setup.run_check": 3,
    "setup.publish": 6,
    "setup.publish_tables": 2,
    "setup.orchestrate_bronze": 6,
}

SEED = [
    {"key": "run.publish_timeout", "value": "3 minutes",
     "description": "How long the publish waits for the sessions using the tables it "
                    "replaces before the run fails naming them (an interval)."},
]


def upgrade() -> None:
    seeds.add_settings(SEED)
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
    seeds.remove_settings(SEED)
