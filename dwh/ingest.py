"""Client-side ingestion: stream the client's source files into bronze staging.

For a server that cannot read the files: each enabled job of
``bronze.load_jobs`` loads ``DIR/source_<source>/<dataset>.csv`` (folder and
file matched case-insensitively) with ``COPY ... FROM STDIN``, on its own
connection, several at once.  The header is checked and each load recorded by
the same SQL functions the server-side load uses, so both paths report alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import URL

from dwh import db
from dwh.errors import ConfigError, DwhError

log = logging.getLogger(__name__)

COPY_CHUNK = 1 << 20
HEADER_LIMIT = 1 << 16


class LoadError(DwhError):
    """A source file could not be loaded (named with its line where there is one)."""

    def __init__(self, message: str, step_id: int | None = None):
        super().__init__(message)
        self.step_id = step_id


@dataclass(frozen=True)
class Job:
    table_name: str
    source: str
    file_name: str


def jobs(conn) -> list[Job]:
    with conn.cursor() as cur:
        cur.execute("SELECT table_name, source, file_name FROM bronze.load_jobs "
                    "WHERE enabled ORDER BY load_order, table_name")
        return [Job(*row) for row in cur.fetchall()]


def _match(folder: Path, name: str) -> Path | None:
    exact = folder / name
    if exact.exists():
        return exact
    wanted = name.lower()
    found = sorted(p for p in folder.iterdir() if p.name.lower() == wanted) if folder.is_dir() else []
    return found[0] if found else None


def locate(source_dir: Path, job: Job) -> Path:
    """``DIR/source_<source>/<file>``, matched case-insensitively."""
    if not source_dir.is_dir():
        raise ConfigError(f"source directory {source_dir} does not exist")
    folder = _match(source_dir, f"source_{job.source}")
    if folder is None or not folder.is_dir():
        raise LoadError(
            f"{source_dir / f'source_{job.source}'}: no such folder, needed for bronze.{job.table_name} "
            f"(expected {source_dir}/source_{job.source}/{job.file_name})"
        )
    path = _match(folder, job.file_name)
    if path is None or not path.is_file():
        raise LoadError(f"{folder / job.file_name}: no such file (matched case-insensitively), "
                        f"needed for bronze.{job.table_name}")
    return path


def _header(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(HEADER_LIMIT)
    first = head.split(b"\n", 1)[0]
    try:
        return first.decode("utf-8").lstrip("\ufeff").rstrip("\r")
    except UnicodeDecodeError as err:
        raise LoadError(f"{path}, line 1: not valid UTF-8 (byte 0x{first[err.start]:02x} at "
                        f"position {err.start + 1}); save the file as UTF-8") from err


def _step_begin(conn, run_id: int, job: Job) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT setup.step_begin(%s, 'bronze', 'load', %s)",
                    (run_id, f"bronze.{job.table_name}"))
        return cur.fetchone()[0]


def _load_end(conn, run_id: int, step: int, job: Job, path: Path, rows: int | None,
              failure: str | None) -> None:
    """The load's row in bronze.load_log and the end of its step."""
    with conn.cursor() as cur:
        cur.execute("SELECT setup.bronze_load_end(%s, %s, %s, %s, 'client', %s, %s, %s)",
                    (run_id, step, job.table_name, str(path),
                     "failed" if failure else "succeeded", rows, failure))


def load_one(url: URL, run_id: int, job: Job, path: Path) -> int:
    """Load one file into bronze_stage, recorded as a step of ``run_id``."""
    try:
        conn = db.raw_connect(url, application_name="dwh load")
    except DwhError as err:  # e.g. the server went away: still this job's failure
        raise LoadError(f"bronze.{job.table_name}: {err}") from err
    try:
        step = _step_begin(conn, run_id, job)
        conn.autocommit = False
        try:
            rows = _copy(conn, job, path)
            _load_end(conn, run_id, step, job, path, rows, None)
            conn.commit()  # the rows and their record, together
        except (LoadError, psycopg2.Error, OSError) as err:
            conn.rollback()
            message = _describe(conn, path, err)
            _load_end(conn, run_id, step, job, path, None, message)
            conn.commit()
            raise LoadError(message, step) from err
        return rows
    finally:
        conn.close()


def _copy(conn, job: Job, path: Path) -> int:
    header = _header(path)
    table = sql.Identifier("bronze_stage", job.table_name)
    with conn.cursor() as cur:
        cur.execute("SELECT setup.check_header(%s::regclass, %s)",
                    (table.as_string(conn), header))
        columns = cur.fetchone()[0]
        # Truncated in this transaction, so COPY can FREEZE (as the server-side
        # load does, setup.load_bronze_file): see revision 0026.
        cur.execute(sql.SQL("TRUNCATE {}").format(table))
        copy = sql.SQL("COPY {} ({}) FROM STDIN "
                       "WITH (FORMAT csv, HEADER true, ENCODING 'UTF8', FREEZE true)").format(
            table, sql.SQL(", ").join(map(sql.Identifier, columns)))
        with path.open("rb") as fh:
            cur.copy_expert(copy, fh, size=COPY_CHUNK)
        rows = cur.rowcount
        # Statistics as the server's loads get them (setup.analyze_bronze, from
        # revision 0021; a warehouse from before it gets a plain ANALYZE).
        cur.execute("SELECT to_regprocedure('setup.analyze_bronze(text)') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("SELECT setup.analyze_bronze(%s)", (job.table_name,))
        else:
            cur.execute(sql.SQL("ANALYZE {}").format(table))
    return rows


def record_failure(conn, run_id: int, job: Job, path: Path, message: str) -> int:
    """Record a load that could not even start (its file is missing); returns the step."""
    step = _step_begin(conn, run_id, job)
    _load_end(conn, run_id, step, job, path, None, message)
    return step


def _describe(conn, path: Path, err: BaseException) -> str:
    if isinstance(err, LoadError):
        return str(err)
    if isinstance(err, psycopg2.Error) and err.diag.message_primary:
        with conn.cursor() as cur:
            cur.execute("SELECT setup.describe_load_error(%s, %s, %s)",
                        (str(path), err.diag.message_primary, err.diag.context))
            text = cur.fetchone()[0]
        conn.rollback()
        if err.diag.message_hint:
            text += f" ({err.diag.message_hint})"
        return text
    return f"{path}: {err}"
