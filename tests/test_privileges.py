"""A login in dwh_loader tries each way up: code of its own in the way of a run started by
a superuser, files it may not read, settings and checks it may not change.  Nothing it
can create runs with more rights than dwh_loader's, whoever starts the run."""

from __future__ import annotations

import shutil

import psycopg2
import pytest
from typer.testing import CliRunner

from dwh import migrate
from dwh.cli import app
from dwh.errors import MigrationError, RunFailed
from tests.conftest import ROOT, safe_temp_dir, settings_for, url_string
from tests.warehouse import as_login, connect, last_run, query, run, write_tiny

runner = CliRunner()


@pytest.fixture
def loader(logins):
    """A login in dwh_loader (and nothing else)."""
    return logins["loader"]


# What a loader would plant, each refused: it owns no table and may create in no schema.
PLANTS = {
    "statement trigger on the key map":
        "CREATE TRIGGER t AFTER INSERT ON gold.surrogate_keys "
        "EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()",
    "row trigger on a staged table":
        "CREATE TRIGGER t BEFORE INSERT ON bronze_stage.crm_cust_info FOR EACH ROW "
        "EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()",
    # (query_to_xml runs any SQL, and every role may call it: refused for ownership alone)
    "CHECK constraint": "ALTER TABLE gold.dim_products ADD CONSTRAINT c CHECK "
                        "(pg_catalog.query_to_xml('SELECT 1', true, false, '') IS NOT NULL)",
    "default": "ALTER TABLE bronze.crm_cust_info ALTER COLUMN cst_key "
               "SET DEFAULT pg_catalog.query_to_xml('SELECT 1', true, false, '')::text",
    "index expression": "CREATE INDEX ON silver.crm_cust_info ((pg_catalog.lower(cst_key)))",
    "rule": "CREATE RULE r AS ON INSERT TO gold.surrogate_keys DO ALSO NOTHING",
    "row-level security": "ALTER TABLE gold.fact_sales ENABLE ROW LEVEL SECURITY",
    "policy": "CREATE POLICY p ON gold.fact_sales USING (true)",
    "replacing a staged table": "DROP TABLE bronze_stage.crm_cust_info",
    "a table in a stage": "CREATE TABLE bronze_stage.t (x text)",
    "a bronze table (a load job)": "CREATE TABLE bronze.crm_loot (line text)",
    "a view in gold": "CREATE VIEW gold.v AS SELECT 1 AS one",
    "a view in a stage": "CREATE VIEW silver_stage.v AS SELECT 1 AS one",
    "a function in setup": "CREATE FUNCTION setup.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "a function in silver": "CREATE FUNCTION silver.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "an operator in gold": "CREATE OPERATOR gold.=== (LEFTARG = text, RIGHTARG = text, "
                           "FUNCTION = pg_catalog.texteq)",
    "a domain in bronze": "CREATE DOMAIN bronze.d AS text CHECK (VALUE <> '')",
    "a definer turned invoker": "ALTER FUNCTION setup.run_step_as_owner(bigint, text, text) "
                                "SECURITY INVOKER",
    "a definer rewritten": "CREATE OR REPLACE FUNCTION setup.count_violations_as_owner("
                           "p_run bigint, p_check text) RETURNS bigint LANGUAGE sql "
                           "SECURITY DEFINER AS 'SELECT 0::bigint'",
    "becoming dwh_owner": "SET ROLE dwh_owner",
    "a check of its own": "INSERT INTO setup.quality_checks VALUES ('x', 'gold', 'error', 'x', "
                          "'SELECT pg_catalog.pg_reload_conf()')",
    "an edited check": "UPDATE setup.quality_checks SET query = 'SELECT 1'",
    "an edited setting": "UPDATE setup.etl_config SET value = '/' WHERE key = 'source.crm.base_path'",
    "the revision": "UPDATE setup.alembic_version SET version_num = '0001'",
    "the password verifiers": "SELECT pg_catalog.pg_read_binary_file('global/1260')",
    "a server file": "SELECT pg_catalog.pg_read_file('/etc/passwd')",
    "a server directory": "SELECT pg_catalog.pg_ls_dir('.')",
    "COPY of a server file": "COPY bronze_stage.erp_px_cat_g1v2 FROM '/etc/passwd'",
}


