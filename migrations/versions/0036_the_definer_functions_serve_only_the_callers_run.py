"""What runs as dwh_owner serves only the caller's own run; a review's mends of 0033-0035.

- The SECURITY DEFINER functions (setup.run_step_as_owner, count_violations_as_owner,
  publish_tables_as_owner) took any run marked running, which a dwh_loader login may
  write: one could drop the stage of a superuser's run mid-way, or publish staged
  bronze with no load, guard or check.  Each now takes part through setup.join_run,
  which admits only the login whose session started the run (and holds its lock, and
  started before it: a reused pid is another session); the publish also needs the
  run's own layers and every load and check of the run passed.  A staged bronze table
  is granted only to the login of a loader's own run (setup.prepare_stage v4).
- setup.check_search_path counts every role a loader may SET ROLE to, inherited or not.
- A line holding only \\. in a file whose lines end with CR alone is found too
  (setup.csv_data_marker v2; dwh/ingest.py).
- The publish's tries wait for all their locks together (each LOCK waited up to the
  try's time, so a try of 30 tables could take minutes); the sessions' queries go with
  the error (its DETAIL) and not into the run history, which every dwh_loader member
  reads (setup.publish_tables v3, publish v7, fail_run v3).
- setup.guard_load v2: max_shrink 1 accepts an empty file; an unknown
  source.<source>.stale is an error, not a warning.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-08

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "0036"
down_revision: str | Sequence[str] | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "setup.join_run": 2,
    "setup.run_step_as_owner": 2,
    "setup.count_violations_as_owner": 2,
    "setup.publish_tables_as_owner": 2,
    "setup.prepare_stage": 4,
    "setup.check_search_path": 2,
    "setup.csv_data_marker": 2,
    "setup.guard_load": 2,
    "setup.publish_tables": 3,
    "setup.publish": 7,
    "setup.fail_run": 3,
}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
