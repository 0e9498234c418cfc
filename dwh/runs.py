"""Run history: reading setup.etl_runs and setup.etl_run_steps."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from dwh import db
from dwh.errors import DwhError
from dwh.settings import Settings

LAYERS = ("bronze", "silver", "gold")

_STEP_COLUMNS = ("step_id, layer, kind, target, status, rows, started_at, finished_at, message")
# A run still marked running whose session is gone was abandoned (a killed
# client, a restarted server); it is shown so without writing anything.
_RUN_QUERY = """
    SELECT r.run_id,
           CASE WHEN r.status = 'running' AND NOT EXISTS (
                    SELECT 1 FROM pg_catalog.pg_stat_activity a
                     WHERE a.pid = r.backend_pid
                       AND (a.backend_start IS NULL OR a.backend_start <= r.started_at))
                THEN 'abandoned' ELSE r.status END,
           r.layers, r.bronze_source, r.started_at, r.finished_at, r.failed_step, r.message
      FROM setup.etl_runs r
"""


@dataclass(frozen=True)
class Step:
    step_id: int
    layer: str
    kind: str
    target: str
    status: str
    rows: int | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    message: str | None

    @property
    def seconds(self) -> float | None:
        return _seconds(self.started_at, self.finished_at)


def _seconds(start: dt.datetime, end: dt.datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


@dataclass(frozen=True)
class Run:
    run_id: int
    status: str
    layers: str
    bronze_source: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    failed_step: str | None
    message: str | None
    steps: list[Step] = field(default_factory=list)

    @property
    def seconds(self) -> float | None:
        return _seconds(self.started_at, self.finished_at)

    def table_steps(self, layer: str) -> list[Step]:
        """The steps that loaded (bronze) or built (silver, gold) one of a layer's tables."""
        kind = "load" if layer == "bronze" else "build"
        return [s for s in self.steps if s.layer == layer and s.kind == kind
                and s.target.startswith(layer + ".") and s.target != "bronze.load_jobs"]

    def rows(self, layer: str) -> int:
        """Rows written into a layer's tables by this run."""
        return sum(s.rows or 0 for s in self.table_steps(layer)
                   if s.status in ("succeeded", "warning"))  # (a load of an old file warns)

    def span(self, steps: list[Step]) -> float:
        """Wall-clock seconds from the first of ``steps`` starting to the last ending
        (steps may run at once: their durations do not add up)."""
        ended = [s for s in steps if s.finished_at is not None]
        if not ended:
            return 0.0
        return (max(s.finished_at for s in ended) - min(s.started_at for s in ended)).total_seconds()

    def layer_seconds(self, layer: str) -> float:
        """Wall-clock seconds of a layer's loads or builds, preparation included."""
        return self.span([s for s in self.steps if s.layer == layer and s.kind in ("load", "build")])

    def kind_seconds(self, kind: str) -> float:
        """Wall-clock seconds of the run's checks (``check``) or its publish."""
        return self.span([s for s in self.steps if s.kind == kind])

    def as_dict(self) -> dict:
        data = asdict(self)
        data["seconds"] = self.seconds
        for item in [data, *data["steps"]]:
            for key in ("started_at", "finished_at"):
                if item[key] is not None:
                    item[key] = item[key].isoformat()
        for step, obj in zip(data["steps"], self.steps):
            step["seconds"] = obj.seconds
        return data


def steps(conn, run_id: int, *, finished_only: bool = False) -> list[Step]:
    query = (f"SELECT {_STEP_COLUMNS} FROM setup.etl_run_steps WHERE run_id = %s"
             + (" AND finished_at IS NOT NULL" if finished_only else "") + " ORDER BY step_id")
    with conn.cursor() as cur:
        cur.execute(query, (run_id,))
        return [Step(*row) for row in cur.fetchall()]


def get(conn, run_id: int) -> Run:
    with conn.cursor() as cur:
        cur.execute(_RUN_QUERY + " WHERE r.run_id = %s", (run_id,))
        row = cur.fetchone()
    if row is None:
        raise DwhError(f"there is no run {run_id} in setup.etl_runs; dwh runs lists the recent ones")
    return Run(*row, steps=steps(conn, run_id))


def recent(conn, last: int) -> list[Run]:
    with conn.cursor() as cur:
        cur.execute(_RUN_QUERY + " ORDER BY r.run_id DESC LIMIT %s", (last,))
        rows = cur.fetchall()
        # every step of those runs in one round trip
        cur.execute(f"SELECT run_id, {_STEP_COLUMNS} FROM setup.etl_run_steps "
                    "WHERE run_id = ANY (%s) ORDER BY step_id", ([row[0] for row in rows],))
        by_run: dict[int, list[Step]] = {}
        for run_id, *step in cur.fetchall():
            by_run.setdefault(run_id, []).append(Step(*step))
    return [Run(*row, steps=by_run.get(row[0], [])) for row in rows]


def list_runs(settings: Settings, last: int = 10) -> list[Run]:
    """The ``last`` most recent runs, newest first."""
    if last < 1:
        raise DwhError(f"--last must be 1 or more, not {last}")
    conn = db.connect_warehouse(settings)
    try:
        return recent(conn, last)
    finally:
        conn.close()


def show(settings: Settings, run_id: int) -> Run:
    """One run with every step."""
    conn = db.connect_warehouse(settings)
    try:
        return get(conn, run_id)
    finally:
        conn.close()

