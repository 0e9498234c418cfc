"""The pipeline end to end, against expectations computed independently from the CSV
files (tests/oracle.py), and its guarantees: atomic publish, nothing lost on failure,
stable keys, identical re-runs."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import threading
import time
from collections import Counter

import psycopg2
import pytest

from dwh import embedded, migrate, sample
from dwh.errors import RunFailed
from tests import oracle
from tests.conftest import safe_temp_dir, settings_for
from tests.warehouse import (
    REFERENCE,
    TINY,
    collations,
    connect,
    copy_sources,
    fingerprint,
    last_run,
    query,
    remove_customer,
    rows,
    run,
    write_tiny,
)

needs_reference = pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference extracts absent")


def assert_matches_oracle(url, source_dir):
    """Every silver and gold table equals what the spec's rules give (read independently)."""
    expected = oracle.expected(source_dir, dt.date.today())
    for table, exp in expected.silver.items():
        cols = list(exp[0])
        got = rows(url, f"silver.{table}", cols)
        assert Counter(tuple(r[c] for c in cols) for r in got) == \
            Counter(tuple(r[c] for c in cols) for r in exp), f"silver.{table} differs"
    for table in ("dim_customers", "dim_products"):
        exp = expected.gold[table]
        cols = list(exp[0])
        got = rows(url, f"gold.{table}", cols)
        assert Counter(tuple(r[c] for c in cols) for r in got) == \
            Counter(tuple(r[c] for c in cols) for r in exp), f"gold.{table} differs"
    # Facts: their keys resolved back to the natural keys they stand for.
    got = query(url, """
        SELECT f.order_number, p.product_number, c.customer_id, f.order_date, f.shipping_date,
               f.due_date, f.sales_amount, f.quantity, f.price
          FROM gold.fact_sales f
          JOIN gold.dim_products p USING (product_key)
          JOIN gold.dim_customers c USING (customer_key)""")
    exp = expected.gold["fact_sales"]
    assert Counter(got) == Counter(tuple(r.values()) for r in exp)
    # Business totals.
    by_country = dict(query(url, """
        SELECT c.country, sum(f.sales_amount) FROM gold.fact_sales f
          JOIN gold.dim_customers c USING (customer_key) GROUP BY c.country"""))
    assert by_country == {k: v for k, v in oracle.sales_per_country(expected).items()}
    by_gender = dict(query(url, "SELECT gender, count(*) FROM gold.dim_customers GROUP BY gender"))
    assert by_gender == dict(oracle.customers_per_gender(expected))
    return expected


def assert_keys_sound(url):
    for table, key in (("dim_customers", "customer_key"), ("dim_products", "product_key")):
        (total, distinct, nulls), = query(
            url, f"SELECT count(*), count(DISTINCT {key}), count(*) - count({key}) FROM gold.{table}")
        assert total == distinct and nulls == 0
    (unresolved,), = query(url, "SELECT count(*) FROM gold.fact_sales "
                                "WHERE customer_key IS NULL OR product_key IS NULL")
    assert unresolved == 0


def check_outcomes(url, run_id) -> dict[str, tuple[str, int]]:
    return {name: (status, n) for name, status, n in query(
        url, "SELECT target, status, rows FROM setup.etl_run_steps "
             "WHERE run_id = %s AND kind = 'check'", (run_id,))}


@needs_reference
def test_reference_data_end_to_end(head_db, test_home, tmp_path):
    result = run(head_db, test_home, REFERENCE)
    assert result.status == "succeeded"
    expected = assert_matches_oracle(head_db, REFERENCE)
    assert_keys_sound(head_db)
    outcomes = check_outcomes(head_db, result.run_id)
    # Every check of the spec holds; the warnings are the ones the data has.
    assert all(status in ("succeeded", "warning") for status, _ in outcomes.values()), outcomes
    before_1924 = sum(1 for r in expected.silver["erp_cust_az12"]
                      if r["bdate"] and r["bdate"] < dt.date(1924, 1, 1))
    no_order_date = sum(1 for r in expected.silver["crm_sales_details"] if r["sls_order_dt"] is None)
    assert outcomes["silver_birthdates_before_1924"] == ("warning", before_1924)
    assert outcomes["silver_sales_without_order_date"] == ("warning", no_order_date)
    assert outcomes["bronze_unparseable_dates"] == ("warning", oracle.unreadable_dates(REFERENCE))
    numbers = oracle.unparseable_numbers(REFERENCE)
    assert outcomes["bronze_unparseable_numbers"] == (("warning", numbers) if numbers
                                                      else ("succeeded", 0))
    # Bronze holds the files as delivered: as many rows as data lines.
    for table, (folder, name) in oracle.FILES.items():
        lines = sum(1 for _ in sample.lines(next(p for p in (REFERENCE / folder).iterdir()
                                                 if p.name.lower() == name.lower()))) - 1
        assert query(head_db, f"SELECT count(*) FROM bronze.{table}")[0][0] == lines
    logged = query(head_db, "SELECT count(*), bool_and(status = 'succeeded' AND method = 'client') "
                            "FROM bronze.load_log WHERE run_id = %s", (result.run_id,))
    assert logged == [(6, True)]


@pytest.mark.parametrize("jobs", [1, 8])
def test_sample_end_to_end_matches_the_rules(jobs, head_db, test_home, tmp_path):
    """One step at a time, or as many at once as setup.run_plan allows: the same result."""
    source = sample.generate(tmp_path / "sample", scale=1, seed=7).root
    result = run(head_db, test_home, source, jobs=jobs)
    assert result.status == "succeeded"
    assert_matches_oracle(head_db, source)
    assert_keys_sound(head_db)
    outcomes = check_outcomes(head_db, result.run_id)
    # The sample carries each kind of dirt the rules clean and the checks report.
    for name in ("bronze_customers_without_id", "bronze_unparseable_numbers",
                 "bronze_unparseable_dates", "silver_birthdates_before_1924",
                 "silver_sales_without_order_date"):
        assert outcomes[name][0] == "warning" and outcomes[name][1] > 0, name
    assert outcomes["bronze_unparseable_dates"][1] == oracle.unreadable_dates(source)
    assert outcomes["bronze_unparseable_numbers"][1] == oracle.unparseable_numbers(source)
    assert all(s != "failed" for s, _ in outcomes.values())


