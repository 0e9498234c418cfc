"""Every CLI command: exit code and the line a user reads, error paths included."""

from __future__ import annotations

import subprocess
import sys

import psycopg2
import pytest
from typer.testing import CliRunner

from dwh import __version__
from dwh.cli import app
from tests.conftest import ROOT, _connect_kwargs, url_string

runner = CliRunner()
SECRET = "pa55-w0rd-never-shown"


def run(env: dict, *args: str):
    base = {"DWH_DATABASE_URL": None, "DWH_HOME": None, "DWH_PROJECT_DIR": str(ROOT)}
    return runner.invoke(app, list(args), env={**base, **env})


def env_for(url) -> dict:
    return {"DWH_DATABASE_URL": url_string(url)}


def with_password(url):
    return url.set(password=SECRET)


def test_version():
    result = run({}, "--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"dwh {__version__}"


def test_no_arguments_shows_help():
    result = run({})
    assert result.exit_code == 2
    assert "Commands" in result.output and "upgrade" in result.output


def test_the_cli_imports_what_a_command_needs_when_it_runs():
    # Start-up time is part of every command (and of the "dwh upgrade under 2 s"
    # target): loading the CLI imports neither Alembic nor the embedded server's
    # helpers nor the orchestrator; each command imports its own modules when it
    # runs.  A fresh interpreter, so nothing is loaded yet.
    code = ("import sys, dwh.cli; "
            "print(sorted(m for m in ('alembic', 'dwh.embedded', 'dwh.orchestrate', "
            "'dwh.migrate', 'psutil') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_usage_error_exits_2():
    result = run({}, "upgrade", "--no-such-option")
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_upgrade_current_downgrade_history(empty_db):
    env = env_for(empty_db)
    result = run(env, "current")
    assert result.exit_code == 0, result.output
    assert "revision: base (head is" in result.stdout

    result = run(env, "upgrade")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("upgraded from base to ")
    head = result.stdout.strip().rsplit(" ", 1)[-1]
    assert "Running upgrade  -> 0001" in result.stderr

    result = run(env, "upgrade")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"already at {head}; nothing to upgrade"

    result = run(env, "current")
    if empty_db.host:
        where = f"postgresql://{empty_db.username}@{empty_db.host}:{empty_db.port}/{empty_db.database}"
    else:  # the embedded server: a Unix socket
        where = f"postgresql://{empty_db.username}@/{empty_db.database}?host={empty_db.query['host']}"
    assert result.stdout.splitlines() == [f"database: {where}", f"revision: {head} (head)"]

    result = run(env, "downgrade", "-1")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"downgraded from {head} to ")

    result = run(env, "downgrade", "base")  # seed rows would go: refused without --yes
    assert result.exit_code == 1 and "setup.etl_config (" in result.stderr
    result = run(env, "downgrade", "base", "--yes")
    assert result.exit_code == 0
    assert result.stdout.strip().endswith("to base")

    result = run(env, "history")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("base -> 0001")
    assert lines[-1].split()[2] == head


def test_upgrade_sql_prints_the_script_without_a_database():
    result = run({"DWH_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "upgrade", "--sql")
    assert result.exit_code == 0, result.output
    assert "CREATE SCHEMA bronze;" in result.stdout


def test_downgrade_to_an_unknown_revision(head_db):
    result = run(env_for(head_db), "downgrade", "nope")
    assert result.exit_code == 1
    assert result.stderr.startswith("dwh: error: downgrade to nope:")
    assert "nope" in result.stderr and "Traceback" not in result.stderr


def test_database_at_unknown_revision(head_db):
    conn = psycopg2.connect(**_connect_kwargs(head_db))
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE setup.alembic_version SET version_num = 'f00dcafe'")
    conn.close()
    for command in (["current"], ["upgrade"]):
        result = run(env_for(head_db), *command)
        assert result.exit_code == 1
        assert "the database is at revision f00dcafe, which this project" in result.stderr
        assert "does not know" in result.stderr


def test_missing_database_names_the_command_that_creates_it(databases):
    url = databases.name_only("missing")
    result = run(env_for(url), "current")
    assert result.exit_code == 1
    server = (f"postgresql://{url.username}@{url.host}:{url.port}" if url.host
              else f"postgresql://{url.username}@?host={url.query['host']}")
    assert result.stderr.strip() == (
        f"dwh: error: database '{url.database}' does not exist on {server}; "
        "create it with: dwh db create"
    )
    result = run(env_for(url), "db", "create")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"created database {url.database} on ")
    result = run(env_for(url), "db", "create")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"database {url.database} already exists on ")
    assert run(env_for(url), "current").exit_code == 0


def test_unreachable_server():
    result = run({"DWH_DATABASE_URL": f"postgresql://u:{SECRET}@127.0.0.1:1/x"}, "current")
    assert result.exit_code == 1
    assert result.stderr.startswith("dwh: error: cannot connect to postgresql://u:***@127.0.0.1:1/x:")
    assert SECRET not in result.output


def test_not_postgresql():
    result = run({"DWH_DATABASE_URL": f"mysql://u:{SECRET}@h/x"}, "current")
    assert result.exit_code == 1
    assert "dwh supports only PostgreSQL" in result.stderr
    assert SECRET not in result.output


def test_malformed_url_is_not_echoed():
    for bad in (f"::{SECRET}::", f"postgresql://u:{SECRET}@h:notaport/x"):
        result = run({"DWH_DATABASE_URL": bad}, "current")
        assert result.exit_code == 1
        assert result.stderr.strip() == (
            "dwh: error: the database URL is not a valid URL; expected "
            "postgresql://USER@HOST:PORT/DATABASE (a password goes after USER, as USER:PASSWORD)")
        assert SECRET not in result.output


def test_option_beats_environment(head_db, databases):
    elsewhere = databases.name_only("never_created")
    result = runner.invoke(app, ["--database-url", url_string(head_db), "current"],
                           env={"DWH_DATABASE_URL": url_string(elsewhere),
                                "DWH_PROJECT_DIR": str(ROOT)})
    assert result.exit_code == 0, result.output
    assert f"/{head_db.database}" in result.stdout


def test_password_never_shown(head_db):
    """With a password in the URL (ignored by a trust server, or wrong): current,
    errors, verbose tracebacks and --help never show it."""
    url = with_password(head_db)
    result = run(env_for(url), "current")
    assert SECRET not in result.output
    if result.exit_code == 0:
        assert f"{url.username}:***@" in result.stdout
    bad = url.set(database="no_such_db_" + head_db.database)
    for args in (["current"], ["-v", "current"], ["-v", "upgrade"], ["db", "create", "--help"],
                 ["--help"]):
        result = run(env_for(bad), *args)
        assert SECRET not in result.output, args
    result = run(env_for(bad), "-v", "current")
    assert "Traceback" in result.stderr
    result = runner.invoke(app, ["--database-url", url_string(bad), "-v", "current"],
                           env={"DWH_PROJECT_DIR": str(ROOT)})
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and SECRET not in result.output


def test_without_verbose_no_traceback(databases):
    result = run(env_for(databases.name_only("absent")), "upgrade")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_project_dir_that_is_not_a_project(tmp_path):
    result = runner.invoke(app, ["--project-dir", str(tmp_path), "history"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"dwh: error: {tmp_path} is not a dwh project: it has no alembic.ini; "
        "pass the directory that holds alembic.ini, migrations/ and sql/"
    )


def test_revision_sql_rejects_a_bad_object_name():
    result = run({}, "revision", "sql", "Not A Name", "-m", "x")
    assert result.exit_code == 1
    assert "'Not A Name' is not an object name" in result.stderr


def test_revision_freeze_has_nothing_new(tmp_path):
    from tests.test_migrations import _copy_project

    project = _copy_project(tmp_path)  # never the repository's own manifest
    before = (project / "sql/MANIFEST.sha256").read_bytes()
    result = runner.invoke(app, ["--project-dir", str(project), "revision", "freeze"])
    assert result.exit_code == 0
    assert result.stdout.strip() == "nothing new to release"
    assert (project / "sql/MANIFEST.sha256").read_bytes() == before


def test_server_status_with_a_url_configured(head_db, tmp_path):
    result = run({**env_for(head_db), "DWH_HOME": str(tmp_path)}, "server", "status")
    assert result.exit_code == 0
    assert "a database URL is configured" in result.stdout
    assert "state: not created yet" in result.stdout


@pytest.mark.parametrize("command", [["upgrade"], ["downgrade", "base"], ["current"],
                                     ["db", "create"]])
def test_commands_report_an_unreachable_server(command):
    result = run({"DWH_DATABASE_URL": "postgresql://u@127.0.0.1:1/x"}, *command)
    assert result.exit_code == 1
    assert result.stderr.startswith("dwh: error: cannot ")


def test_revision_sql_writes_the_version_and_the_revision(tmp_path):
    from tests.test_migrations import _copy_project

    project = _copy_project(tmp_path)
    result = runner.invoke(app, ["--project-dir", str(project), "revision", "sql",
                                 "setup.touch_updated_at", "-m", "Use clock time"])
    assert result.exit_code == 0, result.output
    new_sql = project / "sql/setup/touch_updated_at/0002.sql"
    assert result.stdout.splitlines()[0] == f"new SQL version: {new_sql}"
    revision_file = next((project / "migrations/versions").glob("*_use_clock_time.py"))
    assert f"{revision_file}" in result.stdout
    text = revision_file.read_text()
    assert '"""Use clock time' in text and "SQL: dict[str, int] = {\"setup.touch_updated_at\": 2}" in text
    result = runner.invoke(app, ["--project-dir", str(project), "history"])
    previous = result.stdout.splitlines()[-2].split()[2]
    assert result.stdout.splitlines()[-1].startswith(
        f"{previous} -> {int(previous) + 1:04d}  Use clock time")


def test_alembic_command_line(head_db, cli_env):
    """Plain alembic from a shell: current, history, downgrade -1, upgrade head."""
    import subprocess
    import sys

    env = dict(cli_env, DWH_DATABASE_URL=url_string(head_db))

    def alembic(*args):
        return subprocess.run([sys.executable, "-m", "alembic", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    head = alembic("heads").stdout.split()[0]
    assert f"{head} (head)" in alembic("current").stdout
    history = alembic("history").stdout
    assert "<base> -> 0001" in history and f"-> {head} (head)" in history
    result = alembic("downgrade", "-1")
    assert result.returncode == 0 and f"Running downgrade {head} ->" in result.stderr
    assert f"{head} (head)" not in alembic("current").stdout
    result = alembic("upgrade", "head")
    assert result.returncode == 0 and f"-> {head}" in result.stderr


def test_logging_after_a_command_writes_to_the_stderr_of_the_moment(tmp_path, capsys):
    """The CLI's log handler took sys.stderr as it was when a command configured logging;
    a test runner closes that stream after the command, and every later record in the
    process failed ("ValueError: I/O operation on closed file")."""
    import gc
    import logging

    result = run({}, "sample", "--out", str(tmp_path / "s"), "--scale", "1")
    assert result.exit_code == 0, result.output
    del result
    gc.collect()
    logging.getLogger("dwh.test").warning("a record after the command")
    err = capsys.readouterr().err
    assert "Logging error" not in err and "I/O operation on closed file" not in err
    assert "warning: a record after the command" in err
