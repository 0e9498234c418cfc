"""dwh orchestrate, deploy, runs and sample, as a user runs them."""

from __future__ import annotations

import hashlib
import json

from typer.testing import CliRunner

from dwh import sample
from dwh.cli import app
from tests.conftest import ROOT, url_string
from tests.warehouse import query, write_tiny

runner = CliRunner()


def run(url, *args):
    return runner.invoke(app, list(args), env={"DWH_DATABASE_URL": url_string(url),
                                               "DWH_PROJECT_DIR": str(ROOT), "DWH_SOURCE_DIR": None})


def test_progress_is_reported_while_the_run_goes(head_db, test_home, tmp_path):
    """Each step is reported as it finishes, not after the CALL returns."""
    from dwh import orchestrate
    from tests.conftest import settings_for

    source = write_tiny(tmp_path / "src")
    seen = []
    # a silver step slow enough that the run is still going when bronze is reported
    query(head_db, "ALTER FUNCTION silver.load_erp_px_cat_g1v2(text, text) RENAME TO real_px")
    query(head_db, "CREATE FUNCTION silver.load_erp_px_cat_g1v2(p_source text, p_target text) "
                   "RETURNS bigint LANGUAGE sql AS $$ SELECT pg_sleep(1.5); "
                   "SELECT silver.real_px(p_source, p_target) $$")

    def on_step(step):
        seen.append((step.target, query(head_db, "SELECT status FROM setup.etl_runs "
                                                 "ORDER BY run_id DESC LIMIT 1")[0][0]))

    orchestrate.orchestrate(settings_for(head_db, test_home),
                            orchestrate.Options("all", source, 2), on_step)
    running = [target for target, status in seen if status == "running"]
    assert "bronze.crm_cust_info" in running, seen
    assert [target for target, _ in seen][-1] == "bronze, silver, gold"  # publish, last


def test_orchestrate_prints_each_step_then_a_summary(head_db, tmp_path):
    source = write_tiny(tmp_path / "src")
    result = run(head_db, "orchestrate", "--source-dir", str(source), "--jobs", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.split()[:3] == ["bronze", "load", "bronze.crm_cust_info"]
               and "4 rows" in line for line in lines)
    assert any(line.split()[:3] == ["gold", "build", "gold.fact_sales"] and "3 rows" in line
               for line in lines)
    assert any("silver_sales_without_order_date" in line and "warning: 2 rows" in line
               for line in lines)
    summary = lines[lines.index(next(l for l in lines if l.startswith("run "))):]
    assert summary[0].startswith("run 1 succeeded in ")
    assert summary[1].split()[:4] == ["bronze", "6", "tables", "16"]
    assert summary[3].split()[:4] == ["gold", "4", "tables", "11"]  # keys 2+2, dims 2+2, facts 3
    assert summary[4].startswith("  checks  14 run, 0 failed, 5 warnings")


def test_orchestrate_failure_exits_1_naming_the_step(head_db, tmp_path):
    source = write_tiny(tmp_path / "src")
    (source / "source_erp/LOC_A101.csv").write_bytes(b"CID,COUNTRY\r\nAW-1,DE\r\n")
    result = run(head_db, "orchestrate", "--source-dir", str(source))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"dwh: error: dwh run 1 failed at bronze load bronze.erp_loc_a101: "
        f"{source / 'source_erp/LOC_A101.csv'}, line 1: the header does not match table "
        "bronze.erp_loc_a101: missing column(s) cntry; unexpected column(s) country "
        "(expected the header cid,cntry (any order, any case))")


