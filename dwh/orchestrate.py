"""Running the pipeline: the layer procedures, under one run id, with progress.

``CALL setup.orchestrate_all()`` does the whole job inside the database; this
module adds what a client can: loading bronze from the client's files (for a
server that cannot read them, see ``ingest``), running the steps of
``setup.run_plan`` several at once, each as soon as what it reads is built, and
live progress read from the committed run history (psycopg2 hands NOTICEs over
only after a CALL returns).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg2
from sqlalchemy.engine import URL

from dwh import db, ingest, migrate, runs, sample
from dwh.errors import ConfigError, DwhError, NotDeployed, RunFailed
from dwh.settings import Settings, cores, render_url, resolve_url

log = logging.getLogger(__name__)

LAYERS = ("bronze", "silver", "gold", "all")
POLL_SECONDS = 0.2
#: a check's work against a build's, for the same tables: a check reads them once, a
#: build reads, transforms, writes and indexes them (scale 100: checks 0.2-3 s, the
#: builds of the same tables 2-12 s)
CHECK_SHARE = 0.1
SAMPLE_SCALE, SAMPLE_SEED = 1, 0
#: hosts that are this machine (a URL without a host, or a socket directory, is too)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Options:
    layer: str = "all"
    #: load bronze from this client directory (DIR/source_crm/..., DIR/source_erp/...);
    #: None: the server reads the paths in setup.etl_config
    source_dir: Path | None = None
    jobs: int = 1
    #: accept loads that lose more rows than their job's guard allows (max_shrink)
    allow_shrink: bool = False

    def validate(self) -> None:
        if self.layer not in LAYERS:
            raise ConfigError(f"unknown layer {self.layer!r}: expected one of {', '.join(LAYERS)}")
        if self.jobs < 1:
            raise ConfigError(f"--jobs must be 1 or more, not {self.jobs}")
        if self.source_dir is not None and not self.source_dir.is_dir():
            raise ConfigError(f"source directory {self.source_dir} does not exist "
                              f"(expected DIR/source_crm/... and DIR/source_erp/...)")


def sample_dir(home: Path) -> Path:
    """The generated scale-1 sample used when the embedded default has no sources."""
    return home / "samples" / f"scale-{SAMPLE_SCALE}-seed-{SAMPLE_SEED}"


def ensure_sample(home: Path) -> Path:
    target = sample_dir(home)
    if (target / "source_erp" / "PX_CAT_G1V2.csv").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".sample-", dir=target.parent))
    sample.generate(work, scale=SAMPLE_SCALE, seed=SAMPLE_SEED)
    try:
        work.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(work, ignore_errors=True)
    log.info("no source directory given: using a generated sample in %s", target)
    return target


def resolve_options(settings: Settings, options: Options) -> Options:
    """With no source directory on the embedded default, bronze comes from a sample."""
    if options.source_dir is None and settings.uses_embedded and options.layer in ("bronze", "all"):
        return replace(options, source_dir=ensure_sample(settings.home))
    return options


class _Progress(threading.Thread):
    """Reports each step as it finishes, from the committed run history."""

    def __init__(self, url: URL, run_id: int, on_step: Callable[[runs.Step], None]):
        super().__init__(name="dwh-progress", daemon=True)
        self.url, self.run_id, self.on_step = url, run_id, on_step
        self.reported: set[int] = set()
        self.done = threading.Event()

    def run(self) -> None:
        conn = None
        try:
            conn = db.raw_connect(self.url, application_name="dwh progress")
            while True:
                stopping = self.done.wait(POLL_SECONDS)
                self._report(conn)
                if stopping:
                    return
        except (psycopg2.Error, DwhError) as err:  # best effort; the run reports itself
            log.debug("progress polling stopped: %s", err)
        finally:
            if conn is not None:
                conn.close()

    def _report(self, conn) -> None:
        # Parallel loads finish in any order: report every finished step once.
        for step in runs.steps(conn, self.run_id, finished_only=True):
            if step.step_id not in self.reported:
                self.reported.add(step.step_id)
                self.on_step(step)

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=10)


def _call(conn, statement: str, *args) -> None:
    with conn.cursor() as cur:
        # No arguments: no parameters either, so a % in the statement (a check named
        # "20%_rule") stays a %.
        cur.execute(statement, args or None)


def _fail(conn, run_id: int, step_id: int | None, message: str) -> RunFailed:
    """Record the failure (setup.fail_run raises by design) and build the error."""
    try:
        _call(conn, "CALL setup.fail_run(%s, %s, %s)", run_id, step_id, message)
    except psycopg2.Error as err:
        return RunFailed(err.diag.message_primary or message, run_id)
    return RunFailed(message, run_id)


def _failed(url: URL, conn, run_id: int, err: BaseException) -> RunFailed:
    """The error a run ends with, recorded in its history (on a new session when its own
    is gone).  A failure the procedures recorded themselves is only passed on."""
    if isinstance(err, RunFailed):
        return err
    step_id = getattr(err, "step_id", None)
    if isinstance(err, psycopg2.Error) and not db.session_gone(err) and err.diag.message_primary:
        if err.diag.message_primary.startswith(f"dwh run {run_id} failed"):
            # setup.fail_run's own, with what it says but does not record
            detail = f" ({err.diag.message_detail})" if err.diag.message_detail else ""
            return RunFailed(err.diag.message_primary + detail, run_id)
        message = err.diag.message_primary
    elif isinstance(err, psycopg2.Error):
        message = (f"run {run_id} lost the session that holds the warehouse lock "
                   f"({db.error_line(err)}): it was terminated, or the server stopped or "
                   f"restarted; the run stops, nothing was published")
    elif isinstance(err, DwhError):
        message = str(err)
    else:
        message = f"unexpected {type(err).__name__}: {err}"
    if not conn.closed:
        try:
            return _fail(conn, run_id, step_id, message)
        except psycopg2.Error:
            pass
    try:
        fresh = db.raw_connect(url, application_name="dwh orchestrate")
    except DwhError:
        return RunFailed(f"{message}; the server cannot be reached to record it, so the next "
                         f"run records run {run_id} as abandoned", run_id)
    try:
        return _fail(fresh, run_id, step_id, message)
    finally:
        fresh.close()


def orchestrate(settings: Settings, options: Options,
                on_step: Callable[[runs.Step], None] | None = None) -> runs.Run:
    """Run ``options.layer`` (default all) and return the finished run.

    Raises RunFailed naming the failing step; the warehouse is then as the last
    successful run left it.
    """
    options.validate()
    options = resolve_options(settings, options)
    url = resolve_url(settings)
    conn = db.raw_connect(url, application_name="dwh orchestrate")
    progress = None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regprocedure('setup.orchestrate_all(bigint)') IS NOT NULL")
            if not cur.fetchone()[0]:
                raise NotDeployed(f"the warehouse in {render_url(url)} is not deployed (no "
                                  f"setup.orchestrate_all): run dwh upgrade, or dwh deploy")
        # The lock migrations take too: a run never sees a half-migrated schema.
        db.take_lock(conn, settings.lock_timeout_s)
        with conn.cursor() as cur:
            client = options.source_dir is not None and options.layer in ("bronze", "all")
            cur.execute("SELECT to_regprocedure('setup.begin_run(text, text, boolean)') IS NOT NULL")
            if cur.fetchone()[0]:  # from revision 0034
                cur.execute("SELECT setup.begin_run(%s, %s, %s)",
                            (options.layer, "client" if client else "server", options.allow_shrink))
            else:
                cur.execute("SELECT setup.begin_run(%s, %s)",
                            (options.layer, "client" if client else "server"))
            run_id = cur.fetchone()[0]
        log.info("run %s: %s layer%s, bronze from %s", run_id, options.layer,
                 "s" if options.layer == "all" else "",
                 options.source_dir if client else "the paths in setup.etl_config")
        if on_step is not None:
            progress = _Progress(url, run_id, on_step)
            progress.start()
        try:
            _run_layers(conn, url, run_id, options)
        except Exception as err:  # noqa: BLE001 - whatever it was, the run is recorded
            raise _failed(url, conn, run_id, err) from err
        finally:
            if progress is not None:
                progress.stop()
        return runs.get(conn, run_id)
    finally:
        conn.close()  # also releases the warehouse lock


def _run_layers(conn, url: URL, run_id: int, options: Options) -> None:
    """Load, build, check and publish the run's layers: the client's loads, then
    setup.run_plan, each step (through the same step functions as the procedures) as
    soon as what it reads is done, ``options.jobs`` at a time on connections of their
    own; then the checks decide and everything is published at once."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regprocedure('setup.run_plan(bigint, text[])') IS NOT NULL")
        planned = cur.fetchone()[0]
    client = options.source_dir is not None and options.layer in ("bronze", "all")
    loads = _client_loads(conn, url, run_id, options) if client else []
    if options.layer == "bronze" or not planned:  # (a warehouse from before 0018)
        _run_graph(conn, run_id, loads, options.jobs)
        _call(conn, f"CALL setup.orchestrate_{options.layer}(%s)", run_id)
        return
    layers = ["bronze", "silver", "gold"] if options.layer == "all" else [options.layer]
    tasks = list(loads)
    session = None
    workers = step_parallel_workers(url, options.jobs)
    if workers is not None:  # never above the server's own setting (this session's)
        with conn.cursor() as cur:
            cur.execute("SELECT least(pg_catalog.current_setting("
                        "'max_parallel_workers_per_gather')::integer, %s)", (workers,))
            workers = cur.fetchone()[0]
        session = {"max_parallel_workers_per_gather": str(workers)}
        log.info("%s step%s at once on %s cores: each may use %s parallel worker%s",
                 options.jobs, "s" if options.jobs > 1 else "", cores(), workers,
                 "" if workers == 1 else "s")
    # What each table weighs, to start the longest chains of work first (db.run_graph):
    # bytes of source data behind it.  Bronze: its file (a client load), else its size
    # from the last run; a build weighs what it reads.
    weight = {name: task.cost for task in loads for name in task.provides}
    if not client:
        with conn.cursor() as cur:
            cur.execute("SELECT 'bronze.' || c.relname, pg_catalog.pg_relation_size(c.oid) "
                        "FROM pg_catalog.pg_class c "
                        "WHERE c.relnamespace = 'bronze'::regnamespace AND c.relkind = 'r'")
            weight.update(cur.fetchall())

    def reads(needs) -> float:
        return float(sum(w for name, w in weight.items() if any(db.covers(name, n) for n in needs)))
    if "bronze" in layers:
        # the server's own loads, or (client) the check that every load is in; staged
        tasks.append(db.Task("bronze", _on_own_connection(
            url, "CALL setup.orchestrate_bronze(%s)", run_id, what=(run_id, "load", None),
            session=session),
            provides=frozenset() if client else frozenset({"bronze"}),
            needs=frozenset({"bronze"}) if client else frozenset()))
    with conn.cursor() as cur:
        cur.execute("SELECT p.layer, p.kind, p.target, p.statement, p.needs "
                    "FROM setup.run_plan(%s, %s) WITH ORDINALITY AS p(layer, kind, target, "
                    "statement, needs, n) ORDER BY p.n", (run_id, layers))
        plan = cur.fetchall()
    for layer, kind, target, statement, needs in plan:
        if kind == "build":
            call = _on_own_connection(url, "CALL setup.run_step(%s, %s, 'build', %s, %s)",
                                      run_id, layer, target, statement,
                                      what=(run_id, "build", target), session=session)
            weight[target] = cost = reads(needs)
        else:
            call = _on_own_connection(url, statement, what=(run_id, "check", target),
                                      session=session)
            cost = reads(needs) * CHECK_SHARE
        tasks.append(db.Task(f"{layer} {kind} {target}", call,
                             provides=frozenset({target}) if kind == "build" else frozenset(),
                             needs=frozenset(needs), cost=max(cost, 1.0)))
    _run_graph(conn, run_id, tasks, options.jobs)
    _call(conn, "CALL setup.conclude_checks(%s)", run_id)
    _call(conn, "CALL setup.publish(%s, %s)", run_id, layers)


