"""A snapshot of everything a revision can create, for comparing catalogs."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

USER_SCHEMAS = """
    n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'
"""

def acl(column: str, kind: str, owner: str) -> str:
    """An ACL as a sorted text, NULL (the default) spelled out, so that an explicit
    default (left by GRANT/REVOKE pairs) compares equal to the implicit one."""
    return (f"(SELECT string_agg(x::text, ',' ORDER BY x::text) "
            f"FROM unnest(coalesce({column}, acldefault({kind}::\"char\", {owner}))) AS x)")


QUERIES = {
    "schemas": f"""
        SELECT n.nspname, obj_description(n.oid, 'pg_namespace'),
               pg_get_userbyid(n.nspowner), {acl("n.nspacl", "'n'", "n.nspowner")}
        FROM pg_namespace n WHERE {USER_SCHEMAS}""",
    "relations": f"""
        SELECT n.nspname, c.relname, c.relkind, c.relpersistence,
               obj_description(c.oid, 'pg_class'), pg_get_userbyid(c.relowner),
               {acl("c.relacl", "CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END", "c.relowner")}
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_SCHEMAS} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')""",
    "columns": f"""
        SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
               (SELECT co.collname FROM pg_collation co WHERE co.oid = a.attcollation),
               a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity,
               col_description(c.oid, a.attnum)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE {USER_SCHEMAS} AND a.attnum > 0 AND NOT a.attisdropped
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f')""",
    "constraints": f"""
        SELECT n.nspname, c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_SCHEMAS}""",
    "indexes": f"""
        SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_SCHEMAS}""",
    "routines": f"""
        SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind,
               pg_get_functiondef(p.oid), {acl("p.proacl", "'f'", "p.proowner")},
               obj_description(p.oid, 'pg_proc'),
               p.prosecdef, p.proconfig::text
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_SCHEMAS}""",
    "triggers": f"""
        SELECT n.nspname, c.relname, pg_get_triggerdef(t.oid)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_SCHEMAS} AND NOT t.tgisinternal""",
    "views": f"""
        SELECT n.nspname, c.relname, pg_get_viewdef(c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_SCHEMAS} AND c.relkind IN ('v', 'm')""",
    "default_privileges": """
        SELECT pg_get_userbyid(d.defaclrole), d.defaclnamespace::regnamespace::text,
               d.defaclobjtype, d.defaclacl::text
        FROM pg_default_acl d""",
    "types": f"""
        SELECT n.nspname, t.typname, t.typtype
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE {USER_SCHEMAS} AND t.typtype IN ('c', 'd', 'e', 'r')
          AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)""",
}


SEEDED = {
    "setup.etl_config": "key, value, description",
    "setup.quality_checks": "check_name, layer, severity, description, query, enabled",
}


def snapshot(conn: Connection, *, with_rows: bool = True) -> dict[str, list[tuple]]:
    """Catalog objects of the user schemas (and row counts of their tables)."""
    snap = {
        name: sorted((tuple(map(_text, row)) for row in conn.execute(text(query))), key=repr)
        for name, query in QUERIES.items()
    }
    # The rows revisions own: the seeded settings and the quality checks' definitions.
    for table, columns in SEEDED.items():
        if conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is not None:
            snap[table] = sorted((tuple(map(_text, row)) for row in conn.execute(
                text(f"SELECT {columns} FROM {table}"))), key=repr)
    if with_rows:
        tables = conn.execute(text(f"""
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {USER_SCHEMAS} AND c.relkind IN ('r', 'p')
              AND NOT (n.nspname = 'setup' AND c.relname = 'alembic_version')
            ORDER BY 1""")).scalars().all()
        snap["rows"] = [
            (t, conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()) for t in tables
        ]
    conn.rollback()
    return snap


def _text(value):
    return value if value is None or isinstance(value, (str, bool, int)) else str(value)


def diff(before: dict, after: dict) -> str:
    """A readable difference of two snapshots ('' when equal)."""
    lines = []
    for key in sorted(set(before) | set(after)):
        b, a = set(before.get(key, [])), set(after.get(key, []))
        for row in sorted(b - a, key=repr):
            lines.append(f"- {key}: {row}")
        for row in sorted(a - b, key=repr):
            lines.append(f"+ {key}: {row}")
    return "\n".join(lines)
