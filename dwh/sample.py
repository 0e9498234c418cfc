"""Generate the six source files of the retail warehouse, in the reference format.

Same file names, headers, CRLF line endings and unquoted values as the real
extracts (and the same files without a final newline), with every kind of dirt
that the silver rules clean up, at rates like the reference data's, and none
that they do not (so a run over a sample passes every error-severity check).

Deterministic for a seed; scale 1 is about the reference size (60k sales
lines), scale 100 about 6 million.  Written streaming, one row at a time, so
memory stays flat whatever the scale.  This is the one retail-aware module of
the tool.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dwh.errors import ConfigError

log = logging.getLogger(__name__)

# Per scale unit, as in the reference extracts.
CUSTOMERS = 18_484
PRODUCTS = 295          # product numbers; with older versions about 400 rows
SALES_LINES = 60_398
FIRST_CUSTOMER_ID = 11_000

# Dirt, as a share of the rows of a file (reference counts / reference rows).
RATES = {
    "cust_no_id": 4 / 18_494,
    "cust_duplicate": 5 / 18_494,
    "cust_first_spaces": 17 / 18_494,
    "cust_last_spaces": 22 / 18_494,
    "cust_marital_empty": 7 / 18_494,
    "cust_marital_dirty": 10 / 18_494,      # 'm', ' S', 's '...
    "cust_gender_empty": 4_578 / 18_494,
    "cust_gender_dirty": 10 / 18_494,
    "prd_cost_missing": 2 / 397,
    "prd_line_empty": 17 / 397,
    "prd_end_before_start": 3 / 397,
    "sls_order_zero": 17 / 60_398,
    "sls_order_bad_length": 2 / 60_398,
    "sls_order_bad_date": 2 / 60_398,       # 8 digits but no such day (20101399)
    "sls_sales_missing": 8 / 60_398,
    "sls_sales_negative": 3 / 60_398,
    "sls_sales_zero": 2 / 60_398,
    "sls_sales_mismatch": 13 / 60_398,
    "sls_price_missing": 7 / 60_398,
    "sls_price_negative": 5 / 60_398,
    "sls_price_text": 2 / 60_398,           # 'abc': not a number
    "az_nas_prefix": 11_042 / 18_484,
    "az_future_birth": 16 / 18_484,
    "az_before_1924": 15 / 18_484,
    "az_gender_empty": 1_472 / 18_484,
    "az_gender_code": 14 / 18_484,          # 'F', 'M ', ' '...
    "loc_country_code": 2_066 / 18_484,     # DE, US
    "loc_usa": 2_591 / 18_484,
    "loc_country_empty": 332 / 18_484,
    "loc_country_blank": 5 / 18_484,
}

COUNTRIES = [("Australia", 19), ("United States", 26), ("United Kingdom", 10),
             ("France", 10), ("Canada", 9), ("Germany", 10)]
FIRST_NAMES = ["Ada", "Ben", "Cora", "Dario", "Elif", "Farah", "Goran", "Hana", "Ivo", "Jana",
               "Kemal", "Lena", "Mato", "Nina", "Omar", "Petra", "Quinn", "Rosa", "Sven", "Tara",
               "Uma", "Vito", "Wera", "Xavi", "Yara", "Zeno"]
LAST_NAMES = ["Abbott", "Brandt", "Castro", "Dunn", "Eriksen", "Fischer", "Garza", "Holm",
              "Ivanova", "Jensen", "Kovac", "Lindqvist", "Moreau", "Novak", "Ortega", "Park",
              "Quist", "Rossi", "Sato", "Tanaka", "Ueda", "Varga", "Weber", "Young", "Zhou"]
# Category ids are two letters, an underscore and two letters (as in CO_RF).
CATEGORIES = {
    "AC": ("Accessories", ["Bags", "Bells", "Computers", "Mirrors", "Racks", "Stands"]),
    "BK": ("Bicycles", ["City", "Gravel", "Kids", "Mountain", "Road"]),
    "GR": ("Gear", ["Caps", "Gloves", "Jackets", "Shoes", "Socks", "Vests"]),
    "PT": ("Parts", ["Brakes", "Chains", "Forks", "Frames", "Pedals", "Saddles", "Tyres",
                     "Wheels"]),
}
LINES = ["M", "R", "S", "T"]


@dataclass(frozen=True)
class SampleFiles:
    """What ``generate`` wrote."""

    root: Path
    rows: dict[str, int]


def _plan(rng: random.Random, rows: int, *kinds: str) -> dict[int, str]:
    """Rows (by index) that get each kind of dirt: at least one of each kind."""
    chosen: dict[int, str] = {}
    for kind in kinds:
        count = max(1, round(RATES[kind] * rows))
        if count > rows // 4:  # frequent dirt is drawn per row instead
            continue
        for index in rng.sample(range(rows), min(count, rows)):
            chosen.setdefault(index, kind)
    return chosen


class _Writer:
    """CRLF lines, optionally without a final newline (as some extracts are)."""

    def __init__(self, path: Path, header: str, final_newline: bool):
        self.fh = path.open("w", encoding="utf-8", newline="", buffering=1 << 20)
        self.final_newline = final_newline
        self.fh.write(header)
        self.rows = 0

    def row(self, *values: object) -> None:
        self.fh.write("\r\n" + ",".join("" if v is None else str(v) for v in values))
        self.rows += 1

    def close(self) -> int:
        if self.final_newline:
            self.fh.write("\r\n")
        self.fh.close()
        return self.rows


def _customer_key(cid: int) -> str:
    return f"AW{cid:08d}"


_SUBCATEGORIES = [(cat, sub) for cat, (_, subs) in sorted(CATEGORIES.items()) for sub in subs]


def _product(index: int) -> tuple[str, str, str]:
    """(category id, product number, name) of product ``index``, deterministic.

    The delivered product key is ``<category id>-<product number>`` (CO-RF-FR-R92B-58).
    """
    cat, sub = _SUBCATEGORIES[index % len(_SUBCATEGORIES)]
    return f"{cat}-{sub[:2].upper()}", f"{cat[0]}{sub[0]}-{index:05d}", f"{sub} Model {index:05d}"


def _price(index: int) -> int:
    return 3 + (index * 7919) % 2_500


def generate(out: Path, *, scale: int = 1, seed: int = 0) -> SampleFiles:
    """Write source_crm/ and source_erp/ under ``out``."""
    if scale < 1:
        raise ConfigError(f"--scale must be 1 or more, not {scale}")
    (out / "source_crm").mkdir(parents=True, exist_ok=True)
    (out / "source_erp").mkdir(parents=True, exist_ok=True)
    customers = CUSTOMERS * scale
    products = PRODUCTS * scale
    rows = {
        "source_crm/cust_info.csv": _customers(out, customers, seed),
        "source_crm/prd_info.csv": _products(out, products, seed),
        "source_crm/sales_details.csv": _sales(out, SALES_LINES * scale, customers, products, seed),
        "source_erp/CUST_AZ12.csv": _erp_customers(out, customers, seed),
        "source_erp/LOC_A101.csv": _erp_locations(out, customers, seed),
        "source_erp/PX_CAT_G1V2.csv": _categories(out),
    }
    log.info("wrote a scale-%d sample (seed %d) to %s", scale, seed, out)
    return SampleFiles(out, rows)


def _rng(seed: int, name: str) -> random.Random:
    return random.Random(f"{seed}/{name}")


def _dirty_code(rng: random.Random, code: str) -> str:
    return rng.choice([code.lower(), f" {code}", f"{code} ", f" {code.lower()} "])


def _customers(out: Path, n: int, seed: int) -> int:
    rng = _rng(seed, "cust_info")
    w = _Writer(out / "source_crm/cust_info.csv",
                "cst_id,cst_key,cst_firstname,cst_lastname,cst_marital_status,cst_gndr,"
                "cst_create_date", final_newline=False)
    plan = _plan(rng, n, "cust_duplicate", "cust_first_spaces", "cust_last_spaces",
                 "cust_marital_empty", "cust_marital_dirty", "cust_gender_dirty")
    base = dt.date(2025, 10, 6)
    for i in range(n):
        cid = FIRST_CUSTOMER_ID + i
        dirt = plan.get(i)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        marital = rng.choice("MS")
        gender = "" if rng.random() < RATES["cust_gender_empty"] else rng.choice("MF")
        created = base + dt.timedelta(days=i * 120 // n)
        if dirt == "cust_first_spaces":
            first = f" {first}"
        elif dirt == "cust_last_spaces":
            last = f"{last}  "
        elif dirt == "cust_marital_empty":
            marital = ""
        elif dirt == "cust_marital_dirty":
            marital = _dirty_code(rng, marital)
        elif dirt == "cust_gender_dirty":
            gender = _dirty_code(rng, rng.choice("MF"))
        elif dirt == "cust_duplicate":
            # An older, incomplete version of the same customer: the rules keep the latest.
            w.row(cid, _customer_key(cid), "", last, marital, "", created - dt.timedelta(days=1))
        w.row(cid, _customer_key(cid), first, last, marital, gender, created)
    # Rows without an id (the rules drop them), as the extracts end with.
    for _ in range(max(1, round(RATES["cust_no_id"] * n))):
        w.row("", rng.choice(["TMP01", "X9", str(rng.randrange(10**7, 10**8))]),
              "", "", "", "", "")
    return w.close()


def _products(out: Path, n: int, seed: int) -> int:
    rng = _rng(seed, "prd_info")
    w = _Writer(out / "source_crm/prd_info.csv",
                "prd_id,prd_key,prd_nm,prd_cost,prd_line,prd_start_dt,prd_end_dt",
                final_newline=True)
    rows = n + (n + 2) // 3  # every third product has an older version
    plan = _plan(rng, rows, "prd_cost_missing", "prd_line_empty", "prd_end_before_start")
    prd_id, row = 210, 0
    for index in range(n):
        cat_id, number, name = _product(index)
        versions = 2 if index % 3 == 0 else 1
        starts = [dt.date(2011 + v, 7, 1) for v in range(versions)]
        cost = max(1, _price(index) // 2)
        line = LINES[index % len(LINES)]
        for v, start in enumerate(starts):
            dirt = plan.get(row)
            row += 1
            delivered_end = (starts[v + 1] - dt.timedelta(days=1)) if v + 1 < versions else ""
            the_cost: object = cost + v
            the_line = f"{line} "  # the extract pads the line code
            if dirt == "prd_cost_missing":
                the_cost = ""
            elif dirt == "prd_line_empty":
                the_line = ""
            elif dirt == "prd_end_before_start":
                delivered_end = start - dt.timedelta(days=1300)  # not trusted by the rules
            w.row(prd_id, f"{cat_id}-{number}", name, the_cost, the_line, start, delivered_end)
            prd_id += 1
    return w.close()


def _sales(out: Path, n: int, customers: int, products: int, seed: int) -> int:
    rng = _rng(seed, "sales_details")
    w = _Writer(out / "source_crm/sales_details.csv",
                "sls_ord_num,sls_prd_key,sls_cust_id,sls_order_dt,sls_ship_dt,sls_due_dt,"
                "sls_sales,sls_quantity,sls_price", final_newline=True)
    plan = _plan(rng, n, *[k for k in RATES if k.startswith("sls_")])
    first_day = dt.date(2010, 12, 29)
    days = 1_500
    line, order = 0, 43_697
    while line < n:
        cust = FIRST_CUSTOMER_ID + rng.randrange(customers)
        ordered = first_day + dt.timedelta(days=line * days // n)
        ship, due = ordered + dt.timedelta(days=7), ordered + dt.timedelta(days=12)
        for _ in range(min(rng.choice((1, 1, 2, 2, 3, 4)), n - line)):
            index = rng.randrange(products)
            number = _product(index)[1]
            qty = rng.choice((1, 1, 1, 1, 2, 3))
            price = _price(index)
            sales: object = qty * price
            shown_price: object = price
            order_dt: object = ordered.strftime("%Y%m%d")
            dirt = plan.get(line)
            if dirt == "sls_order_zero":
                order_dt = 0
            elif dirt == "sls_order_bad_length":
                order_dt = rng.randrange(1_000, 99_999)
            elif dirt == "sls_order_bad_date":
                order_dt = f"{ordered.year}1399"
            elif dirt == "sls_sales_missing":
                sales = ""
            elif dirt == "sls_sales_negative":
                sales = -qty * price
            elif dirt == "sls_sales_zero":
                sales = 0
            elif dirt == "sls_sales_mismatch":
                sales = qty * price + rng.randrange(1, 50)
            elif dirt == "sls_price_missing":
                shown_price = ""
            elif dirt == "sls_price_negative":
                shown_price = -price
            elif dirt == "sls_price_text":
                shown_price = "abc"
            w.row(f"SO{order}", number, cust, order_dt, ship.strftime("%Y%m%d"),
                  due.strftime("%Y%m%d"), sales, qty, shown_price)
            line += 1
        order += 1
    return w.close()


def _erp_customers(out: Path, n: int, seed: int) -> int:
    rng = _rng(seed, "CUST_AZ12")
    w = _Writer(out / "source_erp/CUST_AZ12.csv", "CID,BDATE,GEN", final_newline=False)
    plan = _plan(rng, n, "az_future_birth", "az_before_1924", "az_gender_code")
    for i in range(n):
        cid = _customer_key(FIRST_CUSTOMER_ID + i)
        if rng.random() < RATES["az_nas_prefix"]:
            cid = "NAS" + cid
        born = dt.date(1935, 1, 1) + dt.timedelta(days=rng.randrange(365 * 55))
        gender = "" if rng.random() < RATES["az_gender_empty"] else rng.choice(["Male", "Female"])
        dirt = plan.get(i)
        if dirt == "az_future_birth":
            born = dt.date(2100 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28))
        elif dirt == "az_before_1924":
            born = dt.date(1900 + rng.randrange(24), 1 + rng.randrange(12), 1 + rng.randrange(28))
        elif dirt == "az_gender_code":
            gender = rng.choice(["F", "M", "F ", "M ", " ", "  "])
        w.row(cid, born, gender)
    return w.close()


def _erp_locations(out: Path, n: int, seed: int) -> int:
    rng = _rng(seed, "LOC_A101")
    w = _Writer(out / "source_erp/LOC_A101.csv", "CID,CNTRY", final_newline=True)
    names = [c for c, _ in COUNTRIES]
    weights = [wt for _, wt in COUNTRIES]
    plan = _plan(rng, n, "loc_country_blank")
    for i in range(n):
        key = _customer_key(FIRST_CUSTOMER_ID + i)
        country = rng.choices(names, weights)[0]
        draw = rng.random()
        if plan.get(i) == "loc_country_blank":
            country = rng.choice([" ", "  ", "   "])
        elif draw < RATES["loc_country_empty"]:
            country = ""
        elif draw < RATES["loc_country_empty"] + RATES["loc_country_code"]:
            country = rng.choice(["DE", "US"])
        elif draw < RATES["loc_country_empty"] + RATES["loc_country_code"] + RATES["loc_usa"]:
            country = "USA"
        w.row(f"{key[:2]}-{key[2:]}", country)
    return w.close()


def _categories(out: Path) -> int:
    w = _Writer(out / "source_erp/PX_CAT_G1V2.csv", "ID,CAT,SUBCAT,MAINTENANCE",
                final_newline=False)
    for cat, (name, subs) in sorted(CATEGORIES.items()):
        for sub in subs:
            w.row(f"{cat}_{sub[:2].upper()}", name, sub, "Yes" if len(sub) % 2 else "No")
    return w.close()


def lines(path: Path) -> Iterator[str]:
    """The lines of a generated file, without line ends (for tests and tools)."""
    with path.open(encoding="utf-8", newline="") as fh:
        for line in fh:
            yield line.rstrip("\r\n")
