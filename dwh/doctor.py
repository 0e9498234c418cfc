"""Drift detection: is the database what its revisions made it?

The expectation is built, not guessed: a scratch database on the same server is
migrated to the warehouse's own revision, and the two catalogs are compared:
every procedure, function and view of the warehouse's schemas (by a hash of the
server's own rendering of its definition, so formatting cannot differ), and every
table and column.  Work tables of runs (the stage schemas) are not compared.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass, field, replace

import psycopg2
from psycopg2 import sql

from dwh import db, migrate
from dwh.errors import DwhError
from dwh.settings import Settings, render_url, resolve_url, with_database

log = logging.getLogger(__name__)

STAGES = ("bronze_stage", "silver_stage", "gold_stage")

ROUTINES = """
    SELECT format('%%s.%%s(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
           CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
           md5(pg_get_functiondef(p.oid))
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = ANY (%s) AND p.prokind IN ('f', 'p')
"""
VIEWS = """
    SELECT format('%%s.%%s', n.nspname, c.relname), 'view', md5(pg_get_viewdef(c.oid))
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY (%s) AND c.relkind IN ('v', 'm')
"""
COLUMNS = """
    SELECT format('%%s.%%s', n.nspname, c.relname), a.attname,
           format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attcollation <> t.typcollation
                       THEN ' collate ' || quote_ident(co.collname) ELSE '' END,
           a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
      LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
     WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p')
"""
SCHEMAS = "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY (%s)"
MANAGED = ["setup", "bronze", "silver", "gold", *STAGES]


@dataclass(frozen=True)
class Finding:
    kind: str       # procedure, function, view, table, column, schema, revision
    name: str
    problem: str    # edited by hand, missing, extra, differs, not at head
    detail: str = ""


@dataclass
class Report:
    database: str
    revision: str
    head: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def at_head(self) -> bool:
        return self.revision == (self.head or "base")

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict:
        return {"database": self.database, "revision": self.revision, "head": self.head,
                "at_head": self.at_head, "ok": self.ok,
                "findings": [asdict(f) for f in self.findings]}


@dataclass
class _Catalog:
    schemas: set[str]
    objects: dict[str, tuple[str, str]]          # name -> (kind, definition hash)
    columns: dict[str, dict[str, tuple]]         # table -> column -> (type, not null, default)


def _catalog(conn) -> _Catalog:
    with conn.cursor() as cur:
        cur.execute(SCHEMAS, (MANAGED,))
        schemas = {r[0] for r in cur.fetchall()}
        objects = {}
        for query in (ROUTINES, VIEWS):
            cur.execute(query, (MANAGED,))
            objects.update({name: (kind, digest) for name, kind, digest in cur.fetchall()})
        layer_schemas = [s for s in MANAGED if s not in STAGES]
        cur.execute(COLUMNS, (layer_schemas,))
        columns: dict[str, dict[str, tuple]] = {}
        for table, column, type_, notnull, default in cur.fetchall():
            columns.setdefault(table, {})[column] = (type_, notnull, default)
    return _Catalog(schemas, objects, columns)


def compare(expected: _Catalog, actual: _Catalog) -> list[Finding]:
    found = []
    for schema in sorted(expected.schemas - actual.schemas):
        found.append(Finding("schema", schema, "missing"))
    for name in sorted(expected.objects.keys() | actual.objects.keys()):
        if name not in actual.objects:
            found.append(Finding(expected.objects[name][0], name, "missing"))
        elif name not in expected.objects:
            found.append(Finding(actual.objects[name][0], name, "extra",
                                 "not created by any revision"))
        elif expected.objects[name][1] != actual.objects[name][1]:
            found.append(Finding(actual.objects[name][0], name, "edited by hand",
                                 "its definition differs from the file version its revision applied"))
    for table in sorted(expected.columns.keys() | actual.columns.keys()):
        if table not in actual.columns:
            found.append(Finding("table", table, "missing"))
            continue
        if table not in expected.columns:
            found.append(Finding("table", table, "extra", "not created by any revision"))
            continue
        want, have = expected.columns[table], actual.columns[table]
        for column in sorted(want.keys() | have.keys()):
            if column not in have:
                found.append(Finding("column", f"{table}.{column}", "missing"))
            elif column not in want:
                found.append(Finding("column", f"{table}.{column}", "extra"))
            elif want[column] != have[column]:
                found.append(Finding("column", f"{table}.{column}", "differs",
                                     f"expected {_describe(want[column])}, "
                                     f"found {_describe(have[column])}"))
    return found


def _describe(column: tuple) -> str:
    type_, notnull, default = column
    return type_ + (" not null" if notnull else "") + (f" default {default}" if default else "")


def doctor(settings: Settings) -> Report:
    """Compare the database with a scratch database migrated to the same revision."""
    current = migrate.current(settings)
    revision = current.revisions[0] if current.revisions else "base"
    report = Report(current.url, revision, current.head)
    if not report.at_head:
        report.findings.append(Finding("revision", revision, "not at head",
                                       f"the project's head is {current.head}: run dwh upgrade"))
    url = resolve_url(settings)
    scratch = with_database(url, f"dwh_doctor_{uuid.uuid4().hex[:10]}")
    _create_scratch(scratch)
    try:
        with migrate.quiet():  # the scratch database's migration is not news to the user
            migrate.upgrade(replace(settings,
                                    database_url=scratch.render_as_string(hide_password=False)),
                            revision)
        expected_conn = db.raw_connect(scratch)
        actual_conn = db.raw_connect(url)
        try:
            report.findings += compare(_catalog(expected_conn), _catalog(actual_conn))
        finally:
            expected_conn.close()
            actual_conn.close()
    finally:
        _drop_scratch(scratch)
    return report


def _create_scratch(scratch) -> None:
    try:
        with db.maintenance_connection(scratch) as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch.database)))
    except psycopg2.Error as err:
        raise DwhError(
            f"dwh doctor builds what the revisions create in a scratch database, and could not "
            f"create one on {render_url(scratch.set(database='postgres'))}: "
            f"{db.error_line(err)} (user {scratch.username or 'of the connection'}); "
            f"run it as a role with CREATEDB (a dwh_loader login has none)") from err


def _drop_scratch(scratch) -> None:
    with db.maintenance_connection(scratch) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                    .format(sql.Identifier(scratch.database)))