@pytest.mark.parametrize("what", list(PLANTS))
def test_the_loader_can_plant_nothing(what, loader, head_db, test_home, tmp_path):
    run(head_db, test_home, write_tiny(tmp_path / "src"))
    query(head_db, "SELECT setup.prepare_bronze()")  # staged tables, as in the middle of a run
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        as_login(loader, PLANTS[what])


def test_the_definer_functions_run_only_the_runs_own_statements(loader, head_db, test_home,
                                                                 tmp_path):
    run(head_db, test_home, write_tiny(tmp_path / "src"))
    conn = connect(loader)  # the loader's own run, holding the lock
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(6584168, 1)")
            cur.execute("SELECT setup.begin_run('all', 'client')")
            run_id = cur.fetchone()[0]
            for statement in (
                    f"SELECT setup.run_step_as_owner({run_id}, 'gold.fact_sales', "
                    f"'ALTER ROLE dwh_owner SUPERUSER')",
                    f"SELECT setup.run_step_as_owner({run_id}, 'bronze.load_jobs', "
                    f"'SELECT pg_catalog.pg_reload_conf()::int')",
                    "SELECT setup.analyze_bronze_as_owner('crm_cust_info; SELECT 1')"):
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cur.execute(statement)
            # The statement the plan gives the step is what it may run.
            cur.execute("SELECT statement FROM setup.run_plan(%s, ARRAY['silver']) "
                        "WHERE target = 'silver_stage'", (run_id,))
            (statement,), = cur.fetchall()
            cur.execute("SELECT setup.run_step_as_owner(%s, 'silver_stage', %s)",
                        (run_id, statement))
            assert cur.fetchall() == [(0,)]
    finally:
        conn.close()


def test_the_definer_functions_serve_only_the_callers_own_run(loader, head_db):
    """A run marked running is not enough (a loader may write run history): only the
    login whose session started the run, holds its lock and started before it, and for
    the publish the run's own layers once every load and check passed."""
    holder = connect(head_db)  # a superuser's run, holding the lock
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(6584168, 1)")
            cur.execute("SELECT setup.begin_run('all', 'client')")
            theirs = cur.fetchone()[0]
        for statement in (
                f"SELECT setup.run_step_as_owner({theirs}, 'silver_stage', "
                f"$$SELECT setup.prepare_stage('silver', '{{}}')$$)",
                f"SELECT setup.count_violations_as_owner({theirs}, 'gold_facts_resolve')",
                f"SELECT setup.publish_tables_as_owner({theirs}, ARRAY['bronze', 'silver', 'gold'])"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="is not a run of user"):
                as_login(loader, statement)
    finally:
        holder.close()
    own = connect(loader)  # the loader's own run
    try:
        with own.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(6584168, 1)")
            cur.execute("SELECT setup.begin_run('all', 'client')")
            mine = cur.fetchone()[0]
            with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="is a run of all"):
                cur.execute(f"SELECT setup.publish_tables_as_owner({mine}, ARRAY['bronze'])")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege,
                               match="cannot publish before its steps pass: .*not run"):
                cur.execute(f"SELECT setup.publish_tables_as_owner({mine}, "
                            f"ARRAY['bronze', 'silver', 'gold'])")
    finally:
        own.close()