def test_identical_reruns(head_db, test_home, tmp_path):
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    first = fingerprint(head_db, with_load_time=False)
    run(head_db, test_home, source)
    assert fingerprint(head_db, with_load_time=False) == first


def test_surrogate_keys_are_stable_when_customers_and_products_arrive(head_db, test_home, tmp_path):
    first_src = sample.generate(tmp_path / "one", scale=1, seed=3).root
    run(head_db, test_home, first_src)
    keys_before = dict(query(head_db, "SELECT customer_id, customer_key FROM gold.dim_customers"))
    prods_before = dict(query(head_db, "SELECT product_number, product_key FROM gold.dim_products"))
    second_src = copy_sources(first_src, tmp_path / "two")
    # New customers (ids below and above the existing ones) and a new product.
    with (second_src / "source_crm/cust_info.csv").open("a", newline="") as fh:
        fh.write("\r\n5,AW00000005,New,Early,S,F,2025-12-01\r\n99999999,AW99999999,New,Late,M,M,2025-12-02")
    with (second_src / "source_crm/prd_info.csv").open("a", newline="") as fh:
        fh.write("999999,AC-BA-ZZ-99999,Brand New,5,M ,2020-01-01,\r\n")
    run(head_db, test_home, second_src)
    keys_after = dict(query(head_db, "SELECT customer_id, customer_key FROM gold.dim_customers"))
    prods_after = dict(query(head_db, "SELECT product_number, product_key FROM gold.dim_products"))
    assert {k: keys_after[k] for k in keys_before} == keys_before
    assert {k: prods_after[k] for k in prods_before} == prods_before
    # the next keys, in order of id
    assert (keys_after[5], keys_after[99999999]) == (max(keys_before.values()) + 1,
                                                     max(keys_before.values()) + 2)
    assert prods_after["ZZ-99999"] > max(prods_before.values())
    # A customer who leaves (with the sales lines) keeps the key in the map, and has it
    # again on return.
    gone = min(keys_before)
    third_src = copy_sources(first_src, tmp_path / "three")
    remove_customer(third_src, gone)
    run(head_db, test_home, third_src)
    assert query(head_db, "SELECT count(*) FROM gold.dim_customers WHERE customer_id = %s",
                 (gone,)) == [(0,)]
    assert query(head_db, "SELECT surrogate_key FROM gold.surrogate_keys "
                          "WHERE entity = 'customer' AND natural_key = %s",
                 (str(gone),)) == [(keys_before[gone],)]
    run(head_db, test_home, second_src)
    assert dict(query(head_db, "SELECT customer_id, customer_key FROM gold.dim_customers")) \
        == keys_after


def test_runs_leave_no_scratch_table(head_db, test_home, tmp_path):
    """gold_stage.customer_keys__work (the key of each customer, by id) lives for one run:
    the publish drops it, on a first load and on a rerun alike."""
    source = write_tiny(tmp_path / "src")
    for _ in range(2):
        run(head_db, test_home, source)
        assert query(head_db, "SELECT c.oid::regclass::text FROM pg_class c "
                              "WHERE c.relname LIKE '%\\_\\_work'") == []


def _temp_files(url, at_least: int = 0, wait: float = 0.0) -> int:
    """Temporary files the database's backends have reported (they report when they
    exit, just after a run closes them): polled for up to ``wait`` seconds until there
    are ``at_least``."""
    deadline = time.monotonic() + wait
    while True:
        (files,), = query(url, "SELECT temp_files FROM pg_stat_database "
                               "WHERE datname = current_database()")
        if files >= at_least or time.monotonic() >= deadline:
            return files
        time.sleep(0.2)


def test_the_facts_join_in_batches_of_run_join_work_mem(head_db, test_home, tmp_path):
    """run.join_work_mem is the facts' work_mem: at PostgreSQL's smallest (64kB) the hash
    of the customers' keys is built in batches, through temporary files, and the warehouse
    is still what the rules give; unset, the step uses run.work_mem and the run writes no
    temporary file.  The customers' ids have a gap, so the facts join the customers' keys;
    without one they look each up by id (gold.customer_keys_by_id), and at 64kB the run
    writes no temporary file either."""
    dense = sample.generate(tmp_path / "sample", scale=1, seed=11).root
    source = copy_sources(dense, tmp_path / "gap")
    remove_customer(source, sample.FIRST_CUSTOMER_ID + 7)

    def set_join_work_mem(value):
        query(head_db, "UPDATE setup.etl_config SET value = %s WHERE key = 'run.join_work_mem'",
              (value,))

    # 64kB first: it shows how long the server takes to report a run's temporary
    # files, so the NULL half below waits at least that long before it counts.
    set_join_work_mem("64kB")
    before = _temp_files(head_db)
    started = time.monotonic()
    run(head_db, test_home, source)
    assert _temp_files(head_db, at_least=before + 1, wait=10) > before
    reported = time.monotonic() - started
    assert_matches_oracle(head_db, source)
    assert_keys_sound(head_db)

    def temp_files_of_a_run(src) -> int:
        time.sleep(1)  # the last reports of the run before
        before = _temp_files(head_db)
        started = time.monotonic()
        run(head_db, test_home, src)
        time.sleep(max(1.0, reported - (time.monotonic() - started)) + 1)
        return _temp_files(head_db) - before

    set_join_work_mem(None)
    assert temp_files_of_a_run(source) == 0
    set_join_work_mem("64kB")
    assert temp_files_of_a_run(dense) == 0
    assert_matches_oracle(head_db, dense)


