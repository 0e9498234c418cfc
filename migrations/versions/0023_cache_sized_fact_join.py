"""The facts' join to the customers' keys in cache-sized batches: run.join_work_mem (4MB).

gold.load_fact_sales probes the hash of every customer's key once per sales line.
At scale 100 (bench/, 1.85 million customers, 6 million sales lines) that hash
is about 90 MB with run.work_mem (256MB), larger than the CPU's cache, and the
probes miss it. With work_mem 4MB PostgreSQL builds it in batches that fit the
cache and probes each with its share of the lines, at the price of writing the
lines to a temporary file and reading them back.

Measured on this machine (AMD EPYC, 2 cores: 1 MiB of L2 per core, 32 MiB of
shared L3), alternated:
- the facts' query alone, serial: 15.7 / 16.9 s with 4MB, 19.5 / 19.6 s with
  256MB, 19.5 / 21.2 s with 16MB;
- whole `--jobs 2` runs: 76.0 / 72.9 s with 4MB, 79.4 / 77.0 s without.
Same rows: only the plan's memory differs. A server where temporary files are
slow, or whose cache differs, may want another value; NULL falls back to
run.work_mem. A value PostgreSQL refuses names the setting: setup.apply_setting,
taken out of setup.analyze_bronze, which used it for run.bronze_statistics_target.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-29

"""
from collections.abc import Sequence

from dwh import seeds, sqlfiles

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Versioned SQL this revision applies, in this order; the downgrade restores the
# versions before (and drops setup.apply_setting). setup.apply_setting is what
# setup.analyze_bronze did for run.bronze_statistics_target, now shared with the facts.
SQL: dict[str, int] = {
    "setup.apply_setting": 1,
    "setup.analyze_bronze": 2,
    "gold.load_fact_sales": 5,
}

SEED = [{"key": "run.join_work_mem", "value": "4MB",
         "description": "work_mem of the facts' join of each sales line to its customer's key: "
                        "a hash that fits the CPU's cache is probed faster, so a larger one is "
                        "built in batches of this size; NULL uses run.work_mem."}]


def upgrade() -> None:
    seeds.add_settings(SEED)
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
    seeds.remove_settings(SEED)
