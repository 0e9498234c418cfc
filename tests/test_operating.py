"""Operating safely: one lock, drift detection, guarded downgrades, least privilege,
hostile values."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time

import psycopg2
import pytest
from typer.testing import CliRunner

from dwh import db, migrate
from dwh.cli import app
from dwh.errors import LockTimeout, RunFailed
from tests.conftest import ROOT, _connect_kwargs, safe_temp_dir, settings_for, url_string
from tests.warehouse import (as_login, collations, connect, fingerprint, last_run, query,
                             run, write_tiny)

runner = CliRunner()


def cli(url, *args, env=None):
    return runner.invoke(app, list(args), env={"DWH_DATABASE_URL": url_string(url),
                                               "DWH_PROJECT_DIR": str(ROOT), **(env or {})})


def hold_lock(url, application_name="test holder"):
    conn = psycopg2.connect(**_connect_kwargs(url), application_name=application_name)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s, %s)", (db.LOCK_CLASS, db.LOCK_OBJECT))
    return conn


def slow_silver(url, seconds: float) -> None:
    """Make one silver step take ``seconds`` (to act while a run is in it)."""
    query(url, "ALTER FUNCTION silver.load_erp_loc_a101(text, text) RENAME TO real_loc")
    query(url, "CREATE FUNCTION silver.load_erp_loc_a101(p_source text, p_target text) "
               f"RETURNS bigint LANGUAGE sql AS $$ SELECT pg_sleep({seconds}); "
               "SELECT silver.real_loc(p_source, p_target) $$")


def fast_silver(url) -> None:
    query(url, "DROP FUNCTION silver.load_erp_loc_a101(text, text)")
    query(url, "ALTER FUNCTION silver.real_loc(text, text) RENAME TO load_erp_loc_a101")


# -- one lock ------------------------------------------------------------------------------


def test_a_run_gives_up_on_the_lock_naming_the_holder(head_db, test_home, tmp_path):
    holder = hold_lock(head_db, "dwh upgrade (test)")
    try:
        source = write_tiny(tmp_path / "src")
        result = cli(head_db, "--lock-timeout", "0.5", "orchestrate", "--source-dir", str(source))
        assert result.exit_code == 1
        message = result.stderr.strip().splitlines()[-1]
        assert message.startswith("dwh: error: the warehouse is locked by another migration or "
                                  f"run, held by pid {holder.get_backend_pid()} (dwh upgrade (test)")
        assert "gave up after 0.5 s (--lock-timeout)" in message
        # A migration gives up the same way.
        from dataclasses import replace

        with pytest.raises(LockTimeout, match=f"held by pid {holder.get_backend_pid()}"):
            migrate.upgrade(replace(settings_for(head_db, test_home), lock_timeout_s=0.5))
    finally:
        holder.close()
    assert query(head_db, "SELECT count(*) FROM setup.etl_runs") == [(0,)]  # never started


def test_a_migration_waits_for_a_running_pipeline(head_db, test_home, tmp_path):
    """Without a timeout a migration waits for the run, then proceeds; with one it
    names the run it waited for."""
    source = write_tiny(tmp_path / "src")
    slow_silver(head_db, 3)
    runner_thread = threading.Thread(target=lambda: run(head_db, test_home, source))
    runner_thread.start()
    try:
        deadline = time.monotonic() + 30
        while not query(head_db, "SELECT 1 FROM setup.etl_run_steps WHERE target = "
                                 "'silver.erp_loc_a101' AND status = 'running'"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        result = cli(head_db, "--lock-timeout", "0.3", "downgrade", "-1", "--yes")
        assert result.exit_code == 1
        assert "pipeline run 1" in result.stderr and "(dwh orchestrate, user " in result.stderr
        # Waiting (no timeout): the downgrade happens after the run finished.
        started = time.monotonic()
        result = cli(head_db, "downgrade", "-1", "--yes")
        assert result.exit_code == 0, result.output
        assert time.monotonic() - started > 0.5
    finally:
        runner_thread.join()
    (run_id, status, _, _), = query(head_db, "SELECT run_id, status, failed_step, message "
                                             "FROM setup.etl_runs")
    assert status == "succeeded"  # the migration did not cut into the run


@pytest.mark.parametrize("timeout", ["0", "0.0001"])
def test_a_lock_timeout_of_zero_or_under_a_millisecond_does_not_wait_for_ever(
        timeout, head_db, tmp_path):
    """lock_timeout = 0 means "for ever" to PostgreSQL: --lock-timeout 0 asks once, and a
    timeout under 1 ms waits 1 ms (it rounded to 0 and waited for ever)."""
    holder = hold_lock(head_db, "held for the test")
    try:
        started = time.monotonic()
        result = cli(head_db, "--lock-timeout", timeout, "orchestrate",
                     "--source-dir", str(write_tiny(tmp_path / "src")))
        assert time.monotonic() - started < 20
        assert result.exit_code == 1
        assert f"held by pid {holder.get_backend_pid()} (held for the test" in result.stderr
    finally:
        holder.close()


def test_the_users_options_are_merged_with_dwhs(head_db, monkeypatch):
    """A URL's ?options= and PGOPTIONS add to what dwh asks (the client check that kill
    detection relies on, no idle timeout, the search path); the user's win over dwh's
    defaults, never over what dwh requires."""
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=123000 -c client_connection_check_interval=2000")
    url = head_db.update_query_dict({"options": "-c work_mem=7MB -c search_path=public"})
    conn = db.raw_connect(url)
    try:
        with conn.cursor() as cur:
            shown = {}
            for name in ("work_mem", "statement_timeout", "client_connection_check_interval",
                         "idle_session_timeout", "search_path"):
                cur.execute(f"SHOW {name}")
                shown[name] = cur.fetchone()[0]
    finally:
        conn.close()
    assert shown == {"work_mem": "7MB", "statement_timeout": "123s",
                     "client_connection_check_interval": "2s", "idle_session_timeout": "0",
                     "search_path": "pg_catalog,pg_temp"}
    monkeypatch.delenv("PGOPTIONS")
    conn = db.raw_connect(head_db)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW client_connection_check_interval")
            assert cur.fetchone()[0] == "1s"
    finally:
        conn.close()


def test_pure_sql_run_names_the_holder_too(head_db):
    holder = hold_lock(head_db, "someone else")
    try:
        conn = connect(head_db)
        with conn.cursor() as cur:
            cur.execute("SET lock_timeout = '300ms'")
            with pytest.raises(psycopg2.errors.LockNotAvailable) as info:
                cur.execute("CALL setup.orchestrate_all()")
        conn.close()
        assert f"held by pid {holder.get_backend_pid()} (someone else" in str(info.value)
    finally:
        holder.close()


# -- drift ---------------------------------------------------------------------------------


def test_doctor_reports_no_drift_on_a_fresh_deploy(head_db):
    result = cli(head_db, "doctor")
    assert result.exit_code == 0, result.output
    assert "no drift: the database is what its revisions made it" in result.stdout


def test_doctor_finds_hand_edits_missing_and_extra_objects(head_db, test_home, tmp_path):
    # Runs swap tables in (a first load the whole key map, a later one appends to it):
    # no drift from that, the key map's key columns included (bytewise, revision 0027).
    run(head_db, test_home, write_tiny(tmp_path / "src"))
    run(head_db, test_home, write_tiny(tmp_path / "src"))
    assert cli(head_db, "doctor").exit_code == 0
    assert collations(head_db, "gold.surrogate_keys") == [("entity", "C"), ("natural_key", "C")]
    query(head_db, "CREATE OR REPLACE PROCEDURE setup.orchestrate_gold(p_run_id bigint DEFAULT NULL) "
                   "LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'hotfix'; END $$")
    query(head_db, "DROP FUNCTION gold.report()")
    query(head_db, "CREATE FUNCTION silver.my_helper() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    query(head_db, "ALTER TABLE gold.dim_customers ADD COLUMN loyalty text")
    query(head_db, "ALTER TABLE silver.erp_loc_a101 ALTER COLUMN cntry SET NOT NULL")
    query(head_db, "CREATE TABLE bronze.scratchpad (x int)")
    query(head_db, 'ALTER TABLE gold.surrogate_keys ALTER COLUMN natural_key TYPE text '
                   'COLLATE pg_catalog."default"')
    result = cli(head_db, "doctor")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "edited by hand: procedure setup.orchestrate_gold(IN p_run_id bigint) (its definition " \
           "differs from the file version its revision applied)" in lines
    assert "missing: function gold.report()" in lines
    assert "extra: function silver.my_helper() (not created by any revision)" in lines
    assert "extra: column gold.dim_customers.loyalty" in lines
    assert "differs: column silver.erp_loc_a101.cntry (expected text, found text not null)" in lines
    assert "extra: table bronze.scratchpad (not created by any revision)" in lines
    assert 'differs: column gold.surrogate_keys.natural_key (expected text collate "C" not null, ' \
           'found text not null)' in lines
    data = json.loads(cli(head_db, "doctor", "--json").stdout)
    assert data["ok"] is False and data["at_head"] is True
    assert {f["problem"] for f in data["findings"]} == {"edited by hand", "missing", "extra", "differs"}
    # No scratch database is left behind.
    assert query(head_db, "SELECT count(*) FROM pg_database WHERE datname LIKE 'dwh_doctor_%'") == [(0,)]


def test_doctor_says_when_the_database_is_behind(head_db):
    assert cli(head_db, "downgrade", "-1", "--yes").exit_code == 0
    result = cli(head_db, "doctor")
    assert result.exit_code == 1
    assert "not at head: revision" in result.stdout and "run dwh upgrade" in result.stdout


# -- guarded downgrades --------------------------------------------------------------------


def test_a_downgrade_that_drops_data_refuses_without_yes(head_db, test_home, tmp_path):
    run(head_db, test_home, write_tiny(tmp_path / "src"))
    before = fingerprint(head_db)
    revision = migrate.current(settings_for(head_db, test_home)).revisions
    result = cli(head_db, "downgrade", "0006")
    assert result.exit_code == 1
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("dwh: error: downgrade to 0006 would drop tables holding rows: ")
    for table, rows in (("gold.fact_sales", 3), ("gold.dim_customers", 2), ("gold.surrogate_keys", 4)):
        assert f"{table} ({rows} rows)" in message
    assert "pass --yes" in message
    assert migrate.current(settings_for(head_db, test_home)).revisions == revision
    assert fingerprint(head_db) == before

    plan = cli(head_db, "downgrade", "0006", "--plan")
    assert plan.exit_code == 0
    assert "DROP TABLE gold.fact_sales;" in plan.stdout
    assert "-- drops gold.fact_sales, which holds 3 rows" in plan.stderr
    assert migrate.current(settings_for(head_db, test_home)).revisions == revision

    result = cli(head_db, "downgrade", "0006", "--yes")
    assert result.exit_code == 0, result.output
    assert migrate.current(settings_for(head_db, test_home)).revisions == ("0006",)


def test_plain_alembic_downgrade_has_no_guard(head_db, test_home, tmp_path, cli_env):
    run(head_db, test_home, write_tiny(tmp_path / "src"))
    out = subprocess.run([sys.executable, "-m", "alembic", "downgrade", "0006"], cwd=ROOT,
                         env=dict(cli_env, DWH_DATABASE_URL=url_string(head_db)),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert query(head_db, "SELECT to_regclass('gold.fact_sales')") == [(None,)]


# -- least privilege -----------------------------------------------------------------------


def test_the_loader_runs_the_pipeline(logins, head_db, test_home, tmp_path):
    result = run(logins["loader"], test_home, write_tiny(tmp_path / "src"))
    assert result.status == "succeeded"
    assert query(head_db, "SELECT db_user FROM setup.etl_runs") == [(logins["loader"].username,)]
    # The published tables stay dwh_owner's (the loader owns nothing), with the reader's grant.
    assert query(head_db, "SELECT pg_get_userbyid(relowner) FROM pg_class "
                          "WHERE oid = 'gold.fact_sales'::regclass") == [("dwh_owner",)]
    assert as_login(logins["reader"], "SELECT count(*) FROM gold.fact_sales") == [(3,)]
    # It may not change the checks (they are SQL that every run executes).
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        as_login(logins["loader"], "UPDATE setup.quality_checks SET query = 'SELECT 1'")


def test_the_reader_reads_gold_and_nothing_else(logins, head_db, test_home, tmp_path):
    run(head_db, test_home, write_tiny(tmp_path / "src"))
    reader = logins["reader"]
    assert as_login(reader, "SELECT count(*) FROM gold.dim_customers") == [(2,)]
    for forbidden in ("SELECT count(*) FROM silver.crm_cust_info",
                      "SELECT count(*) FROM bronze.crm_cust_info",
                      "SELECT count(*) FROM setup.etl_runs",
                      "DELETE FROM gold.fact_sales",
                      "CALL setup.orchestrate_all()",
                      "SELECT gold.report()"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            as_login(reader, forbidden)


def test_nothing_is_executable_by_public(logins, head_db):
    assert query(head_db, """
        SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname IN ('setup', 'bronze', 'silver', 'gold')
           AND has_function_privilege(%s, p.oid, 'EXECUTE')""", (logins["nobody"].username,)) \
        == [(0,)]
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        as_login(logins["nobody"], "CALL setup.orchestrate_all()")


def test_roles_are_shared_by_the_warehouses_of_a_server(head_db, databases, test_home):
    """Creating them twice is fine; downgrading one warehouse keeps them for the other."""
    other = databases.create("other")
    migrate.upgrade(settings_for(other, test_home))
    migrate.downgrade(settings_for(other, test_home), "0012")
    assert query(head_db, "SELECT count(*) FROM pg_roles WHERE rolname IN "
                          "('dwh_loader', 'dwh_reader')") == [(2,)]
    assert query(other, "SELECT count(*) FROM pg_proc p JOIN pg_namespace n "
                        "ON n.oid = p.pronamespace WHERE n.nspname = 'setup' "
                        "AND NOT has_function_privilege('public', p.oid, 'EXECUTE')") == [(0,)]
    owner = query(other, "SELECT current_user")[0][0]
    assert query(other, "SELECT pg_get_userbyid(relowner) FROM pg_class "
                        "WHERE oid = 'gold.fact_sales'::regclass") == [(owner,)]


# -- hostile values ------------------------------------------------------------------------


def test_a_base_path_with_a_quote_and_a_semicolon(head_db, test_home):
    base = safe_temp_dir("dwh-test-hostile-")
    try:
        root = base / "src'; DROP TABLE gold.fact_sales; --"
        write_tiny(root)
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        query(head_db, "UPDATE setup.etl_config SET value = %s || '/source_' || split_part(key, '.', 2) "
                       "WHERE key LIKE 'source.%%.base_path'", (str(root),))
        conn = connect(head_db)
        with conn.cursor() as cur:
            cur.execute("CALL setup.orchestrate_all()")
        conn.close()
        assert last_run(head_db)[1] == "succeeded"
        assert query(head_db, "SELECT count(*) FROM gold.fact_sales") == [(3,)]
        assert query(head_db, "SELECT file_path FROM bronze.load_log WHERE table_name = "
                              "'crm_cust_info'") == [(f"{root}/source_crm/cust_info.csv",)]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_negative_jobs_is_a_usage_error(head_db):
    result = cli(head_db, "orchestrate", "--jobs", "-3")
    assert result.exit_code == 2


def test_a_source_directory_that_does_not_exist(head_db, tmp_path):
    result = cli(head_db, "orchestrate", "--source-dir", str(tmp_path / "absent"))
    assert result.exit_code == 1
    assert f"source directory {tmp_path / 'absent'} does not exist" in result.stderr


# -- a run never outlives its lock ---------------------------------------------------------------


def _orchestrator_pid(url) -> int:
    return query(url, "SELECT backend_pid FROM setup.etl_runs WHERE status = 'running'")[0][0]


def _in_silver(url, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not query(url, "SELECT 1 FROM setup.etl_run_steps WHERE target = "
                         "'silver.erp_loc_a101' AND status = 'running'"):
        assert time.monotonic() < deadline, "the run never reached silver"
        time.sleep(0.02)


def _background_run(url, home, source) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def go():
        try:
            result["run"] = run(url, home, source)
        except Exception as err:  # noqa: BLE001 - the test reads it
            result["error"] = err
    thread = threading.Thread(target=go)
    thread.start()
    return thread, result


def _lock_session_killed_in_silver(url, home, source) -> tuple[threading.Thread, dict]:
    """A second run whose session (the warehouse lock's) is terminated while a silver
    step of 3 s still works."""
    run(url, home, source)
    slow_silver(url, 3)
    first, result = _background_run(url, home, source)
    _in_silver(url)
    query(url, "SELECT pg_terminate_backend(%s)", (_orchestrator_pid(url),))
    return first, result


def test_a_run_whose_lock_session_dies_stops_and_the_next_waits(head_db, test_home, tmp_path):
    """Terminate the session holding the warehouse lock mid-run: the run stops at its next
    step saying why, and a second run started at once waits for the first's step still
    running, then succeeds; their steps never overlap."""
    source = write_tiny(tmp_path / "src")
    first, first_result = _lock_session_killed_in_silver(head_db, test_home, source)
    try:
        second = run(head_db, test_home, source)
    finally:
        first.join(timeout=120)
    fast_silver(head_db)
    assert second.status == "succeeded"
    assert "lost the warehouse lock" in str(first_result.get("error")) or \
        "lost the session that holds the warehouse lock" in str(first_result.get("error"))
    (status, message), = query(head_db, "SELECT status, message FROM setup.etl_runs "
                                        "WHERE run_id = 2")
    assert status in ("failed", "abandoned"), status
    # Whatever the first run did, it finished before the second began; its steps after
    # that only found out that it had lost its lock.
    (second_start,), = query(head_db, "SELECT min(started_at) FROM setup.etl_run_steps "
                                      "WHERE run_id = %s", (second.run_id,))
    (first_end,), = query(head_db, "SELECT max(finished_at) FROM setup.etl_run_steps "
                                   "WHERE run_id = 2 AND status = 'succeeded'")
    assert second_start >= first_end, "the second run worked beside the first"
    late = query(head_db, "SELECT status, message FROM setup.etl_run_steps WHERE run_id = 2 "
                          "AND finished_at > %s", (second_start,))
    assert all(status == "failed" and ("lost the warehouse lock" in message
                                       or "failed meanwhile" in message)
               for status, message in late), late
    assert query(head_db, "SELECT count(*) FROM setup.etl_run_steps WHERE run_id = 2 "
                          "AND status = 'running'") == [(0,)]


def test_a_migration_waits_for_the_work_of_a_run_whose_lock_session_died(
        head_db, test_home, tmp_path):
    source = write_tiny(tmp_path / "src")
    first, _ = _lock_session_killed_in_silver(head_db, test_home, source)
    try:
        refused = cli(head_db, "--lock-timeout", "0.5", "downgrade", "-1", "--yes")
        assert refused.exit_code == 1
        assert "still busy with the work of a run whose session ended" in refused.stderr
        assert "(dwh step, user " in refused.stderr
        downgraded = cli(head_db, "downgrade", "-1", "--yes")
        assert downgraded.exit_code == 0, downgraded.output
        (done,), = query(head_db, "SELECT max(finished_at) FROM setup.etl_run_steps "
                                  "WHERE target = 'silver.erp_loc_a101' AND run_id = 2")
        assert done is not None  # the step ended before the downgrade could begin
    finally:
        first.join(timeout=120)


def test_an_idle_session_timeout_does_not_end_a_runs_lock(head_db, test_home, tmp_path):
    """The orchestrator's session is idle while the steps work: a server-wide
    idle_session_timeout ended it (and with it the lock)."""
    source = write_tiny(tmp_path / "src")
    query(head_db, f'ALTER DATABASE "{head_db.database}" SET idle_session_timeout = 500')
    slow_silver(head_db, 2)
    try:
        assert run(head_db, test_home, source).status == "succeeded"
    finally:
        fast_silver(head_db)
        query(head_db, f'ALTER DATABASE "{head_db.database}" RESET idle_session_timeout')


# -- a publish never waits for ever ---------------------------------------------------------------


def test_a_reader_idle_in_a_transaction_fails_the_publish_naming_it(head_db, test_home, tmp_path):
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    before = fingerprint(head_db)
    query(head_db, "UPDATE setup.etl_config SET value = '2 seconds' "
                   "WHERE key = 'run.publish_timeout'")
    reader = psycopg2.connect(**_connect_kwargs(head_db), application_name="a slow reader")
    reader_pid = reader.info.backend_pid
    try:
        with reader.cursor() as cur:
            cur.execute("SELECT count(*) FROM gold.dim_products")  # and stays in its transaction
        with pytest.raises(RunFailed) as info:
            run(head_db, test_home, source)
    finally:
        reader.close()
    message = str(info.value)
    assert "failed at all publish bronze, silver, gold: the publish waited 00:00:0" in message
    assert (f"pid {reader_pid} (user " in message
            and ", a slow reader, idle in transaction since " in message), message
    assert "nothing was published" in message
    # Its query comes with the error, not into the run history every loader reads.
    assert f"their queries: pid {reader_pid}: SELECT count(*) FROM gold.dim_products" in message
    (recorded,), = query(head_db, "SELECT message FROM setup.etl_runs WHERE run_id = 2")
    assert f"pid {reader_pid} (user " in recorded and "SELECT count" not in recorded
    assert fingerprint(head_db) == before


def test_readers_that_come_and_go_let_the_publish_through(head_db, test_home, tmp_path):
    """Four readers of 1-second queries, one after the other, held a publish for 38 s: each
    try waited 100 ms.  Tries that wait longer and longer outlast a query."""
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    query(head_db, "UPDATE setup.etl_config SET value = '20 seconds' "
                   "WHERE key = 'run.publish_timeout'")
    stop = threading.Event()

    def reader(delay: float):
        conn = connect(head_db)
        time.sleep(delay)
        try:
            with conn.cursor() as cur:
                while not stop.is_set():
                    cur.execute("SELECT count(*), pg_sleep(1) FROM gold.dim_products, "
                                "gold.fact_sales")
        finally:
            conn.close()
    readers = [threading.Thread(target=reader, args=(i * 0.25,)) for i in range(4)]
    for thread in readers:
        thread.start()
    try:
        time.sleep(1.5)
        result = run(head_db, test_home, source)
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=30)
    assert result.status == "succeeded"
    publish = [s for s in result.steps if s.kind == "publish"][0]
    assert publish.seconds < 10  # (the tries of 100 ms each took 38 s)
