"""Helpers for pipeline tests: small source sets, fingerprints, reading tables."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg2
from sqlalchemy.engine import URL

from dwh import orchestrate
from tests.conftest import _connect_kwargs, settings_for

def _reference() -> Path:
    """The real extracts: $DWH_RETAIL_DATA, else ../shared/datasets/retail next to the
    project (where the team keeps them), else that folder in the team's workspace."""
    candidates = [os.environ.get("DWH_RETAIL_DATA"),
                  Path(__file__).resolve().parent.parent.parent / "shared/datasets/retail",
                  "/work/shared/datasets/retail"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "source_crm").is_dir():
            return Path(candidate)
    return Path("/nonexistent/shared/datasets/retail")


REFERENCE = _reference()
LAYER_TABLES = {
    "bronze": ["crm_cust_info", "crm_prd_info", "crm_sales_details", "erp_cust_az12",
               "erp_loc_a101", "erp_px_cat_g1v2"],
    "silver": ["crm_cust_info", "crm_prd_info", "crm_sales_details", "erp_cust_az12",
               "erp_loc_a101", "erp_px_cat_g1v2"],
    "gold": ["surrogate_keys", "dim_customers", "dim_products", "fact_sales"],
}

# A tiny but complete source set: every file, a few rows, CRLF like the extracts.
TINY = {
    "source_crm/cust_info.csv": [
        "cst_id,cst_key,cst_firstname,cst_lastname,cst_marital_status,cst_gndr,cst_create_date",
        "11000,AW00011000, Jon,Yang ,M,M,2025-10-06",
        "11001,AW00011001,Eve,Huang,s,,2025-10-06",
        "11001,AW00011001,,Huang,S,F,2025-10-01",
        ",XX1,,,,,",
    ],
    "source_crm/prd_info.csv": [
        "prd_id,prd_key,prd_nm,prd_cost,prd_line,prd_start_dt,prd_end_dt",
        "210,CO-RF-FR-R92B-58,Road Frame 58,,R ,2003-07-01,",
        "211,AC-HE-HL-U509-R,Helmet Red,12,S ,2011-07-01,2007-12-28",
        "212,AC-HE-HL-U509-R,Helmet Red,13,S ,2012-07-01,",
    ],
    "source_crm/sales_details.csv": [
        "sls_ord_num,sls_prd_key,sls_cust_id,sls_order_dt,sls_ship_dt,sls_due_dt,sls_sales,"
        "sls_quantity,sls_price",
        "SO1,FR-R92B-58,11000,20101229,20110105,20110110,3578,1,3578",
        "SO2,HL-U509-R,11001,0,20110105,20110110,,2,13",
        "SO3,HL-U509-R,11001,20101399,20110105,20110110,26,2,abc",
    ],
    "source_erp/CUST_AZ12.csv": ["CID,BDATE,GEN", "NASAW00011000,1971-10-06,Male",
                                 "AW00011001,1920-05-10, F"],
    "source_erp/LOC_A101.csv": ["CID,CNTRY", "AW-00011000,DE", "AW-00011001, Canada"],
    "source_erp/PX_CAT_G1V2.csv": ["ID,CAT,SUBCAT,MAINTENANCE", "CO_RF,Components,Road Frames,Yes",
                                   "AC_HE,Accessories,Helmets,Yes"],
}


def write_tiny(root: Path) -> Path:
    for name, lines in TINY.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return root


def copy_sources(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for path in dst.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dst


def remove_customer(source: Path, cst_id: int) -> None:
    """Take a customer out of a sample's CRM files: the customer's rows and sales lines."""
    for name, column in (("cust_info.csv", 0), ("sales_details.csv", 2)):
        path = source / "source_crm" / name
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(line for line in lines if line.split(",")[column] != str(cst_id)))


def run(url: URL, home: Path, source_dir: Path | None, layer: str = "all", jobs: int = 2):
    return orchestrate.orchestrate(settings_for(url, home),
                                   orchestrate.Options(layer, source_dir, jobs))


def connect(url: URL):
    conn = psycopg2.connect(**_connect_kwargs(url))
    conn.autocommit = True
    return conn


def query(url: URL, sql: str, args=()) -> list[tuple]:
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args or None)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def as_login(url: URL, *statements: str):
    """Run ``statements`` on one autocommit session of ``url``'s login; the rows of the
    last (None if it returns none)."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def rows(url: URL, table: str, columns: list[str]) -> list[dict]:
    result = query(url, f"SELECT {', '.join(columns)} FROM {table}")
    return [dict(zip(columns, row)) for row in result]


def collations(url: URL, table: str) -> list[tuple[str, str]]:
    """(column, collation) of every collatable column of ``table``, in column order."""
    return query(url, "SELECT a.attname, c.collname FROM pg_attribute a "
                      "JOIN pg_collation c ON c.oid = a.attcollation "
                      "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
                      "ORDER BY a.attnum", (table,))


def fingerprint(url: URL, *, with_load_time: bool = True) -> dict[str, tuple[int, str]]:
    """(row count, md5 of the sorted rows) of every table of the three layers."""
    conn = connect(url)
    out = {}
    try:
        with conn.cursor() as cur:
            for schema, tables in LAYER_TABLES.items():
                for table in tables:
                    cur.execute(
                        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) "
                        "FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                        "AND NOT attisdropped AND (%s OR attname <> 'dwh_loaded_at')",
                        (f"{schema}.{table}", with_load_time))
                    cols = cur.fetchone()[0]
                    cur.execute(f"SELECT count(*), md5(coalesce(string_agg(r, E'\\n' ORDER BY r), '')) "
                                f"FROM (SELECT ROW({cols})::text AS r FROM {schema}.{table}) t")
                    out[f"{schema}.{table}"] = cur.fetchone()
    finally:
        conn.close()
    return out


def last_run(url: URL) -> tuple:
    return query(url, "SELECT run_id, status, failed_step, message FROM setup.etl_runs "
                      "ORDER BY run_id DESC LIMIT 1")[0]
