"""What users pick instead: `dbt seed` (dbt-postgres) and pandas `to_sql`, on the same
files, each in a fresh database, from the benchmark's own virtual environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy.engine import URL

from bench.data import CACHE, FILES, ROOT

VENV = ROOT / "bench" / ".venv"
REQUIREMENTS = ROOT / "bench" / "requirements-peers.txt"


def python() -> Path:
    """bench/.venv's Python, created (and the peers installed) on first use."""
    exe = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    if not stamp.exists() or stamp.read_text() != REQUIREMENTS.read_text():
        print(f"installing the peers into {VENV} (once)...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        out = subprocess.run([str(exe), "-m", "pip", "install", "--quiet",
                              "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"installing the peers failed:\n{out.stderr[-3000:]}")
        stamp.write_text(REQUIREMENTS.read_text())
    return exe


def pandas_to_sql(url: URL, source_dir: Path, timeout_s: float) -> dict:
    try:
        out = subprocess.run(
            [str(python()), str(ROOT / "bench" / "peer_pandas.py"),
             url.render_as_string(hide_password=False), str(source_dir)],
            capture_output=True, text=True, timeout=timeout_s, check=True)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "timeout_s": timeout_s}
    return json.loads(out.stdout.strip().splitlines()[-1])


def dbt_seed(url: URL, source_dir: Path, timeout_s: float, threads: int) -> dict:
    project = CACHE / "dbt" / url.database
    shutil.rmtree(project, ignore_errors=True)
    (project / "seeds").mkdir(parents=True)
    for _, (folder, name) in FILES.items():
        (project / "seeds" / name).symlink_to(source_dir / folder / name)
    (project / "dbt_project.yml").write_text(
        "name: dwh_bench\nversion: '1.0'\nconfig-version: 2\nprofile: dwh_bench\n"
        "seed-paths: [seeds]\n")
    host = url.query.get("host") or url.host or "localhost"
    profile = {"type": "postgres", "host": host, "port": url.port or 5432,
               "user": url.username or os.environ.get("PGUSER", "postgres"),
               "password": url.password or os.environ.get("PGPASSWORD", ""),
               "dbname": url.database, "schema": "public", "threads": threads}
    (project / "profiles.yml").write_text(
        "dwh_bench:\n  target: bench\n  outputs:\n    bench:\n"
        + "".join(f"      {k}: {json.dumps(v)}\n" for k, v in profile.items()))
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    start = time.perf_counter()
    try:
        subprocess.run([str(VENV / "bin" / "dbt"), "seed", "--project-dir", str(project),
                        "--profiles-dir", str(project)], capture_output=True, text=True,
                       timeout=timeout_s, check=True, env=env, cwd=project)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "timeout_s": timeout_s}
    except subprocess.CalledProcessError as err:
        raise RuntimeError(f"dbt seed failed:\n{err.stdout[-3000:]}\n{err.stderr[-2000:]}") from err
    finally:
        shutil.rmtree(project, ignore_errors=True)
    return {"seconds": time.perf_counter() - start}
