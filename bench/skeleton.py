"""The durable skeleton of a run: the writes and reads of dwh's plan, without the
computing between them.

In the database a `dwh deploy` has just filled, on the same files and the same number of
connections as dwh (its scheduler, `dwh.db.run_graph`, on the steps of the warehouse's
own `setup.run_plan`):
- each bronze file is COPYed into an ordinary (WAL-logged) table of text columns, created
  and loaded with COPY FREEZE in one transaction, as dwh loads bronze;
- each build step reads every table it needs, fresh from this skeleton (`count(*)`), and
  writes a copy of what the real step wrote (CREATE TABLE AS of the published table:
  the same rows, columns and size), with no index, constraint or ANALYZE;
- the quality checks read the tables they name, each table once.
What a run adds to this is what it computes: parsing, lookups, joins, deduplication,
keys, indexes and the checks' predicates.  So the skeleton estimates the least a run of
this plan (these tables, this schedule) can take on this server, whatever its SQL.  The
estimate is a little high, as each copy also reads the published table it copies, and
a little low, as it leaves out the run's bookkeeping and publish.
"""

from __future__ import annotations

import time
from pathlib import Path

from psycopg2 import sql
from sqlalchemy.engine import URL

from bench import floor
from bench.data import FILES, source_file
from dwh import db
from dwh.orchestrate import CHECK_SHARE

#: where the skeleton writes: one schema per layer, dropped afterwards
SCHEMAS = {"bronze": "skeleton_bronze", "silver": "skeleton_silver", "gold": "skeleton_gold"}


def _table(name: str) -> sql.Composable:
    layer, table = name.split(".", 1)
    return sql.Identifier(SCHEMAS[layer], table)


def _execute(url: URL, *statements: sql.Composable) -> None:
    conn = db.raw_connect(url, application_name="dwh bench skeleton")
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def _load(url: URL, table: str, path: Path) -> None:
    """As dwh loads bronze: created and COPY FREEZE-d in one transaction."""
    conn = db.raw_connect(url, autocommit=False, application_name="dwh bench skeleton")
    try:
        with conn.cursor() as cur:
            floor.copy_file(cur, _table(f"bronze.{table}"), path, unlogged=False, freeze=True)
        conn.commit()
    finally:
        conn.close()


def _reads(needs: list[str]) -> list[sql.Composable]:
    """count(*) of each table a step needs (a stage, 'silver_stage', is no table)."""
    return [sql.SQL("SELECT count(*) FROM {}").format(_table(n))
            for n in needs if n.split(".", 1)[0] in SCHEMAS and "." in n]


def run(url: URL, source_dir: Path, jobs: int) -> dict:
    """Time the skeleton in the database at ``url`` (filled by a run of every layer)."""
    conn = db.raw_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT max(run_id) FROM setup.etl_runs")
            cur.execute("SELECT kind, target, needs FROM setup.run_plan(%s, %s)",
                        (cur.fetchone()[0], ["bronze", "silver", "gold"]))
            plan = cur.fetchall()
    finally:
        conn.close()
    # what each table weighs, as dwh weighs it: the bytes of source data behind it
    weight = {f"bronze.{t}": float(source_file(source_dir, t).stat().st_size) for t in FILES}
    tasks = [db.Task(f"load {name}", lambda t=name.split(".")[1]: _load(
                         url, t, source_file(source_dir, t)),
                     provides=frozenset({name}), cost=w, priority=1)
             for name, w in sorted(weight.items(), key=lambda item: -item[1])]
    checked: set[str] = set()
    for kind, target, needs in plan:
        if kind == "build" and "." in target:
            weight[target] = cost = sum(w for name, w in weight.items()
                                        if any(db.covers(name, n) for n in needs))
            statements = _reads(needs) + [sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(
                _table(target), sql.Identifier(*target.split(".", 1)))]
            tasks.append(db.Task(f"build {target}", lambda s=statements: _execute(url, *s),
                                 provides=frozenset({target}), needs=frozenset(needs),
                                 cost=max(cost, 1.0)))
        elif kind == "check":
            checked.update(needs)
    # the checks: every table they name, read once (the least any set of checks reads)
    for name in sorted(checked):
        tasks.append(db.Task(f"check {name}", lambda s=_reads([name]): _execute(url, *s),
                             needs=frozenset({name}),
                             cost=max(weight.get(name, 1.0) * CHECK_SHARE, 1.0)))
    try:
        for schema in SCHEMAS.values():
            _execute(url, sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}")
                     .format(sql.Identifier(schema)))
        start = time.perf_counter()
        db.run_graph(tasks, jobs)
        seconds = time.perf_counter() - start
    finally:
        for schema in SCHEMAS.values():
            _execute(url, sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    return {"seconds": seconds}