@pytest.mark.parametrize("key, step", [
    ("run.join_work_mem", r"gold build gold\.fact_sales"),  # the facts' join only
    ("run.work_mem", r"silver build silver\.\w+"),  # every build: the first one fails
    ("run.maintenance_work_mem", r"silver build silver\.\w+"),
])
def test_a_bad_memory_setting_is_named(key, step, head_db, test_home, tmp_path):
    """A memory setting PostgreSQL refuses fails the first step that reads it with the
    setting's name, and the warehouse stays as the last good run left it."""
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    before = fingerprint(head_db)
    query(head_db, "UPDATE setup.etl_config SET value = '12 parsecs' WHERE key = %s", (key,))
    with pytest.raises(RunFailed) as info:
        run(head_db, test_home, source)
    message = str(info.value)
    assert re.search(rf"failed at {step}: setup\.etl_config {re.escape(key)}: "
                     r"invalid value for parameter", message), message
    assert fingerprint(head_db) == before


def test_layer_alone_builds_from_the_published_layer(head_db, test_home, tmp_path):
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    before = fingerprint(head_db)
    result = run(head_db, test_home, None, layer="silver")
    assert result.status == "succeeded" and result.layers == "silver"
    after = fingerprint(head_db)
    for table, value in before.items():
        if table.startswith("silver."):
            assert after[table][0] == value[0]  # same rows, rebuilt (new load time)
        else:
            assert after[table] == value  # other layers untouched
    assert {s.layer for s in result.steps} == {"silver", "all"}


@pytest.mark.parametrize("layer", ["silver", "gold"])
def test_failure_injected_in_a_layer_leaves_every_layer_untouched(layer, head_db, test_home, tmp_path):
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    before = fingerprint(head_db)
    broken = {"silver": "silver.load_crm_prd_info", "gold": "gold.load_fact_sales"}[layer]
    conn = connect(head_db)
    with conn.cursor() as cur:
        cur.execute(f"CREATE OR REPLACE FUNCTION {broken}(p_source text, p_target text) "
                    "RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN "
                    "RAISE EXCEPTION 'injected failure'; END $$")
    conn.close()
    with pytest.raises(RunFailed) as info:
        run(head_db, test_home, source)
    target = broken.replace("load_", "")
    assert f"failed at {layer} build {target}: injected failure" in str(info.value)
    assert fingerprint(head_db) == before
    run_id, status, failed_step, message = last_run(head_db)
    assert (status, failed_step, message) == ("failed", f"{layer} build {target}", "injected failure")


def test_a_failed_error_check_fails_the_run_and_warnings_do_not(head_db, test_home, tmp_path):
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    before = fingerprint(head_db)
    query(head_db, "INSERT INTO setup.quality_checks VALUES ('my_gold_rule', 'gold', 'error', "
                   "'no German customers', 'SELECT 1 FROM {gold}.dim_customers WHERE country = ''Germany''')")
    with pytest.raises(RunFailed, match=r"quality checks failed: my_gold_rule \(1 rows: no German"):
        run(head_db, test_home, source)
    assert fingerprint(head_db) == before
    query(head_db, "UPDATE setup.quality_checks SET severity = 'warning' WHERE check_name = 'my_gold_rule'")
    result = run(head_db, test_home, source)
    assert result.status == "succeeded"
    assert check_outcomes(head_db, result.run_id)["my_gold_rule"] == ("warning", 1)


def _storage_parameters(url, schemas: tuple[str, ...], *, all_tables: bool = False
                        ) -> dict[str, tuple]:
    """(the table's, its TOAST table's) reloptions of every table of ``schemas`` that has
    any, or of every one with ``all_tables``."""
    found = {name: (opts, toast) for name, opts, toast in query(
        url, "SELECT c.oid::regclass::text, c.reloptions, t.reloptions FROM pg_class c "
             "LEFT JOIN pg_class t ON t.oid = c.reltoastrelid "
             "WHERE c.relkind = 'r' AND c.relnamespace::regnamespace::text = ANY (%s)",
        (list(schemas),))}
    return found if all_tables else {n: o for n, o in found.items() if o != (None, None)}


def test_staged_tables_are_out_of_autovacuum_and_published_ones_keep_their_parameters(
        head_db, test_home, tmp_path):
    """Autovacuum is off for every table a run stages (a VACUUM of its new rows would take
    a core from the run and hold a lock the publish waits for); the publish gives each the
    storage parameters of the table it replaces, so what a DBA set survives the runs."""
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    query(head_db, "ALTER TABLE gold.fact_sales SET (fillfactor = 90, "
                   "autovacuum_vacuum_scale_factor = 0.05, toast.autovacuum_enabled = false)")
    query(head_db, "ALTER TABLE bronze.crm_cust_info SET (autovacuum_analyze_threshold = 5000)")
    tuned = {
        "gold.fact_sales": (["fillfactor=90", "autovacuum_vacuum_scale_factor=0.05"],
                            ["autovacuum_enabled=false"]),
        "bronze.crm_cust_info": (["autovacuum_analyze_threshold=5000"], None),
    }
    # A failed run keeps what it staged: every table of the three stages, the key
    # map's scratch and its new keys included.
    query(head_db, "INSERT INTO setup.quality_checks VALUES ('always_fails', 'gold', 'error', "
                   "'fails', 'SELECT 1')")
    with pytest.raises(RunFailed, match="always_fails"):
        run(head_db, test_home, source)
    staged = _storage_parameters(head_db, ("bronze_stage", "silver_stage", "gold_stage"),
                                 all_tables=True)
    names = set(staged)
    assert {"bronze_stage.crm_sales_details", "silver_stage.crm_sales_details",
            "gold_stage.fact_sales", "gold_stage.customer_keys__work",
            "gold_stage.surrogate_keys__append"} <= names
    assert len(names) == 6 + 6 + 5  # gold: the 3 rebuilt tables, the scratch, the new keys
    assert {name: opts for name, (opts, _) in staged.items()
            if opts != ["autovacuum_enabled=false"]} == {}
    assert _storage_parameters(head_db, ("bronze", "silver", "gold")) == tuned

    query(head_db, "DELETE FROM setup.quality_checks WHERE check_name = 'always_fails'")
    run(head_db, test_home, source)
    assert _storage_parameters(head_db, ("bronze", "silver", "gold")) == tuned


