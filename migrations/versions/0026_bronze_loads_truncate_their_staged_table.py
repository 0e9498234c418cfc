"""Bronze loads truncate their staged table and COPY FREEZE into it.

A bronze file was COPYed into the empty table setup.prepare_bronze had staged in
an earlier transaction, so its rows were ordinary new rows: the first read of the
table (the silver build) set a hint bit on every one, rewriting every page, and on
a server with data checksums (PostgreSQL 18's default) wrote each page to WAL whole
to do so; at wal_level = minimal the COPY itself was WAL-logged too, as the table
was not new in its transaction.  Version 3 of setup.load_bronze_file truncates the
staged table first, in the same transaction, and loads it with COPY FREEZE: the
rows are written frozen, and at minimal without WAL.  The client-side load
(dwh.ingest) does the same at every revision: each stages an empty table of its own
for every enabled job, so truncating it changes nothing else.  COPY FREEZE refuses
to run while the session has a cursor open: version 3 of setup.orchestrate_bronze
loops over the jobs as an array instead of over a query, and setup.load_bronze_file
falls back to a plain COPY when the caller holds one.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-29

"""
from collections.abc import Sequence

from dwh import sqlfiles

revision: str = "0026"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Versioned SQL this revision applies; the downgrade restores the versions before.
SQL: dict[str, int] = {"setup.load_bronze_file": 3, "setup.orchestrate_bronze": 3}


def upgrade() -> None:
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
