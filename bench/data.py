"""Source data for the benchmark: dwh sample output, cached, and the reference extracts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
FILES = {
    "crm_cust_info": ("source_crm", "cust_info.csv"),
    "crm_prd_info": ("source_crm", "prd_info.csv"),
    "crm_sales_details": ("source_crm", "sales_details.csv"),
    "erp_cust_az12": ("source_erp", "CUST_AZ12.csv"),
    "erp_loc_a101": ("source_erp", "LOC_A101.csv"),
    "erp_px_cat_g1v2": ("source_erp", "PX_CAT_G1V2.csv"),
}


def reference_dir() -> Path | None:
    for candidate in (os.environ.get("DWH_RETAIL_DATA"), ROOT.parent / "shared/datasets/retail"):
        if candidate and (Path(candidate) / "source_crm").is_dir():
            return Path(candidate)
    return None


def sample_dir(scale: int, seed: int = 0) -> Path:
    """`dwh sample` output at ``scale``, generated once and cached."""
    target = CACHE / f"sample-scale-{scale}-seed-{seed}"
    if (target / ".complete").exists():
        return target
    work = CACHE / f".tmp-scale-{scale}-seed-{seed}"
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "dwh", "sample", "--out", str(work),
                    "--scale", str(scale), "--seed", str(seed)], check=True,
                   stdout=subprocess.DEVNULL)
    (work / ".complete").write_text("ok\n")
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    return target


def source_file(source_dir: Path, table: str) -> Path:
    """The file of a table, its name matched without regard to case (as dwh does)."""
    folder, name = FILES[table]
    return next(p for p in (source_dir / folder).iterdir() if p.name.lower() == name.lower())


def rows_of(source_dir: Path) -> dict[str, int]:
    """Data lines per table (lines minus the header), counted from the files."""
    counts = {}
    for table in FILES:
        path = source_file(source_dir, table)
        with path.open("rb") as fh:
            data_lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 1))
            unterminated = fh.read(1) not in (b"\n", b"")
        counts[table] = data_lines + (1 if unterminated else 0) - 1
    return counts
