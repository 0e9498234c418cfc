"""dwh_loader owns nothing and creates nothing: no code of a loader's runs in anyone's run.

Up to 0032 dwh_loader owned the layer tables (to swap them in at the publish) and could
create objects in the layer schemas, so a login in dwh_loader could put a trigger, a
CHECK constraint, a default or an index expression calling code of its own on a table,
and the next run by a superuser executed it with the superuser's rights.

- A new role, dwh_owner (NOLOGIN, no member, itself a member of dwh_loader), owns the
  layer tables and the stage schemas and has CREATE in the layer schemas.  dwh_loader
  keeps what it needs to run the pipeline (the procedures, run history, reading the
  layers and settings) and gets INSERT and TRUNCATE on each staged bronze table, for
  its loads; it owns nothing, so it can attach nothing to any table.
- A role with dwh_owner's privileges (a superuser) runs the steps as itself; any other
  (a dwh_loader login) has them run by SECURITY DEFINER functions owned by dwh_owner,
  each of which runs only the run's own statements (setup.run_step_as_owner,
  setup.count_violations_as_owner, setup.publish_tables_as_owner,
  setup.analyze_bronze_as_owner).
- Unqualified names: every entry procedure refuses a search_path holding a schema where
  dwh_loader, its members or PUBLIC may create objects (setup.check_search_path); dwh's
  own sessions search only pg_catalog.
- Server files: dwh_loader no longer gets pg_read_server_files, nor EXECUTE on
  pg_ls_dir and pg_read_binary_file (with them a member could read every file the
  server's OS user can, the password verifiers in global/1260 among them).  A loader
  that runs the pure-SQL path needs them granted by hand (docs/operating-safely.md).  They are
  the server's: revoking them here revokes them for every warehouse on the server, and
  a downgrade leaves them revoked.
- dwh_loader may read setup.alembic_version (dwh current, doctor, a deploy at head).

The upgrade first refuses a database where a member of dwh_loader already owns a
function, operator, type, view or schema, or where a table it owned carries what its
owner could attach and what runs as whoever writes to it (a constraint but a key, a
default but now(), an index expression, a policy, a trigger, a rule): they would keep
running; drop them (or reassign them) first, and add them again after the upgrade.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07

"""
from collections.abc import Sequence

from alembic import op

from dwh import sqlfiles

revision: str = "0033"
down_revision: str | Sequence[str] | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LAYERS = ("bronze", "silver", "gold")
STAGES = ("bronze_stage", "silver_stage", "gold_stage")
SERVER_FILE_FUNCTIONS = ("pg_catalog.pg_ls_dir(text)",
                         "pg_catalog.pg_read_binary_file(text, bigint, bigint)")

SQL: dict[str, int] = {
    "setup.check_search_path": 1,
    "setup.run_step_as_owner": 1,
    "setup.count_violations": 1,
    "setup.count_violations_as_owner": 1,
    "setup.publish_tables": 1,
    "setup.publish_tables_as_owner": 1,
    "setup.analyze_bronze_as_owner": 1,
    "setup.analyze_load": 1,
    "setup.run_step": 2,
    "setup.run_check": 2,
    "setup.publish": 5,
    "setup.prepare_stage": 3,
    "setup.load_bronze_file": 4,
    "setup.orchestrate_all": 2,
    "setup.orchestrate_bronze": 4,
    "setup.orchestrate_layer": 2,
}


def _list(names) -> str:
    return ", ".join(names)


def _array(names) -> str:
    return "ARRAY[" + ", ".join(f"'{n}'" for n in names) + "]"


