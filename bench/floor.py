"""The floor: every file loaded with plain COPY into unlogged tables without
constraints, in one session (the reference every ratio of the benchmark is taken
against; dwh's bronze load, several files at once and with COPY FREEZE, can take
less).  The durable floor is the same into ordinary (WAL-logged) tables: what a
layer that survives a crash costs to write once, loaded this plain way."""

from __future__ import annotations

import time
from pathlib import Path

from psycopg2 import sql
from sqlalchemy.engine import URL

from bench.data import FILES, source_file
from dwh import db


def copy_file(cur, table: sql.Identifier, path: Path, *, unlogged: bool,
              freeze: bool = False) -> int:
    """Create ``table`` with a text column per header field of the CSV file at ``path``
    and COPY the file into it; returns the rows.  (The floor's load, and the skeleton's.)
    ``freeze``: COPY FREEZE, which needs both in one transaction (the caller's)."""
    with path.open("rb") as fh:
        header = fh.readline().decode("utf-8").strip().lower().split(",")
    cur.execute(sql.SQL("CREATE {} TABLE {} ({})").format(
        sql.SQL("UNLOGGED" if unlogged else ""), table,
        sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in header)))
    with path.open("rb") as fh:
        cur.copy_expert(sql.SQL("COPY {} FROM STDIN WITH (FORMAT csv, HEADER true{})")
                        .format(table, sql.SQL(", FREEZE true" if freeze else "")),
                        fh, size=1 << 20)
    return cur.rowcount


def load(url: URL, source_dir: Path, *, unlogged: bool = True) -> dict:
    conn = db.raw_connect(url)
    rows = 0
    start = time.perf_counter()
    try:
        with conn.cursor() as cur:
            for table in FILES:
                # (named in full: dwh's sessions search only pg_catalog)
                rows += copy_file(cur, sql.Identifier("public", table),
                                  source_file(source_dir, table), unlogged=unlogged)
    finally:
        conn.close()
    return {"seconds": time.perf_counter() - start, "rows": rows}