def test_the_loader_runs_the_pipeline_without_owning_anything(loader, head_db, test_home,
                                                              tmp_path):
    result = run(loader, test_home, write_tiny(tmp_path / "src"))
    assert result.status == "succeeded"
    assert query(head_db, "SELECT count(*) FROM gold.fact_sales") == [(3,)]
    assert query(head_db, "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c "
                          "WHERE c.relnamespace::regnamespace::text IN ('bronze', 'silver', "
                          "'gold') AND c.relkind = 'r' "
                          "AND c.relname NOT IN ('load_jobs', 'load_log')") == [("dwh_owner",)]
    assert as_login(loader, "SELECT count(*) FROM silver.crm_cust_info") == [(2,)]
    owned = query(head_db, "SELECT count(*) FROM pg_class WHERE relowner = %s::regrole",
                  (loader.username,))
    assert owned == [(0,)]


# -- code placed where a search_path would find it ---------------------------------------------

PLANTED_IN_PUBLIC = [
    # beats pg_catalog.format(text, VARIADIC "any"), which every procedure calls
    "CREATE FUNCTION public.format(text, text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO public.seen SELECT current_user; BEGIN ALTER ROLE {me} SUPERUSER; "
    "EXCEPTION WHEN OTHERS THEN NULL; END; RETURN pg_catalog.format($1, $2); END $$",
    "CREATE FUNCTION public.format(text, text, text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO public.seen SELECT current_user; RETURN pg_catalog.format($1, $2, $3); END $$",
    "CREATE FUNCTION public.cat(text, bigint) RETURNS text LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO public.seen SELECT current_user; RETURN $1 OPERATOR(pg_catalog.||) $2; END $$",
    "CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = bigint, FUNCTION = public.cat)",
]


@pytest.fixture
def open_public(head_db, loader):
    """public writable by every role (PostgreSQL's default before 15, kept by old
    databases), and a loader's code there: overloads that beat pg_catalog's."""
    query(head_db, "GRANT CREATE ON SCHEMA public TO PUBLIC")
    as_login(loader, "CREATE TABLE public.seen (who name)",
             "GRANT INSERT ON public.seen TO PUBLIC",
             *(s.replace("{me}", loader.username) for s in PLANTED_IN_PUBLIC))
    yield
    query(head_db, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")


def test_code_in_public_never_runs_in_a_superusers_run(open_public, loader, head_db, test_home,
                                                      tmp_path):
    assert run(head_db, test_home, write_tiny(tmp_path / "src")).status == "succeeded"
    assert query(head_db, "SELECT who FROM public.seen") == []
    assert query(head_db, "SELECT rolsuper FROM pg_roles WHERE rolname = %s",
                 (loader.username,)) == [(False,)]


def test_a_schema_a_loader_can_write_only_by_set_role_counts_too(loader, head_db):
    """A loader login that does not inherit a role's privileges can still SET ROLE to it
    and create where that role may."""
    group = f"t_group_{head_db.database[-10:]}"
    query(head_db, f"CREATE ROLE {group}; CREATE SCHEMA side AUTHORIZATION {group}; "
                   f"GRANT {group} TO {loader.username}; ALTER ROLE {loader.username} NOINHERIT")
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege,
                           match=r"search_path holds schema\(s\) side"):
            query(head_db, "SELECT setup.check_search_path(ARRAY['side', 'pg_catalog']::name[])")
    finally:
        query(head_db, f"DROP SCHEMA side; REVOKE {group} FROM {loader.username}; "
                       f"DROP ROLE {group}")


def test_a_pure_sql_run_refuses_a_search_path_the_loader_can_write(
        open_public, loader, head_db, tmp_path):
    """CALL setup.orchestrate_all() from a session searching public: refused, naming the
    schema and what to do, before any statement could call the loader's code; with
    search_path = pg_catalog it runs, and the code never runs."""
    from tests.test_ingest import served

    base = safe_temp_dir("dwh-test-path-")
    try:
        root = write_tiny(base / "src")
        served(head_db, root)
        conn = connect(head_db)
        try:
            with conn.cursor() as cur:
                with pytest.raises(psycopg2.errors.InsufficientPrivilege) as info:
                    cur.execute("CALL setup.orchestrate_all()")
                assert "search_path holds schema(s) public" in str(info.value)
                assert "SET search_path = pg_catalog" in info.value.diag.message_hint
                cur.execute("SET search_path = pg_catalog")
                cur.execute("CALL setup.orchestrate_all()")
        finally:
            conn.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert last_run(head_db)[1] == "succeeded"
    assert query(head_db, "SELECT who FROM public.seen") == []
    assert query(head_db, "SELECT rolsuper FROM pg_roles WHERE rolname = %s",
                 (loader.username,)) == [(False,)]