def test_steps_are_committed_as_they_happen(head_db, test_home, tmp_path):
    """Another session sees the run progress while it runs."""
    source = write_tiny(tmp_path / "src")
    conn = connect(head_db)
    with conn.cursor() as cur:  # make one silver step slow enough to watch
        cur.execute("ALTER FUNCTION silver.load_erp_px_cat_g1v2(text, text) RENAME TO real_px")
        cur.execute("CREATE FUNCTION silver.load_erp_px_cat_g1v2(p_source text, p_target text) "
                    "RETURNS bigint LANGUAGE sql AS $$ SELECT pg_sleep(2); "
                    "SELECT silver.real_px(p_source, p_target) $$")
    conn.close()
    result = {}
    worker = threading.Thread(target=lambda: result.update(r=run(head_db, test_home, source)))
    worker.start()
    seen = []
    deadline = time.monotonic() + 30
    while worker.is_alive() and time.monotonic() < deadline:
        seen = query(head_db, "SELECT r.status, count(s.*) FILTER (WHERE s.finished_at IS NOT NULL) "
                              "FROM setup.etl_runs r JOIN setup.etl_run_steps s USING (run_id) "
                              "GROUP BY r.run_id, r.status ORDER BY r.run_id DESC LIMIT 1")
        if seen and seen[0][0] == "running" and seen[0][1] >= 7:
            break
        time.sleep(0.1)
    worker.join()
    assert seen and seen[0][0] == "running" and seen[0][1] >= 7, seen
    assert result["r"].status == "succeeded"


def test_readers_of_gold_never_see_an_empty_table(head_db, test_home, tmp_path):
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    counts, errors = [], []
    stop = threading.Event()

    def reader():
        conn = connect(head_db)
        try:
            with conn.cursor() as cur:
                while not stop.is_set():
                    cur.execute("SELECT (SELECT count(*) FROM gold.fact_sales), "
                                "(SELECT count(*) FROM gold.dim_customers)")
                    counts.append(cur.fetchone())
        except Exception as err:  # noqa: BLE001 - any error is the failure being tested
            errors.append(err)
        finally:
            conn.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(3):
            run(head_db, test_home, source)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    assert counts and set(counts) == {(3, 2)}


def test_upgrade_downgrade_to_base_and_again_with_data(head_db, test_home, tmp_path):
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    settings = settings_for(head_db, test_home)
    migrate.downgrade(settings, "base", drop_data=True)
    assert query(head_db, "SELECT count(*) FROM pg_namespace WHERE nspname IN "
                          "('bronze', 'silver', 'gold', 'bronze_stage')") == [(0,)]
    migrate.upgrade(settings)
    result = run(head_db, test_home, source)
    assert result.status == "succeeded"
    assert query(head_db, "SELECT count(*) FROM gold.fact_sales") == [(3,)]


def test_a_run_keeps_the_catalog_the_revisions_made(head_db, test_home, tmp_path):
    """Published tables are replaced at each run: their columns, defaults, constraints,
    indexes and comments stay exactly what the revisions created."""
    from dwh import db
    from tests.catalog import diff, snapshot

    with db.connect(head_db) as conn:
        before = snapshot(conn, with_rows=False)
    run(head_db, test_home, write_tiny(tmp_path / "src"))
    run(head_db, test_home, write_tiny(tmp_path / "src2"))
    with db.connect(head_db) as conn:
        after = snapshot(conn, with_rows=False)
    assert not diff(before, after), diff(before, after)


def test_a_staged_table_collated_otherwise_is_not_swapped_in(head_db):
    """The key map's key columns collate "C" (revision 0027): a staged map whose
    natural_key has the database's collation is refused by the swap, and the published
    map is left as it was; staged with the published collations it is swapped in."""
    query(head_db, "INSERT INTO gold.surrogate_keys VALUES ('customer', '1', 1)")
    query(head_db, "CREATE SCHEMA IF NOT EXISTS gold_stage")
    query(head_db, 'CREATE TABLE gold_stage.surrogate_keys AS SELECT entity, '
                   'natural_key COLLATE pg_catalog."default" AS natural_key, surrogate_key '
                   'FROM gold.surrogate_keys')
    with pytest.raises(psycopg2.errors.RaiseException) as info:
        query(head_db, "SELECT setup.swap_table('gold_stage', 'gold', 'surrogate_keys')")
    assert "staged gold_stage.surrogate_keys has other columns than gold.surrogate_keys " \
           "(names, types or collations)" in str(info.value)
    assert query(head_db, "SELECT natural_key, surrogate_key FROM gold.surrogate_keys") \
        == [("1", 1)]
    assert collations(head_db, "gold.surrogate_keys") == [("entity", "C"), ("natural_key", "C")]
    query(head_db, "DROP TABLE gold_stage.surrogate_keys")
    query(head_db, "CREATE TABLE gold_stage.surrogate_keys AS "
                   "SELECT entity, natural_key, surrogate_key + 1 AS surrogate_key "
                   "FROM gold.surrogate_keys")
    query(head_db, "SELECT setup.swap_table('gold_stage', 'gold', 'surrogate_keys')")
    assert query(head_db, "SELECT natural_key, surrogate_key FROM gold.surrogate_keys") \
        == [("1", 2)]


