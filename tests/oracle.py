"""An independent reading of the source CSV files with the spec's rules
(../shared/docs/retail-warehouse.md), in plain Python: the expected silver and
gold that the pipeline's results are compared with.  Shares no code with dwh.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

FILES = {
    "crm_cust_info": ("source_crm", "cust_info.csv"),
    "crm_prd_info": ("source_crm", "prd_info.csv"),
    "crm_sales_details": ("source_crm", "sales_details.csv"),
    "erp_cust_az12": ("source_erp", "CUST_AZ12.csv"),
    "erp_loc_a101": ("source_erp", "LOC_A101.csv"),
    "erp_px_cat_g1v2": ("source_erp", "PX_CAT_G1V2.csv"),
}


def read(root: Path, table: str) -> list[dict[str, str | None]]:
    """Rows of one source file; an empty field is None, as CSV NULL."""
    folder, name = FILES[table]
    path = next(p for p in (root / folder).iterdir() if p.name.lower() == name.lower())
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader)]
        return [{h: (v if v != "" else None) for h, v in zip(header, row)} for row in reader]


def to_int(v: str | None) -> int | None:
    # ASCII digits only: Python's \d (and int()) would also take other scripts' digits.
    return int(v) if v is not None and re.fullmatch(r"-?[0-9]{1,9}", v) else None


def iso_date(v: str | None) -> dt.date | None:
    if v is None or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v):
        return None
    try:
        return dt.date.fromisoformat(v)
    except ValueError:
        return None


def yyyymmdd(v: str | None) -> dt.date | None:
    if v is None or not re.fullmatch(r"[0-9]{8}", v):
        return None
    y, m, d = int(v[:4]), int(v[4:6]), int(v[6:])
    if y < 1 or not 1 <= m <= 12 or not 1 <= d <= calendar.monthrange(y, m)[1]:
        return None
    return dt.date(y, m, d)


def code(v: str | None) -> str:
    return (v or "").strip(" ").upper()


def trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@dataclass
class Expected:
    silver: dict[str, list[dict]]
    gold: dict[str, list[dict]]


def silver(root: Path, today: dt.date) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}

    # crm_cust_info: one row per id, the latest create date wins.
    best: dict[int, tuple] = {}
    for r in read(root, "crm_cust_info"):
        cid = to_int(r["cst_id"])
        if cid is None:
            continue
        row = {
            "cst_id": cid,
            "cst_key": r["cst_key"],
            "cst_firstname": r["cst_firstname"].strip(" ") if r["cst_firstname"] is not None else None,
            "cst_lastname": r["cst_lastname"].strip(" ") if r["cst_lastname"] is not None else None,
            "cst_marital_status": {"S": "Single", "M": "Married"}.get(code(r["cst_marital_status"]), "n/a"),
            "cst_gndr": {"F": "Female", "M": "Male"}.get(code(r["cst_gndr"]), "n/a"),
            "cst_create_date": iso_date(r["cst_create_date"]),
        }
        d = row["cst_create_date"]
        rank = (d is not None, d or dt.date.min)
        if cid not in best or rank > best[cid][0]:
            best[cid] = (rank, row)
    out["crm_cust_info"] = [row for _, row in best.values()]

    # crm_prd_info: keys split, end date from the next version's start.
    prds = []
    for r in read(root, "crm_prd_info"):
        key = r["prd_key"] or ""
        prds.append({
            "prd_id": to_int(r["prd_id"]),
            "cat_id": key[:5].replace("-", "_"),
            "prd_key": key[6:],
            "prd_nm": r["prd_nm"],
            "prd_cost": to_int(r["prd_cost"]) if to_int(r["prd_cost"]) is not None else 0,
            "prd_line": {"M": "Mountain", "R": "Road", "S": "Other Sales", "T": "Touring"}
            .get(code(r["prd_line"]), "n/a"),
            "prd_start_dt": iso_date(r["prd_start_dt"]),
        })
    by_key: dict[str, list[dict]] = {}
    for p in prds:
        by_key.setdefault(p["prd_key"], []).append(p)
    for versions in by_key.values():
        versions.sort(key=lambda p: (p["prd_start_dt"] or dt.date.max, p["prd_id"] or 0))
        for cur, nxt in zip(versions, versions[1:] + [None]):
            cur["prd_end_dt"] = (nxt["prd_start_dt"] - dt.timedelta(days=1)
                                 if nxt is not None and nxt["prd_start_dt"] and cur["prd_start_dt"]
                                 else None)
    out["crm_prd_info"] = prds

    # crm_sales_details: dates checked, sales and price derived.
    sales = []
    for r in read(root, "crm_sales_details"):
        s, q, p = to_int(r["sls_sales"]), to_int(r["sls_quantity"]), to_int(r["sls_price"])
        if s is None or s <= 0 or (p is not None and q is not None and s != q * abs(p)):
            new_s = q * abs(p) if q is not None and p is not None else None
        else:
            new_s = s
        if p is None or p <= 0:
            new_p = trunc_div(s, q) if s is not None and q else None
        else:
            new_p = p
        sales.append({
            "sls_ord_num": r["sls_ord_num"], "sls_prd_key": r["sls_prd_key"],
            "sls_cust_id": to_int(r["sls_cust_id"]),
            "sls_order_dt": yyyymmdd(r["sls_order_dt"]), "sls_ship_dt": yyyymmdd(r["sls_ship_dt"]),
            "sls_due_dt": yyyymmdd(r["sls_due_dt"]),
            "sls_sales": new_s, "sls_quantity": q, "sls_price": new_p,
        })
    out["crm_sales_details"] = sales

    az = []
    for r in read(root, "erp_cust_az12"):
        cid = r["cid"] or ""
        bdate = iso_date(r["bdate"])
        gen = code(r["gen"])
        az.append({
            "cid": cid[3:] if cid.startswith("NAS") else cid,
            "bdate": bdate if bdate is not None and bdate <= today else None,
            "gen": "Female" if gen in ("F", "FEMALE") else "Male" if gen in ("M", "MALE") else "n/a",
        })
    out["erp_cust_az12"] = az

    loc = []
    for r in read(root, "erp_loc_a101"):
        country = (r["cntry"] or "").strip(" ")
        country = {"DE": "Germany", "US": "United States", "USA": "United States", "": "n/a"}.get(country, country)
        loc.append({"cid": (r["cid"] or "").replace("-", ""), "cntry": country})
    out["erp_loc_a101"] = loc

    out["erp_px_cat_g1v2"] = [dict(r) for r in read(root, "erp_px_cat_g1v2")]
    return out


def gold(s: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Gold without surrogate keys (their values are the pipeline's to choose,
    their properties are checked separately)."""
    az = {r["cid"]: r for r in s["erp_cust_az12"]}
    loc = {r["cid"]: r for r in s["erp_loc_a101"]}
    cat = {r["id"]: r for r in s["erp_px_cat_g1v2"]}
    customers = []
    for c in s["crm_cust_info"]:
        a, l = az.get(c["cst_key"]), loc.get(c["cst_key"])
        customers.append({
            "customer_id": c["cst_id"], "customer_number": c["cst_key"],
            "first_name": c["cst_firstname"], "last_name": c["cst_lastname"],
            "country": l["cntry"] if l else None, "marital_status": c["cst_marital_status"],
            "gender": c["cst_gndr"] if c["cst_gndr"] != "n/a" else (a["gen"] if a else "n/a"),
            "birthdate": a["bdate"] if a else None, "create_date": c["cst_create_date"],
        })
    products = []
    for p in s["crm_prd_info"]:
        if p["prd_end_dt"] is not None:
            continue
        k = cat.get(p["cat_id"])
        products.append({
            "product_id": p["prd_id"], "product_number": p["prd_key"], "product_name": p["prd_nm"],
            "category_id": p["cat_id"], "category": k["cat"] if k else None,
            "subcategory": k["subcat"] if k else None, "maintenance": k["maintenance"] if k else None,
            "cost": p["prd_cost"], "product_line": p["prd_line"], "start_date": p["prd_start_dt"],
        })
    facts = [{
        "order_number": r["sls_ord_num"], "product_number": r["sls_prd_key"],
        "customer_id": r["sls_cust_id"], "order_date": r["sls_order_dt"],
        "shipping_date": r["sls_ship_dt"], "due_date": r["sls_due_dt"],
        "sales_amount": r["sls_sales"], "quantity": r["sls_quantity"], "price": r["sls_price"],
    } for r in s["crm_sales_details"]]
    return {"dim_customers": customers, "dim_products": products, "fact_sales": facts}


