"""The gold summary: rows of every gold table, and the warehouse's own report."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg2 import sql

from dwh import db
from dwh.settings import Settings


@dataclass(frozen=True)
class Report:
    """Rows of every gold table, and the warehouse's own summary (gold.report())."""

    tables: list[tuple[str, int]]
    sections: list[tuple[str, str, object]]


def report(settings: Settings) -> Report:
    conn = db.connect_warehouse(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT c.relname FROM pg_catalog.pg_class c "
                        "WHERE c.relnamespace = to_regnamespace('gold') AND c.relkind = 'r' "
                        "ORDER BY c.relname")
            names = [r[0] for r in cur.fetchall()]
            tables = []
            for name in names:
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("gold", name)))
                tables.append((f"gold.{name}", cur.fetchone()[0]))
            sections: list[tuple[str, str, object]] = []
            cur.execute("SELECT to_regprocedure('gold.report()') IS NOT NULL")
            if cur.fetchone()[0]:
                cur.execute("SELECT section, item, value FROM gold.report()")
                sections = [tuple(r) for r in cur.fetchall()]
        return Report(tables, sections)
    finally:
        conn.close()