PLANTED = f"""
    DO $$
    DECLARE
        v_found text;
    BEGIN
        WITH loaders AS (
            SELECT r.oid FROM pg_catalog.pg_roles r
             WHERE NOT r.rolsuper AND r.rolname <> 'dwh_owner'
               AND pg_catalog.pg_has_role(r.oid, 'dwh_loader', 'MEMBER')
        ), owned AS (
            SELECT c.oid, c.relrowsecurity FROM pg_catalog.pg_class c
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = ANY ({_array(LAYERS + STAGES)}) AND c.relkind IN ('r', 'p')
               AND c.relowner IN (SELECT oid FROM loaders)
        ), found AS (
            SELECT format('function %s', p.oid::regprocedure) AS what
              FROM pg_catalog.pg_proc p WHERE p.proowner IN (SELECT oid FROM loaders)
            UNION ALL
            SELECT format('operator %s', o.oid::regoperator)
              FROM pg_catalog.pg_operator o WHERE o.oprowner IN (SELECT oid FROM loaders)
            UNION ALL
            SELECT format('type %s', t.oid::regtype)
              FROM pg_catalog.pg_type t
             WHERE t.typowner IN (SELECT oid FROM loaders) AND t.typrelid = 0
               AND t.typcategory <> 'A'
            UNION ALL
            SELECT format('schema %I', n.nspname)
              FROM pg_catalog.pg_namespace n
             WHERE n.nspowner IN (SELECT oid FROM loaders) AND n.nspname <> ALL ({_array(STAGES)})
            UNION ALL
            SELECT format('%s %s', CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm'
                                   THEN 'materialized view' ELSE 'relation' END, c.oid::regclass)
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relowner IN (SELECT oid FROM loaders)
               AND (c.relkind IN ('v', 'm', 'f', 'c')
                    OR (c.relkind IN ('r', 'p')
                        AND n.nspname <> ALL ({_array(LAYERS + STAGES)})))
            UNION ALL
            SELECT format('rule %I on %s', w.rulename, w.ev_class::regclass)
              FROM pg_catalog.pg_rewrite w JOIN pg_catalog.pg_class c ON c.oid = w.ev_class
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE w.rulename <> '_RETURN' AND n.nspname = ANY ({_array(LAYERS + STAGES)})
            UNION ALL
            -- What the owner of a table can attach that runs as whoever writes to it,
            -- even calling only standard functions (query_to_xml runs any SQL): the
            -- revisions give the loader's tables none of it but defaults of now().
            SELECT format('constraint %I on %s', k.conname, k.conrelid::regclass)
              FROM pg_catalog.pg_constraint k JOIN owned t ON t.oid = k.conrelid
             WHERE k.contype NOT IN ('p', 'u', 'n')  -- (a NOT NULL: PostgreSQL 18 lists them)
            UNION ALL
            SELECT format('default of %s.%I', a.attrelid::regclass, a.attname)
              FROM pg_catalog.pg_attribute a JOIN owned t ON t.oid = a.attrelid
              JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attnum > 0 AND NOT a.attisdropped
               AND (a.attgenerated <> '' OR pg_catalog.pg_get_expr(d.adbin, d.adrelid) <> 'now()')
            UNION ALL
            SELECT format('index %s', i.indexrelid::regclass)
              FROM pg_catalog.pg_index i JOIN owned t ON t.oid = i.indrelid
             WHERE i.indexprs IS NOT NULL OR i.indpred IS NOT NULL
            UNION ALL
            SELECT format('policy %I on %s', y.polname, y.polrelid::regclass)
              FROM pg_catalog.pg_policy y JOIN owned t ON t.oid = y.polrelid
            UNION ALL
            SELECT format('row-level security on %s', t.oid::regclass)
              FROM owned t WHERE t.relrowsecurity
            UNION ALL
            SELECT format('trigger %I on %s', g.tgname, g.tgrelid::regclass)
              FROM pg_catalog.pg_trigger g JOIN owned t ON t.oid = g.tgrelid
             WHERE NOT g.tgisinternal
        )
        SELECT string_agg(what, ', ' ORDER BY what) INTO v_found FROM found;
        IF v_found IS NOT NULL THEN
            RAISE EXCEPTION 'members of dwh_loader own, or could have attached to the tables '
                            'they own, what would keep running in every run: %', v_found
                USING HINT = 'save the definitions you want to keep, drop them (or ALTER ... '
                             'OWNER TO a role you trust), upgrade, then add them again';
        END IF;
    END $$"""


