"""Nothing lost on the way into bronze: every record of a file is loaded or the load
fails naming the file and line; a file that changes while it is read fails; guards
against an extract that arrives short or stale; messages a file cannot flood.  Both
paths: the client's COPY FROM STDIN and the server's COPY."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dwh.cli import app
from dwh.errors import MESSAGE_LIMIT, RunFailed
from tests.conftest import ROOT, url_string
from tests.test_ingest import (_call_all, _failed_run, _good_run, readable_dir,  # noqa: F401
                               served)  # (readable_dir: a fixture)
from tests.warehouse import REFERENCE, TINY, fingerprint, last_run, query, run, write_tiny

PATHS = pytest.mark.parametrize("path_kind", ["client", "server"])
CUST = "source_crm/cust_info.csv"
SALES = "source_crm/sales_details.csv"
runner = CliRunner()


def _source(readable_dir: Path, url) -> Path:
    return served(url, write_tiny(readable_dir / "src"))


def _lines(name: str) -> list[str]:
    return list(TINY[name])


def _crlf(lines) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


def _expect_failure(path_kind, url, home, root, pattern: str) -> str:
    before = fingerprint(url)
    message = _failed_run(path_kind, url, home, root)
    assert re.search(pattern, message), message
    assert len(message) <= MESSAGE_LIMIT + 200 and "\n" not in message and "\x1b" not in message
    assert fingerprint(url) == before, "a failed run changed the warehouse"
    return message


# -- every record, or the line that stops it -------------------------------------------------


@PATHS
def test_a_line_holding_only_the_end_marker(path_kind, head_db, test_home, readable_dir):
    """Line 50,001 of the reference sales lines replaced by \\.: a server before 18 took it
    for the end of the data and published 49,999 lines; now the load fails naming the line
    (18 reads it as a record with too few fields)."""
    root = _source(readable_dir, head_db)
    _good_run(path_kind, head_db, test_home, root)
    lines = (REFERENCE / SALES).read_bytes().split(b"\n")
    assert len(lines) > 50_001
    lines[50_000] = b"\\." + (b"\r" if lines[50_000].endswith(b"\r") else b"")
    (root / SALES).write_bytes(b"\n".join(lines))
    message = _expect_failure(path_kind, head_db, test_home, root,
                              re.escape(f"{root / SALES}, line 50001: "))
    assert "the end of the data" in message or "missing data for column" in message


@PATHS
def test_the_end_marker_in_a_file_whose_lines_end_with_cr(path_kind, head_db, test_home,
                                                          readable_dir):
    root = _source(readable_dir, head_db)
    lines = _lines(CUST)
    lines.insert(2, "\\.")
    (root / CUST).write_bytes("\r".join(lines).encode() + b"\r")
    _expect_failure(path_kind, head_db, test_home, root,
                    re.escape(f"{root / CUST}, line 3: "))


@PATHS
def test_the_marker_inside_a_quoted_field_is_a_value(path_kind, head_db, test_home, readable_dir):
    root = _source(readable_dir, head_db)
    lines = _lines(CUST)
    lines.insert(2, '11002,AW00011002,"Line\n\\.\nbreaks",Lee,S,F,2025-10-06')
    (root / CUST).write_bytes(_crlf(lines))
    _good_run(path_kind, head_db, test_home, root)
    assert query(head_db, "SELECT cst_firstname FROM bronze.crm_cust_info "
                          "WHERE cst_id = '11002'") == [("Line\n\\.\nbreaks",)]


def _sales_lines(root: Path, count: int) -> int:
    """A sales file of ``count`` valid lines (the first of the tiny set's); its size."""
    header, first, *_ = _lines(SALES)
    data = (header + "\r\n").encode() + (first + "\r\n").encode() * count
    (root / SALES).write_bytes(data)
    return len(data)


@PATHS
@pytest.mark.parametrize("change", ["shrinks", "grows"])
def test_a_file_that_changes_while_it_is_read(change, path_kind, head_db, test_home,
                                              readable_dir):
    """Cut (or extended) during the COPY: the load fails, the warehouse is as it was."""
    root = _source(readable_dir, head_db)
    _good_run(path_kind, head_db, test_home, root)
    size = _sales_lines(root, 400_000)  # long enough to take a while to load
    before = fingerprint(head_db)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.setdefault(
        "message", _failed_run(path_kind, head_db, test_home, root)))
    worker.start()
    deadline = time.monotonic() + 60
    while not query(head_db, "SELECT 1 FROM pg_stat_progress_copy p "
                             "JOIN pg_class c ON c.oid = p.relid "
                             "WHERE c.relname = 'crm_sales_details' AND p.bytes_processed > 0"):
        assert time.monotonic() < deadline and worker.is_alive(), "the load never started"
    with open(root / SALES, "r+b") as fh:
        if change == "shrinks":
            fh.truncate(size // 3)
        else:
            fh.seek(0, os.SEEK_END)
            fh.write(_lines(SALES)[1].encode() + b"\r\n")
    worker.join(timeout=120)
    assert re.search(re.escape(str(root / SALES)) + r": the file changed while it was being "
                     r"loaded", result["message"]), result["message"]
    assert fingerprint(head_db) == before


def test_a_fifo_is_not_waited_on(head_db, test_home, readable_dir):
    """A FIFO in place of a file: refused at once (the client), or taken for the empty
    file it reads as (the server), never waited on for ever."""
    root = _source(readable_dir, head_db)
    (root / CUST).unlink()
    os.mkfifo(root / CUST)
    with pytest.raises(RunFailed, match="not a regular file"):
        run(head_db, test_home, root)
    assert "the file is empty" in _call_all(head_db)


@PATHS
def test_an_unterminated_quote_names_the_line_where_it_opens(path_kind, head_db, test_home,
                                                           readable_dir):
    root = _source(readable_dir, head_db)
    lines = _lines(CUST)
    lines.insert(2, '11002,AW00011002,"Ann,Lee,S,F,2025-10-06')  # line 3 opens a quote
    (root / CUST).write_bytes(_crlf(lines))
    _expect_failure(path_kind, head_db, test_home, root,
                    re.escape(f"{root / CUST}, line 3: unterminated CSV quoted field: a quote "
                              f"opens on this line"))


# -- messages a file cannot flood ------------------------------------------------------------


@PATHS
@pytest.mark.parametrize("case, content, pattern", [
    ("semicolons", _crlf([h.replace(",", ";") for h in _lines(CUST)]),
     r"line 1: the file is delimited by ';', not by commas"),
    ("tabs", _crlf([h.replace(",", "\t") for h in _lines(CUST)]),
     r"line 1: the file is delimited by tabs, not by commas"),
    ("3000 extra columns", _crlf([_lines(CUST)[0] + "".join(f",extra{i}" for i in range(3000))]),
     r"unexpected column\(s\) extra0, extra1, [^;]* and 2990 more"),
    ("control characters", _crlf([_lines(CUST)[0] + ",\x1b[2J\x07bell"]),
     r"unexpected column\(s\) \\x1b\[2j\\x07bell"),
    ("line separator", _crlf([_lines(CUST)[0] + ",a\u2028b"]),
     r"unexpected column\(s\) a\\u2028b"),
    ("NUL in the header", b"cst_id,cst\x00key\r\n1,a\r\n", r"line 1: the header holds a NUL byte"),
])
def test_what_a_file_puts_in_a_message(case, content, pattern, path_kind, head_db, test_home,
                                       readable_dir):
    """One readable line of bounded length, control characters escaped, the delimiter
    named instead of every column 'missing'."""
    root = _source(readable_dir, head_db)
    (root / CUST).write_bytes(content)
    _expect_failure(path_kind, head_db, test_home, root, re.escape(str(root / CUST)) + ".*" + pattern)


@PATHS
def test_a_file_whose_lines_end_with_cr_alone_loads(path_kind, head_db, test_home, readable_dir):
    """Its header is its first line (the whole file was, and the header mismatch put every
    line of it in the message)."""
    root = _source(readable_dir, head_db)
    (root / CUST).write_bytes("\r".join(_lines(CUST)).encode() + b"\r")
    _good_run(path_kind, head_db, test_home, root)
    assert query(head_db, "SELECT count(*) FROM bronze.crm_cust_info") == [(4,)]


# -- guards ------------------------------------------------------------------------------------


@PATHS
def test_a_load_that_falls_by_more_than_its_jobs_share_fails(path_kind, head_db, test_home,
                                                            readable_dir):
    root = _source(readable_dir, head_db)
    _sales_lines(root, 100)
    _good_run(path_kind, head_db, test_home, root)  # a first load: not guarded
    _sales_lines(root, 49)
    message = _expect_failure(path_kind, head_db, test_home, root, re.escape(
        f"{root / SALES}: 49 rows, against 100 in the last published load of "
        f"bronze.crm_sales_details (run 1, "))
    assert "51% fewer, more than the job allows (max_shrink 0.5)" in message
    assert "--allow-shrink" in message and "SET max_shrink" in message
    _sales_lines(root, 50)  # half: allowed
    _good_run(path_kind, head_db, test_home, root)
    (root / SALES).write_bytes(_crlf(_lines(SALES)[:1]))  # only the header
    _expect_failure(path_kind, head_db, test_home, root,
                    re.escape(f"{root / SALES}: 0 rows, against 50 in the last published load"))
    query(head_db, "UPDATE bronze.load_jobs SET max_shrink = NULL "
                   "WHERE table_name = 'crm_sales_details'")
    _good_run(path_kind, head_db, test_home, root)  # the guard is off
    assert query(head_db, "SELECT count(*) FROM bronze.crm_sales_details") == [(0,)]


def test_a_short_load_is_accepted_when_the_run_allows_it(head_db, test_home, readable_dir):
    root = _source(readable_dir, head_db)
    _sales_lines(root, 100)
    run(head_db, test_home, root)
    _sales_lines(root, 10)
    env = {"DWH_DATABASE_URL": url_string(head_db), "DWH_PROJECT_DIR": str(ROOT),
           "DWH_SOURCE_DIR": None, "DWH_HOME": str(test_home)}
    refused = runner.invoke(app, ["orchestrate", "--source-dir", str(root)], env=env)
    assert refused.exit_code == 1 and "10 rows, against 100" in refused.stderr
    accepted = runner.invoke(app, ["orchestrate", "--source-dir", str(root), "--allow-shrink"],
                             env=env)
    assert accepted.exit_code == 0, accepted.output
    assert query(head_db, "SELECT count(*) FROM bronze.crm_sales_details") == [(10,)]
    _sales_lines(root, 1)
    assert _call_all(head_db, "SET dwh.allow_shrink = on") == ""
    assert last_run(head_db)[1] == "succeeded"
    assert query(head_db, "SELECT count(*) FROM bronze.crm_sales_details") == [(1,)]


@PATHS
def test_a_stale_file_warns_or_fails_as_its_source_says(path_kind, head_db, test_home,
                                                       readable_dir):
    root = _source(readable_dir, head_db)
    three_days_ago = time.time() - 3 * 86400
    os.utime(root / CUST, (three_days_ago, three_days_ago))
    query(head_db, "UPDATE setup.etl_config SET value = '26 hours' WHERE key = 'source.crm.max_age'")
    _good_run(path_kind, head_db, test_home, root)
    (status, message), = query(head_db, "SELECT status, message FROM setup.etl_run_steps "
                                        "WHERE target = 'bronze.crm_cust_info'")
    assert status == "warning"
    assert re.match(re.escape(str(root / CUST)) + r": the file is 3 days( \d\d:\d\d:\d\d)? old "
                    r"\(modified .*\), older than source.crm.max_age \(26:00:00\)", message)
    query(head_db, "UPDATE setup.etl_config SET value = 'error' WHERE key = 'source.crm.stale'")
    _expect_failure(path_kind, head_db, test_home, root,
                    re.escape(f"{root / CUST}: the file is 3 days"))
    os.utime(root / CUST)  # fresh again
    _good_run(path_kind, head_db, test_home, root)


def test_a_layer_alone_needs_its_input_published(databases, test_home):
    """dwh deploy --layer gold on a fresh database published an empty gold, exit 0."""
    url = databases.name_only("fresh")
    env = {"DWH_DATABASE_URL": url_string(url), "DWH_PROJECT_DIR": str(ROOT),
           "DWH_SOURCE_DIR": None, "DWH_HOME": str(test_home)}
    for layer, needed in (("gold", "silver"), ("silver", "bronze")):
        result = runner.invoke(app, ["deploy", "--layer", layer], env=env)
        assert result.exit_code == 1, result.output
        line = result.stderr.strip().splitlines()[-1]
        assert (f"a run of {layer} alone builds it from the published {needed}, which no run "
                f"has published yet") in line, line
    assert query(url, "SELECT count(*) FROM gold.dim_products") == [(0,)]