# -- files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path_kind", ["client", "server"])
@pytest.mark.parametrize("file_name", ["/tmp/secret.env", "../../secret.env",
                                       "cust_info.csv/../../../secret.env", "secret.env"])
def test_a_load_job_reads_only_its_own_file(file_name, path_kind, loader, head_db, test_home):
    """The loader points bronze.load_jobs.file_name elsewhere; the operator's next run
    reads nothing but the job's own file, and fails saying how to set it back."""
    from tests.test_ingest import _failed_run, _good_run, _readable_by_all, _server_paths

    base = safe_temp_dir("dwh-test-jobs-")
    try:
        root = write_tiny(base / "src")
        (base / "src/source_crm/secret.env").write_text("API_TOKEN=hunter2\n")
        (base / "secret.env").write_text("API_TOKEN=hunter2\n")
        _readable_by_all(base)
        _server_paths(head_db, root)
        _good_run(path_kind, head_db, test_home, root)
        as_login(loader, "UPDATE bronze.load_jobs SET file_name = "
                         f"'{file_name}' WHERE table_name = 'crm_cust_info'")
        message = _failed_run(path_kind, head_db, test_home, root)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert "a job reads only source_crm/cust_info.csv" in message, message
    assert "file_name = 'cust_info.csv'" in message
    assert "hunter2" not in message
    assert "hunter2" not in str(query(head_db, "SELECT * FROM bronze.crm_cust_info"))


def test_a_symbolic_link_out_of_the_source_folder_is_refused(head_db, test_home, tmp_path):
    root = write_tiny(tmp_path / "src")
    secret = tmp_path / "secret.csv"
    secret.write_text("cst_id,cst_key,cst_firstname,cst_lastname,cst_marital_status,cst_gndr,"
                      "cst_create_date\r\n1,hunter2,a,b,S,F,2020-01-01\r\n")
    (root / "source_crm/cust_info.csv").unlink()
    (root / "source_crm/cust_info.csv").symlink_to(secret)
    with pytest.raises(RunFailed, match="a symbolic link leading out of") as info:
        run(head_db, test_home, root)
    assert "hunter2" not in str(info.value)
    # A link inside the folder is only another name for a file there.
    good = (root / "source_crm/real.csv")
    good.write_bytes(write_tiny(tmp_path / "good").joinpath("source_crm/cust_info.csv").read_bytes())
    (root / "source_crm/cust_info.csv").unlink()
    (root / "source_crm/cust_info.csv").symlink_to(root / "source_crm/real.csv")
    assert run(head_db, test_home, root).status == "succeeded"


def test_the_loaders_commands_say_what_role_they_need(loader, head_db):
    env = {"DWH_DATABASE_URL": url_string(loader), "DWH_PROJECT_DIR": str(ROOT)}
    current = runner.invoke(app, ["current"], env=env)
    assert current.exit_code == 0, current.output
    assert "(head)" in current.stdout
    for command in (["downgrade", "-1", "--yes"], ["doctor"]):
        result = runner.invoke(app, command, env=env)
        assert result.exit_code == 1, result.output
        line = result.stderr.strip().splitlines()[-1]
        assert line.startswith("dwh: error: "), result.stderr
        assert loader.username in line and "Traceback" not in result.stderr
        assert "sqlalche.me" not in result.stderr and "unexpected" not in line