def test_publish_keeps_grants_views_and_triggers(head_db, test_home, tmp_path):
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    role = f"dwh_test_reader_{head_db.database[-12:]}"
    conn = connect(head_db)
    with conn.cursor() as cur:
        cur.execute(f"DROP ROLE IF EXISTS {role}")
        cur.execute(f"CREATE ROLE {role}")
    try:
        query(head_db, f"GRANT SELECT (customer_key, country) ON gold.dim_customers TO {role}")
        query(head_db, f"GRANT SELECT ON gold.fact_sales TO {role}")
        query(head_db, "CREATE VIEW public.sales_by_country WITH (security_invoker = true, "
                       "security_barrier = true) AS SELECT c.country, sum(f.sales_amount) AS total "
                       "FROM gold.fact_sales f JOIN gold.dim_customers c USING (customer_key) "
                       "GROUP BY c.country")
        query(head_db, "CREATE TABLE public.audit (n int); "
                       "CREATE FUNCTION public.count_insert() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN INSERT INTO public.audit VALUES (1); RETURN NEW; END $$; "
                       "CREATE TRIGGER audit_insert AFTER INSERT ON gold.dim_products "
                       "FOR EACH ROW EXECUTE FUNCTION public.count_insert()")
        before = query(head_db, "SELECT reloptions FROM pg_class WHERE oid = 'public.sales_by_country'::regclass")
        run(head_db, test_home, source)
        assert query(head_db, "SELECT reloptions FROM pg_class "
                              "WHERE oid = 'public.sales_by_country'::regclass") == before
        assert query(head_db, "SELECT count(*) FROM public.sales_by_country") == [(2,)]
        grants = query(head_db, "SELECT column_name FROM information_schema.column_privileges "
                                "WHERE grantee = %s AND table_name = 'dim_customers' "
                                "ORDER BY 1", (role,))
        assert grants == [("country",), ("customer_key",)]
        assert query(head_db, "SELECT has_table_privilege(%s, 'gold.fact_sales', 'SELECT')",
                     (role,)) == [(True,)]
        assert query(head_db, "SELECT tgname FROM pg_trigger "
                              "WHERE tgrelid = 'gold.dim_products'::regclass AND NOT tgisinternal") \
            == [("audit_insert",)]
    finally:
        query(head_db, "DROP VIEW IF EXISTS public.sales_by_country")
        query(head_db, f"REVOKE ALL ON ALL TABLES IN SCHEMA gold FROM {role}")
        query(head_db, f"DROP ROLE IF EXISTS {role}")


def test_a_disabled_job_keeps_its_last_data(head_db, test_home, tmp_path):
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    query(head_db, "UPDATE bronze.load_jobs SET enabled = false WHERE table_name = 'erp_px_cat_g1v2'")
    (source / "source_erp/PX_CAT_G1V2.csv").unlink()  # not read any more
    result = run(head_db, test_home, source)
    assert result.status == "succeeded"
    assert query(head_db, "SELECT count(*) FROM bronze.erp_px_cat_g1v2") == [(2,)]
    assert query(head_db, "SELECT count(category) FROM gold.dim_products") == [(2,)]
    assert "bronze.erp_px_cat_g1v2" not in [s.target for s in result.steps if s.kind == "load"]


def test_a_failed_check_is_the_failed_step(head_db, test_home, tmp_path):
    source = write_tiny(tmp_path / "src")
    query(head_db, "INSERT INTO setup.quality_checks VALUES ('zz_never', 'gold', 'error', "
                   "'always fails', 'SELECT 1')")
    with pytest.raises(RunFailed, match="failed at gold check zz_never: quality checks failed"):
        run(head_db, test_home, source)
    assert last_run(head_db)[2] == "gold check zz_never"


def test_a_bronze_table_whose_name_needs_quoting(head_db, test_home, tmp_path, databases):
    """A discovered table like bronze."crm_Notes" loads on both paths; its name only
    reaches SQL quoted."""
    source = write_tiny(tmp_path / "src")
    (source / "source_crm/Notes.csv").write_bytes(b"note\r\nhello; DROP TABLE gold.fact_sales\r\n")
    query(head_db, 'CREATE TABLE bronze."crm_Notes" (note text)')
    result = run(head_db, test_home, source)
    assert result.status == "succeeded"
    assert query(head_db, 'SELECT note FROM bronze."crm_Notes"') == [("hello; DROP TABLE gold.fact_sales",)]
    assert query(head_db, "SELECT count(*) FROM gold.fact_sales") == [(3,)]


# Number texts a sales line may carry: what the rules take (1 to 9 ASCII digits, an
# optional minus) and what they must not (signs, spaces, decimals, other scripts' digits).
NUMBER_TEXTS = ["0", "7", "-7", "007", "-0", "123456789", "-123456789", "1234567890",
                "-1234567890", "9999999999", "", " 5", "5 ", "+5", "--5", "5-", "-", "1.0", "1e3", "0x1F",
                "\u0663", "\uff15", "abc"]


def test_numbers_of_sales_lines_parse_as_the_rules_say(head_db, test_home, tmp_path):
    """Each number text in each numeric column of a sales line (the others plain): silver
    sales and the check of unparseable numbers agree with the rules (tests/oracle.py)."""
    source = write_tiny(tmp_path / "src")
    header, *_ = TINY["source_crm/sales_details.csv"]
    plain = ["FR-R92B-58", "11000", "20101229", "20110105", "20110110", "12", "3", "4"]
    lines = [header]
    for column in range(5, 8):  # sales, quantity, price
        for text in NUMBER_TEXTS:
            fields = list(plain)
            fields[column] = text
            if column == 5:  # a price of 0 is derived from the delivered sales: it shows them
                fields[7] = "0"
            lines.append(",".join([f"SO-{column}-{len(lines)}"] + fields))
    # The customer id takes part in the same test of a line's numbers.
    for text in ["011000", "11000 ", "+11000"]:
        fields = list(plain)
        fields[1] = text
        lines.append(",".join([f"SO-id-{len(lines)}"] + fields))
    (source / "source_crm/sales_details.csv").write_text("\r\n".join(lines) + "\r\n",
                                                         encoding="utf-8")
    # Some lines stay inconsistent (a negative quantity): the error check fails the
    # run and the staged silver table is kept for inspection.
    with pytest.raises(RunFailed, match="silver_sales_consistent"):
        run(head_db, test_home, source)
    run_id = last_run(head_db)[0]
    expected = oracle.silver(source, dt.date.today())["crm_sales_details"]
    cols = list(expected[0])
    got = rows(head_db, "silver_stage.crm_sales_details", cols)
    assert Counter(tuple(r[c] for c in cols) for r in got) == \
        Counter(tuple(r[c] for c in cols) for r in expected)
    unparseable = oracle.unparseable_numbers(source)
    assert unparseable > 0
    assert check_outcomes(head_db, run_id)["bronze_unparseable_numbers"] == ("warning", unparseable)


