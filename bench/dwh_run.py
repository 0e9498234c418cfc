"""Measuring dwh itself: `dwh deploy` as a user runs it (a separate process, whose
peak memory is read from the kernel), its layer times from the run history."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

from bench.data import ROOT


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWH_")}
    env["DWH_PROJECT_DIR"] = str(ROOT)
    return env


def dwh(url: str, *args: str) -> dict:
    """Run one dwh command; wall seconds, peak RSS (MiB), output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "dwh", "--database-url", url, *args],
                                stdout=out, stderr=err, env=_env(), cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024,
                  "stdout": out.read().decode(), "stderr": err.read().decode()}
    if proc.returncode != 0:
        raise RuntimeError(f"dwh {' '.join(args)} failed ({proc.returncode}):\n{result['stderr']}")
    return result


LAYER_TIMES = """
    SELECT s.layer, s.kind, min(s.started_at), max(s.finished_at),
           sum(s.rows) FILTER (WHERE s.kind IN ('load', 'build') AND s.target LIKE s.layer || '.%%'
                                 AND s.target <> 'bronze.load_jobs')
      FROM setup.etl_run_steps s
     WHERE s.run_id = (SELECT max(run_id) FROM setup.etl_runs)
     GROUP BY s.layer, s.kind
"""


def layer_times(dsn: dict) -> dict:
    """Seconds per layer (its loads/builds), checks, publish and the whole run."""
    conn = psycopg2.connect(**dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(LAYER_TIMES)
            rows = cur.fetchall()
            cur.execute("SELECT extract(epoch FROM finished_at - started_at), status "
                        "FROM setup.etl_runs ORDER BY run_id DESC LIMIT 1")
            run_seconds, status = cur.fetchone()
    finally:
        conn.close()
    out: dict = {"run": float(run_seconds), "status": status}
    spans: dict = {}
    for layer, kind, start, end, rows in rows:
        key = {"check": "checks", "publish": "publish"}.get(kind, layer)
        lo, hi, n = spans.get(key, (start, end, 0))
        spans[key] = (min(lo, start), max(hi, end), n + (rows or 0))
    for key, (start, end, rows) in spans.items():
        out[key] = (end - start).total_seconds()
        if key in ("bronze", "silver", "gold"):
            out[f"{key}_rows"] = int(rows)
    return out