def test_orchestrate_refuses_bad_options(head_db, tmp_path):
    result = run(head_db, "orchestrate", "--jobs", "0")
    assert result.exit_code == 2
    assert "Invalid value for '--jobs'" in result.output and "greater than or equal to 1" in result.output
    result = run(head_db, "orchestrate", "--layer", "platinum")
    assert result.exit_code == 2 and "platinum" in result.output
    result = run(head_db, "orchestrate", "--source-dir", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert f"source directory {tmp_path / 'nope'} does not exist" in result.stderr


def test_orchestrate_on_an_undeployed_database(empty_db):
    result = run(empty_db, "orchestrate")
    assert result.exit_code == 1
    assert "is not deployed" in result.stderr and "dwh upgrade" in result.stderr


def test_deploy_creates_upgrades_and_runs(databases, tmp_path):
    url = databases.name_only("deploy")
    source = write_tiny(tmp_path / "src")
    result = run(url, "deploy", "--source-dir", str(source))
    assert result.exit_code == 0, result.output
    assert f"created database {url.database}" in result.stderr
    assert "Running upgrade 0007 -> 0008" in result.stderr
    assert "run 1 succeeded" in result.stdout
    result = run(url, "deploy", "--source-dir", str(source))  # nothing to migrate: just runs
    assert result.exit_code == 0 and "Running upgrade" not in result.stderr
    assert "run 2 succeeded" in result.stdout


def test_runs_lists_and_shows(head_db, tmp_path):
    source = write_tiny(tmp_path / "src")
    assert run(head_db, "runs").stdout.strip() == "no runs yet: dwh orchestrate starts one"
    run(head_db, "orchestrate", "--source-dir", str(source))
    (source / "source_crm/prd_info.csv").unlink()
    run(head_db, "orchestrate", "--source-dir", str(source))
    result = run(head_db, "runs")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["run", "status", "started", "seconds", "layers", "bronze", "rows",
                                "silver", "rows", "gold", "rows"]
    assert lines[1].split()[:2] == ["2", "failed"]
    assert "failed at bronze load bronze.crm_prd_info" in lines[2]
    assert lines[3].split()[:2] == ["1", "succeeded"] and lines[3].split()[-3:] == ["16", "14", "11"]
    data = json.loads(run(head_db, "runs", "--json", "--last", "1").stdout)
    assert [r["run_id"] for r in data] == [2] and data[0]["status"] == "failed"
    assert {s["status"] for s in data[0]["steps"]} >= {"failed"}
    result = run(head_db, "runs", "1")
    assert result.stdout.startswith("run 1: succeeded, layers all, bronze from client")
    assert "gold.fact_sales" in result.stdout
    result = run(head_db, "runs", "99")
    assert result.exit_code == 1 and "there is no run 99" in result.stderr
    assert run(head_db, "runs", "--last", "0").exit_code == 2


def _digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.csv"))}


def test_sample_is_deterministic_and_in_the_reference_format(tmp_path):
    result = runner.invoke(app, ["sample", "--out", str(tmp_path / "a"), "--seed", "5"])
    assert result.exit_code == 0, result.output
    runner.invoke(app, ["sample", "--out", str(tmp_path / "b"), "--seed", "5"])
    runner.invoke(app, ["sample", "--out", str(tmp_path / "c"), "--seed", "6"])
    a, b, c = (_digest(tmp_path / x) for x in "abc")
    assert a == b and a != c
    assert sorted(a) == ["source_crm/cust_info.csv", "source_crm/prd_info.csv",
                         "source_crm/sales_details.csv", "source_erp/CUST_AZ12.csv",
                         "source_erp/LOC_A101.csv", "source_erp/PX_CAT_G1V2.csv"]
    root = tmp_path / "a"
    headers = {
        "source_crm/cust_info.csv": b"cst_id,cst_key,cst_firstname,cst_lastname,cst_marital_status,cst_gndr,cst_create_date\r\n",
        "source_crm/prd_info.csv": b"prd_id,prd_key,prd_nm,prd_cost,prd_line,prd_start_dt,prd_end_dt\r\n",
        "source_crm/sales_details.csv": b"sls_ord_num,sls_prd_key,sls_cust_id,sls_order_dt,sls_ship_dt,sls_due_dt,sls_sales,sls_quantity,sls_price\r\n",
        "source_erp/CUST_AZ12.csv": b"CID,BDATE,GEN\r\n",
        "source_erp/LOC_A101.csv": b"CID,CNTRY\r\n",
        "source_erp/PX_CAT_G1V2.csv": b"ID,CAT,SUBCAT,MAINTENANCE\r\n",
    }
    for name, header in headers.items():
        data = (root / name).read_bytes()
        assert data.startswith(header), name
        assert b"\n" not in data.replace(b"\r\n", b""), f"{name}: a bare LF"
        assert b'"' not in data, f"{name}: quoting"
    sales = (root / "source_crm/sales_details.csv").read_bytes().count(b"\r\n")
    assert 55_000 < sales < 65_000  # scale 1 is about the reference size
    assert (root / "source_crm/cust_info.csv").read_bytes()[-2:] != b"\r\n"  # as the extract


def _data_lines(path) -> int:
    """Data lines of a CSV file, counted from its bytes (header out, last line with or
    without its CRLF)."""
    data = path.read_bytes()
    return data.count(b"\r\n") + (0 if data.endswith(b"\r\n") else 1) - 1


def test_sample_scale_grows_linearly(tmp_path):
    sample.generate(tmp_path / "one", scale=1, seed=1)
    sample.generate(tmp_path / "three", scale=3, seed=1)
    for name in ("source_crm/sales_details.csv", "source_erp/CUST_AZ12.csv"):
        assert _data_lines(tmp_path / "three" / name) == 3 * _data_lines(tmp_path / "one" / name)
    result = runner.invoke(app, ["sample", "--out", str(tmp_path / "x"), "--scale", "0"])
    assert result.exit_code == 2 and "--scale" in result.output