@pytest.mark.parametrize("file, old, new", [
    ("source_crm/cust_info.csv", "11000,AW00011000,", "11000,AW00011000 ,"),
    ("source_erp/LOC_A101.csv", "AW-00011000,DE", " AW-00011000,DE"),
    ("source_erp/PX_CAT_G1V2.csv", "CO_RF,Components,", "CO_RF,Components ,"),
    ("source_crm/sales_details.csv", "SO2,", "SO2 ,"),
])
def test_untrimmed_text_fails_its_check(file, old, new, head_db, test_home, tmp_path):
    """A key, name or category silver keeps as delivered with a space at either end is
    one violation of silver_no_untrimmed_text (an error: the run fails)."""
    source = write_tiny(tmp_path / "src")
    path = source / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(RunFailed, match=r"quality checks failed: silver_no_untrimmed_text \(1 rows"):
        run(head_db, test_home, source)
    assert check_outcomes(head_db, last_run(head_db)[0])["silver_no_untrimmed_text"][0] == "failed"


@pytest.mark.parametrize("check, tables, expected", [
    ("silver_customer_ids_unique",
     {"crm_cust_info": ("cst_id", [1, 2, 2, None, 3, 3, 3])}, [2, 3, None]),
    ("gold_surrogate_keys_unique",
     {"dim_customers": ("customer_key", [1, 1, 2, None]),
      "dim_products": ("product_key", [7, 7, 8])}, [1, 7, None]),
])
def test_uniqueness_checks_report_each_repeated_or_missing_key(check, tables, expected, head_db):
    """The shipped uniqueness checks (setup.quality_checks, as the revisions left them)
    return one row per key that repeats and one for missing keys."""
    (check_query,), = query(head_db, "SELECT query FROM setup.quality_checks "
                                     "WHERE check_name = %s", (check,))
    conn = connect(head_db)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE SCHEMA probe")
            for table, (column, values) in tables.items():
                cur.execute(f"CREATE TABLE probe.{table} ({column} integer)")
                cur.executemany(f"INSERT INTO probe.{table} VALUES (%s)", [(v,) for v in values])
            cur.execute(check_query.replace("{silver}", "probe").replace("{gold}", "probe"))
            got = [r[0] for r in cur.fetchall()]
        conn.rollback()
    finally:
        conn.close()
    assert sorted(got, key=lambda v: (v is None, v)) == expected


def _probe_keys(cur, ids, keys) -> None:
    """probe.customer_keys__work, as gold.load_surrogate_keys writes it, with these keys."""
    cur.execute("CREATE SCHEMA probe")
    cur.execute("CREATE TABLE probe.customer_keys__work "
                "(cst_id integer, customer_key integer, arrived boolean)")
    cur.executemany("INSERT INTO probe.customer_keys__work VALUES (%s, %s, true)",
                    list(zip(ids, keys)))


@pytest.mark.parametrize("ids, keys, work_mem, expected", [
    ([9, 7, 8], [20, 30, 10], None, (7, 9, [30, 10, 20])),  # by id, whatever the row order
    ([-2, 0, -1, 1], [4, 3, 2, 1], None, (-2, 1, [4, 2, 3, 1])),
    ([7, 9], [1, 2], None, None),  # a gap
    ([7, 8, 9], [1, None, 3], None, None),  # a customer without a key
    ([], [], None, None),
    (list(range(16_000)), list(range(1, 16_001)), "64kB", (0, 15_999, list(range(1, 16_001)))),
    (list(range(16_385)), list(range(1, 16_386)), "64kB", None),  # 65,540 bytes > 64kB
])
def test_customer_keys_by_id_only_for_ids_without_a_gap(ids, keys, work_mem, expected, head_db):
    """gold.customer_keys_by_id: the keys in an array indexed by id (the key of id i at
    i - lo + 1) when the ids run from lo to hi without a gap, every one has a key and the
    array fits work_mem (4 bytes a customer); else all NULL, and the steps join."""
    conn = connect(head_db)
    try:
        with conn.cursor() as cur:
            if work_mem:
                cur.execute("SELECT set_config('work_mem', %s, false)", (work_mem,))
            _probe_keys(cur, ids, keys)
            cur.execute("SELECT lo, hi, keys FROM gold.customer_keys_by_id('probe')")
            got = cur.fetchone()
    finally:
        conn.close()
    assert got == (expected or (None, None, None))


