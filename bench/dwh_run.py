"""Measuring dwh itself: `dwh deploy` as a user runs it (a separate process, whose
peak memory is read from the kernel), its layer times from the run history."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from sqlalchemy.engine import URL

from bench.data import ROOT
from dwh import db, runs


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


def layer_times(url: URL) -> dict:
    """Seconds per layer (its loads/builds), checks, publish and the whole run, read
    from the run history the way `dwh runs` reads it."""
    conn = db.raw_connect(url)
    try:
        run = runs.recent(conn, 1)[0]
    finally:
        conn.close()
    out: dict = {"run": run.seconds, "status": run.status,
                 "checks": run.kind_seconds("check"), "publish": run.kind_seconds("publish")}
    for layer in runs.LAYERS:
        out[layer] = run.layer_seconds(layer)
        out[f"{layer}_rows"] = run.rows(layer)
    return out