def test_the_upgrade_refuses_code_a_loader_planted_before_it(databases, test_home):
    """Up to 0032 a loader could attach code to the tables it owned (and the next run by
    a superuser executed it); 0033 refuses to carry such code over, naming it."""
    url = databases.create("planted")
    settings = settings_for(url, test_home)
    migrate.upgrade(settings, "0032")
    name = f"t_planter_{url.database[-10:]}"
    query(url, f"CREATE ROLE {name} LOGIN IN ROLE dwh_loader")
    try:
        planter = url.set(username=name, password=None)
        as_login(planter, "CREATE FUNCTION gold.grab() RETURNS trigger LANGUAGE plpgsql AS "
                          "$$ BEGIN RETURN NULL; END $$",
                 "CREATE TRIGGER grab AFTER INSERT ON gold.surrogate_keys "
                 "EXECUTE FUNCTION gold.grab()",
                 "CREATE RULE noted AS ON INSERT TO gold.fact_sales DO ALSO NOTHING",
                 # standard functions only, yet they run any SQL as whoever writes a row
                 "ALTER TABLE bronze.crm_cust_info ADD CONSTRAINT sly CHECK (pg_catalog.query_to_xml("
                 "'SELECT 1', true, false, '') IS NOT NULL)",
                 "ALTER TABLE silver.crm_cust_info ALTER COLUMN cst_key SET DEFAULT "
                 "pg_catalog.query_to_xml('SELECT 1', true, false, '')::text",
                 # (an index expression must be immutable: this one is harmless, but refused
                 # all the same, as the upgrade cannot tell one from another)
                 "CREATE INDEX sly_index ON gold.dim_products ((pg_catalog.lower(product_name)))")
        with pytest.raises(MigrationError) as info:
            migrate.upgrade(settings)
        for found in ("function gold.grab()", "rule noted on gold.fact_sales",
                      "constraint sly on bronze.crm_cust_info",
                      "default of silver.crm_cust_info.cst_key", "index gold.sly_index",
                      "trigger grab on gold.surrogate_keys"):
            assert found in str(info.value), found
        assert migrate.current(settings).revisions == ("0032",)
        query(url, "DROP RULE noted ON gold.fact_sales; DROP FUNCTION gold.grab() CASCADE; "
                   "ALTER TABLE bronze.crm_cust_info DROP CONSTRAINT sly; "
                   "ALTER TABLE silver.crm_cust_info ALTER COLUMN cst_key DROP DEFAULT; "
                   "DROP INDEX gold.sly_index")
        migrate.upgrade(settings)
        assert query(url, "SELECT pg_get_userbyid(relowner) FROM pg_class "
                          "WHERE oid = 'gold.surrogate_keys'::regclass") == [("dwh_owner",)]
    finally:
        query(url, f"DROP OWNED BY {name} CASCADE; DROP ROLE {name}")


def test_a_loader_deploys_a_warehouse_at_head_and_is_told_when_it_cannot_upgrade(
        loader, head_db, test_home, tmp_path):
    env = {"DWH_DATABASE_URL": url_string(loader), "DWH_PROJECT_DIR": str(ROOT),
           "DWH_SOURCE_DIR": None, "DWH_HOME": str(test_home)}
    source = write_tiny(tmp_path / "src")
    deployed = runner.invoke(app, ["deploy", "--source-dir", str(source)], env=env)
    assert deployed.exit_code == 0, deployed.output
    assert "succeeded" in deployed.stdout
    migrate.downgrade(settings_for(head_db, test_home), "-1")
    behind = runner.invoke(app, ["deploy", "--source-dir", str(source)], env=env)
    assert behind.exit_code == 1
    line = behind.stderr.strip().splitlines()[-1]
    assert line.startswith(f"dwh: error: user {loader.username} may not upgrade to head (") \
        and "that takes the role that deployed the warehouse (postgres)" in line, line
