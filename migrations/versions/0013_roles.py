"""Least privilege: roles dwh_loader and dwh_reader; nothing executable by PUBLIC.

- dwh_loader runs the pipeline: it owns the layer tables it rebuilds and the
  stage schemas, may execute the orchestration procedures and write run
  history and the load logs, and reads etl_config and the quality checks
  (which it may not change: checks are SQL that runs).  When the deploying
  role is a superuser, dwh_loader may also read server files (server-side
  COPY of the pure-SQL path).
- dwh_reader may read gold, nothing else.
- No function or procedure of the warehouse is executable by PUBLIC, now or
  when later revisions create more (default privileges of the deploying role).

Roles belong to the server, not to this database: creating them is
idempotent (several warehouses share a server), and the downgrade revokes this
database's grants, and drops a role only when nothing else on the server
uses it (no privileges or objects in another database, no members).

Grant dwh_loader or dwh_reader to a login role of your own to use them:
    CREATE ROLE etl LOGIN PASSWORD '...' IN ROLE dwh_loader;

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27

"""
from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("dwh_loader", "dwh_reader")
LAYERS = ("bronze", "silver", "gold")
STAGES = ("bronze_stage", "silver_stage", "gold_stage")
CODE_SCHEMAS = ("setup", "bronze", "silver", "gold")
LAYER_TABLES = {
    "bronze": ("crm_cust_info", "crm_prd_info", "crm_sales_details", "erp_cust_az12",
               "erp_loc_a101", "erp_px_cat_g1v2"),
    "silver": ("crm_cust_info", "crm_prd_info", "crm_sales_details", "erp_cust_az12",
               "erp_loc_a101", "erp_px_cat_g1v2"),
    "gold": ("surrogate_keys", "dim_customers", "dim_products", "fact_sales"),
}
RUN_TABLES = ("setup.etl_runs", "setup.etl_run_steps", "bronze.load_jobs", "bronze.load_log")
READ_TABLES = ("setup.etl_config", "setup.quality_checks", "setup.calendar")
SERVER_FILE_FUNCTIONS = ("pg_catalog.pg_ls_dir(text)",
                         "pg_catalog.pg_read_binary_file(text, bigint, bigint)")


def _list(names) -> str:
    return ", ".join(names)


def upgrade() -> None:
    for role in ROLES:
        # Idempotent and safe against a concurrent deploy of another warehouse.
        op.execute(f"""
            DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN
                    CREATE ROLE {role} NOLOGIN;
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END $$""")
    code = _list(CODE_SCHEMAS)
    op.execute(f"REVOKE EXECUTE ON ALL ROUTINES IN SCHEMA {code} FROM PUBLIC")
    op.execute("ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON ROUTINES FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON ALL ROUTINES IN SCHEMA {code} TO dwh_loader")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {code} GRANT EXECUTE ON ROUTINES TO dwh_loader")

    op.execute(f"GRANT USAGE ON SCHEMA {_list(CODE_SCHEMAS + STAGES)} TO dwh_loader")
    # Publishing moves a staged table into its layer and drops the one it replaces.
    op.execute(f"GRANT CREATE ON SCHEMA {_list(LAYERS)} TO dwh_loader")
    for stage in STAGES:
        op.execute(f"ALTER SCHEMA {stage} OWNER TO dwh_loader")
    for layer, tables in LAYER_TABLES.items():
        for table in tables:
            op.execute(f"ALTER TABLE {layer}.{table} OWNER TO dwh_loader")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {_list(RUN_TABLES)} TO dwh_loader")
    op.execute(f"GRANT SELECT ON {_list(READ_TABLES)} TO dwh_loader")
    op.execute("GRANT USAGE ON ALL SEQUENCES IN SCHEMA setup, bronze TO dwh_loader")
    op.execute(f"""
        DO $$ BEGIN
            IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
                GRANT pg_read_server_files TO dwh_loader;
                GRANT EXECUTE ON FUNCTION {_list(SERVER_FILE_FUNCTIONS)} TO dwh_loader;
            ELSE
                RAISE NOTICE 'not a superuser: dwh_loader gets no server-side file access '
                             '(CALL setup.orchestrate_all() cannot read files; dwh orchestrate '
                             '--source-dir can)';
            END IF;
        END $$""")

    op.execute("GRANT USAGE ON SCHEMA gold TO dwh_reader")
    op.execute("GRANT SELECT ON ALL TABLES IN SCHEMA gold TO dwh_reader")


def downgrade() -> None:
    # This database's grants and ownerships go back to the deploying role.
    op.execute("REASSIGN OWNED BY dwh_loader TO CURRENT_USER")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {_list(CODE_SCHEMAS)} "
               "REVOKE EXECUTE ON ROUTINES FROM dwh_loader")
    op.execute("DROP OWNED BY dwh_loader, dwh_reader")
    op.execute(f"REVOKE EXECUTE ON FUNCTION {_list(SERVER_FILE_FUNCTIONS)} FROM dwh_loader")
    op.execute(f"GRANT EXECUTE ON ALL ROUTINES IN SCHEMA {_list(CODE_SCHEMAS)} TO PUBLIC")
    op.execute("ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON ROUTINES TO PUBLIC")
    for role in ROLES:
        # Dropped only when no other database holds its privileges or objects
        # (pg_shdepend spans the server) and no role is a member of it.
        op.execute(f"""
            DO $$ BEGIN
                IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '{role}')
                   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_shdepend
                                    WHERE refclassid = 'pg_catalog.pg_authid'::regclass
                                      AND refobjid = '{role}'::regrole)
                   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members
                                    WHERE roleid = '{role}'::regrole) THEN
                    DROP ROLE {role};
                END IF;
            END $$""")
