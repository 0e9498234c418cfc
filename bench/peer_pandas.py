"""pandas read_csv + to_sql (chunked, method="multi"): run with bench/.venv's Python.

Usage: python peer_pandas.py URL SOURCE_DIR  -> prints {"seconds": ..., "rows": ...}
"""

import json
import sys
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

FILES = {
    "crm_cust_info": ("source_crm", "cust_info.csv"),
    "crm_prd_info": ("source_crm", "prd_info.csv"),
    "crm_sales_details": ("source_crm", "sales_details.csv"),
    "erp_cust_az12": ("source_erp", "CUST_AZ12.csv"),
    "erp_loc_a101": ("source_erp", "LOC_A101.csv"),
    "erp_px_cat_g1v2": ("source_erp", "PX_CAT_G1V2.csv"),
}


def main(url: str, source_dir: Path) -> None:
    engine = sa.create_engine(url)
    rows = 0
    start = time.perf_counter()
    for table, (folder, name) in FILES.items():
        # every value as text, as bronze keeps it; an empty field is NULL
        for chunk in pd.read_csv(source_dir / folder / name, dtype=str, keep_default_na=False,
                                 na_values=[""], chunksize=100_000):
            chunk.columns = [c.strip().lower() for c in chunk.columns]
            chunk.to_sql(table, engine, if_exists="append", index=False, method="multi",
                         chunksize=1_000)
            rows += len(chunk)
    print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows}))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