def _owners(old: str, new: str) -> str:
    """The layer tables and the stage schemas owned by ``old`` go to ``new``; dwh_loader
    reads the tables dwh_owner owns."""
    grant = ("GRANT SELECT ON %s TO dwh_loader" if new == "dwh_owner"
             else "REVOKE SELECT ON %s FROM dwh_loader")
    return f"""
        DO $$
        DECLARE
            r record;
        BEGIN
            FOR r IN SELECT c.oid::regclass AS t
                       FROM pg_catalog.pg_class c
                       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = ANY ({_array(LAYERS + STAGES)}) AND c.relkind IN ('r', 'p')
                        AND pg_catalog.pg_get_userbyid(c.relowner) = '{old}' LOOP
                IF '{old}' = 'dwh_owner' THEN
                    EXECUTE format('{grant}', r.t);
                END IF;
                EXECUTE format('ALTER TABLE %s OWNER TO {new}', r.t);
                IF '{new}' = 'dwh_owner' THEN
                    EXECUTE format('{grant}', r.t);
                END IF;
            END LOOP;
            FOR r IN SELECT n.nspname FROM pg_catalog.pg_namespace n
                      WHERE n.nspname = ANY ({_array(STAGES)})
                        AND pg_catalog.pg_get_userbyid(n.nspowner) = '{old}' LOOP
                EXECUTE format('ALTER SCHEMA %I OWNER TO {new}', r.nspname);
            END LOOP;
        END $$"""


SERVER_FILES = f"""
    DO $$ BEGIN
        IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
            REVOKE pg_read_server_files FROM dwh_loader;
            REVOKE EXECUTE ON FUNCTION {_list(SERVER_FILE_FUNCTIONS)} FROM dwh_loader;
        END IF;
    END $$"""


def upgrade() -> None:
    op.execute(PLANTED)
    op.execute("""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'dwh_owner') THEN
                CREATE ROLE dwh_owner NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$""")
    op.execute("GRANT dwh_loader TO dwh_owner")
    op.execute(_owners("dwh_loader", "dwh_owner"))
    op.execute(f"GRANT USAGE ON SCHEMA {_list(STAGES)} TO dwh_loader")  # (was its owner)
    op.execute(f"REVOKE CREATE ON SCHEMA {_list(LAYERS)} FROM dwh_loader")
    op.execute(f"GRANT CREATE ON SCHEMA {_list(LAYERS)} TO dwh_owner")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {_list(LAYERS)} "
               "GRANT SELECT ON TABLES TO dwh_loader")
    op.execute(SERVER_FILES)
    op.execute("GRANT SELECT ON setup.alembic_version TO dwh_loader")
    sqlfiles.apply_all(SQL)


def downgrade() -> None:
    sqlfiles.restore_all(SQL)
    op.execute("REVOKE SELECT ON setup.alembic_version FROM dwh_loader")
    # Server file access stays revoked: pg_read_server_files is the server's, and other
    # warehouses on it may be past this revision (grant it by hand where wanted).
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {_list(LAYERS)} "
               "REVOKE SELECT ON TABLES FROM dwh_loader")
    op.execute(f"REVOKE CREATE ON SCHEMA {_list(LAYERS)} FROM dwh_owner")
    op.execute(f"GRANT CREATE ON SCHEMA {_list(LAYERS)} TO dwh_loader")
    op.execute(f"REVOKE USAGE ON SCHEMA {_list(STAGES)} FROM dwh_loader")
    op.execute(_owners("dwh_owner", "dwh_loader"))
    # Dropped only when nothing on the server uses it (other warehouses share it, and
    # need it to stay a member of dwh_loader).
    op.execute("""
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'dwh_owner')
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_shdepend
                                WHERE refclassid = 'pg_catalog.pg_authid'::regclass
                                  AND refobjid = 'dwh_owner'::regrole)
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members
                                WHERE roleid = 'dwh_owner'::regrole) THEN
                DROP ROLE dwh_owner;
            END IF;
        END $$""")