def test_customer_keys_with_gaps_in_the_ids_are_joined_alike(head_db, test_home, tmp_path):
    """Customer ids with a gap (a customer gone, with the sales lines) take the join of the
    facts and the customers' dimension on the id instead of the array by id: the
    warehouse is still what the rules give, and the keys of the customers who stay are
    the ones they had (the map's, not positions)."""
    source = sample.generate(tmp_path / "sample", scale=1, seed=5).root
    run(head_db, test_home, source)
    keys_before = dict(query(head_db, "SELECT customer_id, customer_key FROM gold.dim_customers"))
    ids = sorted(keys_before)
    assert ids == list(range(ids[0], ids[-1] + 1))  # the sample numbers them without a gap
    gone = ids[len(ids) // 2]
    remove_customer(source, gone)
    result = run(head_db, test_home, source)
    assert result.status == "succeeded"
    assert_matches_oracle(head_db, source)
    assert_keys_sound(head_db)
    del keys_before[gone]
    assert dict(query(head_db, "SELECT customer_id, customer_key FROM gold.dim_customers")) \
        == keys_before


def test_a_customer_back_after_a_gap_takes_the_keys_by_id(head_db, test_home, tmp_path):
    """A customer who comes back gets the map's next key, so the keys are no longer each
    id plus one same number, while the ids run without a gap again: the dimension and
    the facts take the keys by id (gold.customer_keys_by_id), the warehouse is still what
    the rules give, and everyone keeps the key they had."""
    dense = sample.generate(tmp_path / "sample", scale=1, seed=5).root
    back = sample.FIRST_CUSTOMER_ID + 7
    gap = copy_sources(dense, tmp_path / "gap")
    remove_customer(gap, back)
    run(head_db, test_home, gap)
    keys_before = dict(query(head_db, "SELECT customer_id, customer_key FROM gold.dim_customers"))
    assert back not in keys_before
    result = run(head_db, test_home, dense)
    assert result.status == "succeeded"
    assert_matches_oracle(head_db, dense)
    assert_keys_sound(head_db)
    keys = dict(query(head_db, "SELECT customer_id, customer_key FROM gold.dim_customers"))
    assert {i: k for i, k in keys.items() if i != back} == keys_before
    assert keys[back] == max(keys_before.values()) + 1
    # what sends the steps to the keys by id: no gap, and no one number
    assert sorted(keys) == list(range(min(keys), max(keys) + 1))
    assert len({k - i for i, k in keys.items()}) > 1


def test_the_publish_gets_past_an_autovacuum_of_a_table_it_replaces(test_home, tmp_path):
    """An autovacuum worker in a published table (the last run's rows, which this run's
    publish drops) gives way only to a lock request that has waited deadlock_timeout; a
    publish that retried every 100 ms waited for the whole VACUUM, at scale 100 18 s,
    and with a slow one (here 100 ms a page) indefinitely.  The runs are the loader's
    (a login in dwh_loader, which cannot see other users' backend_type).  The server of
    this test is its own, so that its autovacuum can look every second."""
    home = safe_temp_dir("dwh-test-autovacuum-")
    try:
        server = embedded.ensure_started(home, database="postgres", create_database=False)
        query(server, "ALTER SYSTEM SET autovacuum_naptime = '1s'")
        query(server, "SELECT pg_reload_conf()")
        query(server, "CREATE DATABASE av")
        url = server.set(database="av")
        migrate.upgrade(settings_for(url, test_home))
        query(url, "CREATE ROLE t_av_loader LOGIN IN ROLE dwh_loader")
        loader = url.set(username="t_av_loader", password=None)
        source = write_tiny(tmp_path / "src")
        run(loader, test_home, source)
        # one silver sales line per line of the file (the header aside)
        lines = len(TINY["source_crm/sales_details.csv"]) - 1
        assert query(url, "SELECT count(*) FROM silver.crm_sales_details") == [(lines,)]
        # Rows enough for a VACUUM that crawls (each page costs at least 100 ms);
        # the publish replaces them all.
        query(url, "INSERT INTO silver.crm_sales_details SELECT s.* FROM "
                   "silver.crm_sales_details s, generate_series(1, 20000)")
        query(url, "ALTER TABLE silver.crm_sales_details SET (autovacuum_vacuum_cost_delay = 100, "
                   "autovacuum_vacuum_cost_limit = 1, autovacuum_vacuum_insert_threshold = 1, "
                   "autovacuum_vacuum_insert_scale_factor = 0)")
        vacuuming = ("SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                     "'autovacuum worker' AND datname = 'av' "
                     "AND query LIKE '%silver.crm_sales_details%'")
        deadline = time.monotonic() + 60
        while query(url, vacuuming) != [(1,)]:
            assert time.monotonic() < deadline, "autovacuum never started on the table"
            time.sleep(0.2)

        result = {}
        worker = threading.Thread(
            target=lambda: result.update(r=run(loader, test_home, source)))
        worker.start()
        worker.join(timeout=90)
        if worker.is_alive():  # the publish outwaits the VACUUM: stop it, then fail
            query(server, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = 'av' AND backend_type = 'client backend' "
                          "AND pid <> pg_backend_pid()")
            worker.join(timeout=30)
            pytest.fail("the publish waited for the autovacuum of a table it replaces")
        assert result["r"].status == "succeeded"
        publish = query(url, "SELECT status, extract(epoch FROM finished_at - started_at) "
                             "FROM setup.etl_run_steps WHERE kind = 'publish' "
                             "ORDER BY step_id DESC LIMIT 1")
        assert publish[0][0] == "succeeded" and publish[0][1] < 30
        assert query(url, "SELECT count(*) FROM silver.crm_sales_details") == [(lines,)]
    finally:
        embedded.stop(home, force=True)
        shutil.rmtree(home, ignore_errors=True)


#: a check whose rows are the parallel workers its step's session may use
WORKERS_PROBE = ("INSERT INTO setup.quality_checks VALUES ('parallel_workers_probe', 'gold', "
                 "'warning', 'the parallel workers of its session', 'SELECT 1 FROM generate_series("
                 "1, current_setting(''max_parallel_workers_per_gather'')::integer)')")


@pytest.mark.parametrize("jobs", ["every core", "one"])
def test_steps_take_no_parallel_workers_beyond_the_cores(jobs, head_db, test_home, tmp_path):
    """On a server on this machine (the test server is at 127.0.0.1 or a socket), a step
    may use the cores the steps at once leave it, less its own process: no parallel
    worker when --jobs fills every core; one step at a time, the cores but one, never
    more than the server's own max_parallel_workers_per_gather."""
    from dwh.orchestrate import is_local_server
    if not is_local_server(head_db):
        pytest.skip("the test server is on another machine, whose cores dwh cannot count")
    cores = len(os.sched_getaffinity(0))
    (server,), = query(head_db, "SELECT current_setting('max_parallel_workers_per_gather')::int")
    query(head_db, WORKERS_PROBE)
    source = write_tiny(tmp_path / "src")
    if jobs == "every core":
        result = run(head_db, test_home, source, jobs=cores)
        expected = 0
    else:
        result = run(head_db, test_home, source, jobs=1)
        expected = min(server, cores - 1)
    assert check_outcomes(head_db, result.run_id)["parallel_workers_probe"][1] == expected
    # The server's setting caps it: a database that allows none gets none.
    query(head_db, f"ALTER DATABASE {head_db.database} SET max_parallel_workers_per_gather = 0")
    result = run(head_db, test_home, source, jobs=1)
    assert check_outcomes(head_db, result.run_id)["parallel_workers_probe"][1] == 0


@pytest.mark.parametrize("url, env, local", [
    ("postgresql://u@/wh?host=/tmp/sockets", {}, True),
    ("postgresql://u@localhost:5433/wh", {}, True),
    ("postgresql://u@127.0.0.1/wh", {}, True),
    ("postgresql://u@/wh", {}, True),  # libpq's default socket
    ("postgresql://u@/wh?host=/tmp&host=localhost", {}, True),
    ("postgresql://u@db.example.com/wh", {}, False),
    ("postgresql://u@10.0.0.7:5432/wh", {}, False),
    ("postgresql://u@/wh?host=/tmp,db.example.com", {}, False),
    ("postgresql://u@/wh?host=/tmp&host=db.example.com", {}, False),
    ("postgresql://u@localhost/wh?hostaddr=10.0.0.7", {}, False),
    ("postgresql://u@/wh?service=warehouse", {}, False),
    ("postgresql://u@/wh", {"PGHOST": "db.example.com"}, False),
    ("postgresql://u@/wh", {"PGHOSTADDR": "10.0.0.7"}, False),
    ("postgresql://u@/wh", {"PGHOST": "/var/run/postgresql"}, True),
])
def test_the_steps_workers_are_the_servers_own_on_another_machine(url, env, local, monkeypatch):
    """dwh counts only this machine's cores: for a server libpq may reach elsewhere (a
    host, a hostaddr, a service, or with no host in the URL PGHOST, PGHOSTADDR or
    PGSERVICE) a step keeps the server's max_parallel_workers_per_gather."""
    from sqlalchemy.engine import make_url

    from dwh.orchestrate import step_parallel_workers
    for name in ("PGHOST", "PGHOSTADDR", "PGSERVICE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    got = step_parallel_workers(make_url(url), jobs=1)
    assert (got is not None) == local


@pytest.mark.parametrize("ids, keys, expected", [
    ([9, 7, 8], [19, 17, 18], (7, 9, 10)),  # whatever the row order
    ([1, 2, 3], [1, 2, 3], (1, 3, 0)),
    ([-2, -1, 0], [5, 6, 7], (-2, 0, 7)),
    ([1, 2, 3], [1, 3, 2], None),  # no one number
    ([7, 9], [1, 3], None),  # a gap
    ([7, 8, 9], [1, None, 3], None),  # a customer without a key
    ([], [], None),
    ([-2_000_000_000, -1_999_999_999], [2_000_000_000, 2_000_000_001], None),  # beyond integer
    ([1, 3, None], [11, 13, 12], None),  # a row without an id
])
def test_customer_key_shift_only_for_one_number_and_no_gap(ids, keys, expected, head_db):
    """gold.customer_key_shift: the number every key is its id plus (the key of id i is
    i + shift) when there is one and the ids run from lo to hi without a gap; else all
    NULL, and the steps take the keys by id, or join."""
    conn = connect(head_db)
    try:
        with conn.cursor() as cur:
            _probe_keys(cur, ids, keys)
            cur.execute("SELECT lo, hi, shift FROM gold.customer_key_shift('probe')")
            got = cur.fetchone()
    finally:
        conn.close()
    assert got == (expected or (None, None, None))


@pytest.mark.parametrize("ids, keys, way", [
    ([7, 8, 9], [17, 18, 19], "shifted"),
    ([7, 8, 9], [3, 1, 2], "by id"),
    ([7, 9], [1, 2], "joined"),  # a gap
])
def test_customer_key_lookup_finds_each_key_whichever_way(ids, keys, way, head_db):
    """gold.customer_key_lookup gives the dimension and the facts the SQL of each
    customer's key: run over ids known and unknown (outside the ids, in a gap, none),
    it finds every customer's key and no key for the others."""
    conn = connect(head_db)
    try:
        with conn.cursor() as cur:
            _probe_keys(cur, ids, keys)
            cur.execute("CREATE TABLE probe.lines AS SELECT unnest(%s::integer[]) AS cst_id",
                        ([6, 7, 8, 9, 10, None],))
            cur.execute("SELECT key_sql, join_sql, lo, hi, keys, shift "
                        "FROM gold.customer_key_lookup('probe', 'l.cst_id')")
            key_sql, join_sql, *params = cur.fetchone()
            assert (join_sql != "", params[3] is not None) == \
                {"shifted": (False, True), "by id": (False, False), "joined": (True, False)}[way]
            cur.execute(f"PREPARE lookup(integer, integer, integer[], integer) AS "
                        f"SELECT l.cst_id, {key_sql} FROM probe.lines l {join_sql}")
            cur.execute("EXECUTE lookup(%s, %s, %s, %s)", params)
            got = dict(cur.fetchall())
    finally:
        conn.close()
    assert got == {i: dict(zip(ids, keys)).get(i) for i in [6, 7, 8, 9, 10, None]}
