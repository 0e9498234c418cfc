"""Every record of a file is loaded or the load fails naming it; guards against bad extracts.

- A server before PostgreSQL 18 takes a line holding only \\. (outside quotes) for the
  end of a CSV file's data and silently loads nothing after it: the server's loads
  look for one (setup.csv_data_marker) and fail naming its line, as the client's do.
- A file that changes while it is loaded (its size or modification time) fails the
  load: nothing of it is published.
- A job reads only <base path>/<dataset>.csv of its table, whatever bronze.load_jobs
  says (setup.bronze_file_path); a role that may not read server files is told so.
- Volume: bronze.load_jobs.max_shrink (0.5) is the share of rows a load may lose
  against the last published load of its job; more, or an empty file where that load
  had rows, fails the run with both counts (setup.guard_load).  NULL turns it off; a
  first load is not guarded; a run started with --allow-shrink (SET dwh.allow_shrink
  = on in SQL; setup.etl_runs.allow_shrink) accepts it.
- Freshness: source.<source>.max_age (an interval; unset, no check) and
  source.<source>.stale (warning, or error): a file older than that is a warning on its
  load, or fails it.
- A run of silver or gold alone needs its input layer published by an earlier run.
- Messages: a header that names other columns lists at most ten of a kind, a file
  delimited by ';', tabs or '|' is told so, an unterminated quote names the line where
  it opens, and what a file puts in a message is printable (setup.printable).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07

"""
from collections.abc import Sequence

from alembic import op

from dwh import sqlfiles

revision: str = "0034"
down_revision: str | Sequence[str] | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL: dict[str, int] = {
    "setup.printable": 1,
    "setup.byte_count": 1,
    "setup.csv_data_marker": 1,
    "setup.csv_quote_opened": 1,
    "setup.guard_load": 1,
    "setup.check_unchanged": 1,
    "setup.check_header": 2,
    "setup.describe_load_error": 2,
    "setup.bronze_file_path": 2,
    "setup.bronze_load_end": 2,
    "setup.load_bronze_file": 5,
    "setup.begin_run": 3,
    "setup.orchestrate_bronze": 5,
}

# Freshness settings for every source there is (one with a base path), unset.
FRESHNESS = """
    INSERT INTO setup.etl_config (key, value, description)
    SELECT format('source.%s.%s', s.source, f.name), f.value, format(f.description, s.source)
      FROM (SELECT split_part(key, '.', 2) AS source FROM setup.etl_config
             WHERE key LIKE 'source.%.base_path') AS s
     CROSS JOIN (VALUES
        ('max_age', NULL, 'How old a file of source %s may be (an interval such as '
                          '''26 hours''; unset: not checked), from its modification time'),
        ('stale', 'warning', 'What a file of source %s older than its max_age is: '
                             'warning (the load goes on) or error (it fails)')) AS f(name, value, description)
    ON CONFLICT (key) DO NOTHING"""


def upgrade() -> None:
    op.execute("ALTER TABLE bronze.load_jobs ADD COLUMN max_shrink numeric DEFAULT 0.5 "
               "CONSTRAINT load_jobs_max_shrink_check "
               "CHECK (max_shrink IS NULL OR (max_shrink >= 0 AND max_shrink <= 1))")
    op.execute("COMMENT ON COLUMN bronze.load_jobs.max_shrink IS 'The share of its rows a load "
               "may lose against the last published load of the job before it fails the run "
               "(0.5: half); NULL turns the guard off.'")
    op.execute("ALTER TABLE setup.etl_runs ADD COLUMN allow_shrink boolean NOT NULL DEFAULT false")
    op.execute("COMMENT ON COLUMN setup.etl_runs.allow_shrink IS 'The run accepts loads that "
               "fall short of their job''s max_shrink (dwh orchestrate --allow-shrink).'")
    op.execute(FRESHNESS)
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
    op.execute("DELETE FROM setup.etl_config WHERE key LIKE 'source.%.max_age' "
               "OR key LIKE 'source.%.stale'")
    op.execute("ALTER TABLE setup.etl_runs DROP COLUMN allow_shrink")
    op.execute("ALTER TABLE bronze.load_jobs DROP COLUMN max_shrink")