def expected(root: Path, today: dt.date) -> Expected:
    s = silver(root, today)
    return Expected(s, gold(s))


def unreadable_dates(root: Path) -> int:
    """Rows with a date given but not a real day: sales lines (counted once however
    many of their three dates), customers, products and birth dates."""
    def bad(v: str | None, parse) -> bool:
        return v is not None and parse(v) is None

    return (sum(1 for r in read(root, "crm_sales_details")
                if any(bad(r[c], yyyymmdd) for c in ("sls_order_dt", "sls_ship_dt", "sls_due_dt")))
            + sum(1 for r in read(root, "crm_cust_info") if bad(r["cst_create_date"], iso_date))
            + sum(1 for r in read(root, "crm_prd_info") if bad(r["prd_start_dt"], iso_date))
            + sum(1 for r in read(root, "erp_cust_az12") if bad(r["bdate"], iso_date)))


def unparseable_numbers(root: Path) -> int:
    """Sales lines with a number (sales, quantity or price) given but not an integer the
    rules read, counted once however many of the three."""
    return sum(1 for r in read(root, "crm_sales_details")
               if any(r[c] is not None and to_int(r[c]) is None
                      for c in ("sls_sales", "sls_quantity", "sls_price")))


def sales_per_country(e: Expected) -> Counter:
    country = {c["customer_id"]: c["country"] for c in e.gold["dim_customers"]}
    totals: Counter = Counter()
    for f in e.gold["fact_sales"]:
        totals[country.get(f["customer_id"])] += f["sales_amount"] or 0
    return totals


def customers_per_gender(e: Expected) -> Counter:
    return Counter(c["gender"] for c in e.gold["dim_customers"])