def step_parallel_workers(url: URL, jobs: int) -> int | None:
    """The parallel workers a step's query may use (its session's
    max_parallel_workers_per_gather; the caller keeps it under the server's own) when
    the server runs on this machine: the cores the ``jobs`` steps at once leave each
    step, less the step's own process.  A worker beyond the cores only takes CPU from
    another step: at scale 100 on 2 cores, --jobs 2, a run took 0.8 s (3.5%) less
    without them, in each of six alternated pairs.  None (the server's setting) for a
    server elsewhere, whose cores dwh cannot count."""
    if not is_local_server(url):
        return None
    return max(0, cores() // max(1, jobs) - 1)


def is_local_server(url: URL) -> bool:
    """Whether libpq reaches the server of ``url`` on this machine: every host it may try
    is a socket directory or a loopback name, and no hostaddr or service says otherwise
    (with no host in the URL, libpq takes PGHOST, PGHOSTADDR or PGSERVICE, if set)."""
    def values(name: str) -> list[str]:
        value = url.query.get(name)
        return [v for v in (value if isinstance(value, tuple) else [value]) if v]
    if values("hostaddr") or values("service"):
        return False
    hosts = ([url.host] if url.host else []) + values("host")
    if not hosts:
        if os.environ.get("PGHOSTADDR") or os.environ.get("PGSERVICE"):
            return False
        hosts = [os.environ.get("PGHOST", "")]
    return all(h == "" or h.startswith("/") or h in LOCAL_HOSTS
               for host in hosts for h in host.split(","))


def _on_own_connection(url: URL, statement: str, *args, what: tuple[int, str | None, str | None] | None = None,
                       session: dict[str, str] | None = None) -> Callable[[], None]:
    """A task running ``statement`` on a connection of its own.  ``what`` (run, kind,
    target) names the step it records, for when its session is lost mid-way."""
    def call() -> None:
        step_conn = db.raw_connect(url, application_name="dwh step", session=session)
        try:
            _call(step_conn, statement, *args)
        except psycopg2.Error as err:
            if what is None or not (db.session_gone(err) or step_conn.closed):
                raise
            run_id, kind, target = what
            named = " ".join(w for w in (kind, target) if w) or "a step"
            raise StepLost(f"{named} lost its connection to the server "
                           f"({db.error_line(err)}): it was terminated, or the server stopped "
                           f"or restarted; the run stops, nothing was published",
                           run_id, kind, target) from err
        finally:
            step_conn.close()
    return call


class StepLost(DwhError):
    """A step's session ended before the step did."""

    def __init__(self, message: str, run_id: int, kind: str | None, target: str | None):
        super().__init__(message)
        self.run_id, self.kind, self.target = run_id, kind, target


def _run_graph(conn, run_id: int, tasks: list[db.Task], jobs: int) -> None:
    try:
        db.run_graph(tasks, jobs, failures=(psycopg2.Error, DwhError))
    except ingest.LoadError as err:  # recorded as its step; the run fails with it
        raise _fail(conn, run_id, err.step_id, str(err)) from err
    except StepLost as err:  # its step is still recorded as running: it fails now
        with conn.cursor() as cur:
            cur.execute("SELECT max(step_id) FROM setup.etl_run_steps WHERE run_id = %s "
                        "AND status = 'running' AND (kind = %s OR %s IS NULL) "
                        "AND (target = %s OR %s IS NULL)",
                        (run_id, err.kind, err.kind, err.target, err.target))
            step = cur.fetchone()[0]
        raise _fail(conn, run_id, step, str(err)) from err


def _client_loads(conn, url: URL, run_id: int, options: Options) -> list[db.Task]:
    """The client's loads as tasks, largest file first (it is the longest to load), all
    started before any build: the files are read as close together in time as the jobs
    allow (the sources as one snapshot, and bronze done early); a missing file fails the
    run before any load starts."""
    assert options.source_dir is not None
    _call(conn, "CALL setup.run_step(%s, 'bronze', 'build', 'bronze.load_jobs', "
                "'SELECT setup.prepare_bronze()')", run_id)
    planned = []
    for job in ingest.jobs(conn):
        try:
            planned.append((job, ingest.locate(options.source_dir, job)))
        except ingest.LoadError as err:
            expected = options.source_dir / f"source_{job.source}" / job.file_name
            step = ingest.record_failure(conn, run_id, job, expected, str(err))
            raise _fail(conn, run_id, step, str(err)) from err
    sized = sorted(((job, path, path.stat().st_size) for job, path in planned),
                   key=lambda item: -item[2])
    return [db.Task(f"bronze load {job.table_name}",
                    lambda job=job, path=path: ingest.load_one(url, run_id, job, path),
                    provides=frozenset({f"bronze.{job.table_name}"}), after_failure=True,
                    cost=float(max(size, 1)), priority=1)
            for job, path, size in sized]


@dataclass(frozen=True)
class Deployment:
    database_created: bool
    migration: migrate.Change
    run: runs.Run


def deploy(settings: Settings, options: Options,
           on_step: Callable[[runs.Step], None] | None = None) -> Deployment:
    """What a CI/CD job runs: create the database if missing, upgrade to head, run."""
    options.validate()
    _, created = db.create_warehouse(settings)
    change = migrate.upgrade(settings, "head")
    return Deployment(created, change, orchestrate(settings, options, on_step))
