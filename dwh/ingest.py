"""Client-side ingestion: stream the client's source files into bronze staging.

For a server that cannot read the files: each enabled job of
``bronze.load_jobs`` loads ``DIR/source_<source>/<dataset>.csv`` (folder and
file matched case-insensitively) with ``COPY ... FROM STDIN``, on its own
connection, several at once.  The header is checked and each load recorded by
the same SQL functions the server-side load uses, so both paths report alike.

A job reads only that file: its names come from the discovered table, never a path
(a name with a separator or ``..``, or a symbolic link leading out of the folder,
is refused), and a file that changes while it is read fails its load.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import URL

from dwh import db
from dwh.errors import ConfigError, DwhError, one_line

log = logging.getLogger(__name__)

COPY_CHUNK = 1 << 20
HEADER_LIMIT = 1 << 16
#: From this server version on, COPY reads a line holding only \. in a CSV file as
#: data; before it, as the end of the data, silently dropping every line after it.
DATA_MARKER_FIXED = 180000
_MARKER = re.compile(rb"\n\\\.(?=\r?\n)")
_CR_MARKER = re.compile(rb"\r\\\.(?=\r)")  # in a file whose lines end with CR alone
_NAME = re.compile(r"^[^/\\\x00]+$")


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


def _plain(name: str) -> bool:
    """A file or folder name that stays in its folder: no separator, no '..'."""
    return bool(_NAME.match(name)) and ".." not in name and name != "."


def check_job(job: Job) -> None:
    """A job reads ``<source dir>/source_<source>/<dataset>.csv`` of its table and nothing
    else, whatever its row of bronze.load_jobs says (which dwh_loader may change)."""
    source, _, dataset = job.table_name.partition("_")
    expected = f"{dataset}.csv"
    if not (_plain(source) and _plain(expected)):
        raise LoadError(f"bronze.{job.table_name}: its name does not make a file name "
                        f"(source {source!r}, file {expected!r}); name bronze tables "
                        f"<source>_<dataset> without '/', '\\' or '..'")
    if job.source != source or job.file_name.lower() != expected.lower():
        raise LoadError(
            f"bronze.load_jobs says bronze.{job.table_name} reads source {job.source!r}, "
            f"file {job.file_name!r}: a job reads only source_{source}/{expected} of its "
            f"table's source directory; set it back: UPDATE bronze.load_jobs SET source = "
            f"'{source}', file_name = '{expected}' WHERE table_name = '{job.table_name}'")


def _match(folder: Path, name: str) -> Path | None:
    exact = folder / name
    if exact.exists() or exact.is_symlink():
        return exact
    wanted = name.lower()
    found = sorted(p for p in folder.iterdir() if p.name.lower() == wanted) if folder.is_dir() else []
    return found[0] if found else None


def locate(source_dir: Path, job: Job) -> Path:
    """``DIR/source_<source>/<dataset>.csv``, matched case-insensitively; a path that
    leads out of its folder (a symbolic link) or is not a regular file is refused."""
    if not source_dir.is_dir():
        raise ConfigError(f"source directory {source_dir} does not exist")
    check_job(job)
    folder = _match(source_dir, f"source_{job.source}")
    if folder is None or not folder.is_dir():
        raise LoadError(
            f"{source_dir / f'source_{job.source}'}: no such folder, needed for bronze.{job.table_name} "
            f"(expected {source_dir}/source_{job.source}/{job.file_name})"
        )
    path = _match(folder, job.file_name)
    if path is None or not (path.exists() or path.is_symlink()):
        raise LoadError(f"{folder / job.file_name}: no such file (matched case-insensitively), "
                        f"needed for bronze.{job.table_name}")
    _inside(folder, path)
    if not path.is_file():
        raise LoadError(f"{path}: not a regular file (a folder, a FIFO or a device); "
                        f"bronze.{job.table_name} loads a CSV file")
    return path


def _inside(folder: Path, path: Path) -> None:
    real_folder, real = os.path.realpath(folder), os.path.realpath(path)
    if os.path.dirname(real) != real_folder:
        raise LoadError(f"{path}: a symbolic link leading out of {folder}; a job reads only "
                        f"the files in its source folder: replace the link by the file")


class _Source:
    """The file a load streams to COPY, read once from one open descriptor: counts what
    it reads and, for a server that needs it (DATA_MARKER_FIXED), follows CSV quoting (a
    quote toggles it, as COPY's line reader does) to find a line holding only \\.
    outside quotes."""

    def __init__(self, path: Path, *, find_marker: bool):
        self.path = path
        real = os.path.realpath(path)
        # The file the checks found in its folder (locate, _inside), opened as an entry of
        # that folder and never through a link: a name turned into one meanwhile fails.
        try:
            folder = os.open(os.path.dirname(real), os.O_RDONLY | os.O_DIRECTORY)
            try:
                self.fd = os.open(os.path.basename(real),
                                  os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW, dir_fd=folder)
            finally:
                os.close(folder)
        except OSError as err:
            raise LoadError(f"{path}: cannot open it: {err.strerror}") from err
        self.before = os.fstat(self.fd)
        if not stat.S_ISREG(self.before.st_mode):
            os.close(self.fd)
            raise LoadError(f"{path}: not a regular file (a FIFO or a device); a load reads "
                            f"a CSV file")
        self.find_marker = find_marker
        self.marker, self.eol = _MARKER, b"\n"
        self.read_bytes = self.quotes = self.newlines = 0
        self.tail = b""
        self.marker_line: int | None = None

    def close(self) -> None:
        os.close(self.fd)

    def header(self) -> str:
        """The first line (up to LF or CR), read without moving the stream."""
        head = os.pread(self.fd, HEADER_LIMIT, 0)
        first = re.split(rb"[\r\n]", head, maxsplit=1)[0]
        ending = head[len(first):len(first) + 2]
        if ending[:1] == b"\r" and ending != b"\r\n":  # lines end as the first one does
            self.marker, self.eol = _CR_MARKER, b"\r"
        try:
            text = first.decode("utf-8").lstrip("\ufeff")
        except UnicodeDecodeError as err:
            raise LoadError(f"{self.path}, line 1: not valid UTF-8 (byte 0x{first[err.start]:02x} "
                            f"at position {err.start + 1}); save the file as UTF-8") from err
        if "\x00" in text:
            raise LoadError(f"{self.path}, line 1: the header holds a NUL byte (at position "
                            f"{text.index(chr(0)) + 1}); save the file as text, without NULs")
        return text

    def read(self, size: int = COPY_CHUNK) -> bytes:
        if self.marker_line is not None:
            return b""  # stop here: the load fails (see changed_or_cut)
        chunk = os.read(self.fd, size)
        self.read_bytes += len(chunk)
        if self.find_marker:
            window = self.tail + chunk
            for m in self.marker.finditer(window):
                start = m.start() + 1  # (line 1 is the header: never a marker)
                before = window[:start].count(b'"') - self.tail.count(b'"')  # in chunk only
                if (self.quotes + before) % 2 == 0:  # outside a quoted field
                    self.marker_line = (self.newlines - self.tail.count(self.eol)
                                        + window[:start].count(self.eol) + 1)
                    # COPY gets whole lines up to it, then the end (see changed_or_cut)
                    return chunk[:max(0, start - len(self.tail))]
            self.tail = window[-4:]
            self.quotes += chunk.count(b'"')
            self.newlines += chunk.count(self.eol)
        return chunk

    def last_quote_line(self) -> int | None:
        """The line of the file's last quote (where a quote never closed opens), read
        again from the file: only a failed load asks."""
        line, found, offset = 1, None, 0
        while chunk := os.pread(self.fd, COPY_CHUNK, offset):
            last = chunk.rfind(b'"')
            if last >= 0:
                found = line + chunk.count(self.eol, 0, last)
            line += chunk.count(self.eol)
            offset += len(chunk)
        return found

    def changed_or_cut(self, *, read_all: bool = True) -> str | None:
        """Why what COPY read is not the whole file as it was when the load began, or None.
        ``read_all``: COPY took the file to its end (not when it stopped at an error)."""
        if self.marker_line is not None:
            return (f"{self.path}, line {self.marker_line}: a line holding only \\. , which "
                    f"this PostgreSQL takes for the end of the data (every line after it would "
                    f"be lost); remove the line, or quote it (\"\\.\") if it is a value")
        after = os.fstat(self.fd)
        try:
            now = os.stat(self.path)
        except OSError:
            now = None
        was = self.before
        if (after.st_size, after.st_mtime_ns) != (was.st_size, was.st_mtime_ns) \
                or (read_all and self.read_bytes != was.st_size) \
                or now is None or (now.st_ino, now.st_dev) != (was.st_ino, was.st_dev):
            what = ("was replaced or removed" if now is None or now.st_ino != was.st_ino
                    else f"went from {was.st_size:,} to {after.st_size:,} bytes"
                    if after.st_size != was.st_size
                    else "was rewritten" if after.st_mtime_ns != was.st_mtime_ns
                    else f"gave {self.read_bytes:,} of its {was.st_size:,} bytes")
            return (f"{self.path}: the file changed while it was being loaded (it {what}); "
                    f"nothing of it is published: load it again once it is complete")
        return None


def _step_begin(conn, run_id: int, job: Job) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT setup.step_begin(%s, 'bronze', 'load', %s)",
                    (run_id, f"bronze.{job.table_name}"))
        return cur.fetchone()[0]


def _load_end(conn, run_id: int, step: int, job: Job, path: Path, rows: int | None,
              failure: str | None, warning: str | None = None) -> None:
    """The load's row in bronze.load_log and the end of its step."""
    status = "failed" if failure else "warning" if warning else "succeeded"
    with conn.cursor() as cur:
        cur.execute("SELECT setup.bronze_load_end(%s, %s, %s, %s, 'client', %s, %s, %s)",
                    (run_id, step, job.table_name, str(path), status, rows, failure or warning))


def load_one(url: URL, run_id: int, job: Job, path: Path) -> int:
    """Load one file into bronze_stage, recorded as a step of ``run_id``."""
    try:
        conn = db.raw_connect(url, application_name="dwh load")
    except DwhError as err:  # e.g. the server went away: still this job's failure
        raise LoadError(f"bronze.{job.table_name}: {err}") from err
    step = None
    try:
        step = _step_begin(conn, run_id, job)
        conn.autocommit = False
        try:
            rows, warning = _copy(conn, run_id, job, path)
            _load_end(conn, run_id, step, job, path, rows, None, warning)
            conn.commit()  # the rows and their record, together
        except Exception as err:  # noqa: BLE001 - whatever it was, the load is recorded
            message = _describe(conn, path, err)
            _record_failure_of(url, conn, run_id, step, job, path, message)
            raise LoadError(message, step) from err
        return rows
    except psycopg2.Error as err:  # before the COPY: the step could not even begin
        raise LoadError(f"bronze.{job.table_name}: {one_line(str(err))}", step) from err
    finally:
        conn.close()


def _record_failure_of(url: URL, conn, run_id: int, step: int, job: Job, path: Path,
                       message: str) -> None:
    """End the load's step as failed: on its own session, else (lost) on a new one."""
    if not conn.closed:
        try:
            conn.rollback()
            _load_end(conn, run_id, step, job, path, None, message)
            conn.commit()
            return
        except psycopg2.Error:
            pass
    try:
        fresh = db.raw_connect(url, application_name="dwh load")
    except DwhError:
        return  # the server is gone: the next run records the run as abandoned
    try:
        _load_end(fresh, run_id, step, job, path, None, message)
    finally:
        fresh.close()


def _copy(conn, run_id: int, job: Job, path: Path) -> tuple[int, str | None]:
    """COPY the file into its staged table; its rows, and the guards' warning if any."""
    source = _Source(path, find_marker=conn.server_version < DATA_MARKER_FIXED)
    try:
        header = source.header()
        table = sql.Identifier("bronze_stage", job.table_name)
        with conn.cursor() as cur:
            engine = _engine(cur)
            if engine.join_run:  # only while the run holds the warehouse lock
                cur.execute("SELECT setup.join_run(%s)", (run_id,))
            cur.execute("SELECT setup.check_header(%s::regclass, %s)",
                        (table.as_string(conn), header))
            columns = cur.fetchone()[0]
            # Truncated in this transaction, so COPY can FREEZE (as the server-side
            # load does, setup.load_bronze_file): see revision 0026.
            cur.execute(sql.SQL("TRUNCATE {}").format(table))
            copy = sql.SQL("COPY {} ({}) FROM STDIN "
                           "WITH (FORMAT csv, HEADER true, ENCODING 'UTF8', FREEZE true)").format(
                table, sql.SQL(", ").join(map(sql.Identifier, columns)))
            try:
                cur.copy_expert(copy, source, size=COPY_CHUNK)
            except psycopg2.Error as err:
                raise _explained(err, source) from err
            rows = cur.rowcount
            problem = source.changed_or_cut()
            if problem:
                raise LoadError(problem)
            warning = None
            if engine.guard_load:  # its volume and age
                cur.execute("SELECT setup.guard_load(%s, %s, %s, to_timestamp(%s))",
                            (run_id, job.table_name, rows, source.before.st_mtime))
                found = cur.fetchone()[0]
                warning = f"{path}: {found}" if found else None
            # Statistics as the server's loads get them.
            if engine.analyze_load or engine.analyze_bronze:
                cur.execute(f"SELECT setup.{'analyze_load' if engine.analyze_load else 'analyze_bronze'}"
                            f"(%s)", (job.table_name,))
            else:
                cur.execute(sql.SQL("ANALYZE {}").format(table))
        return rows, warning
    finally:
        source.close()


@dataclass(frozen=True)
class _Engine:
    """Which of the engine's functions a load uses this warehouse has (one older than
    their revision loads as it did): asked in one round trip."""
    join_run: bool  # 0035
    guard_load: bool  # 0034
    analyze_load: bool  # 0033 (as dwh_owner for a dwh_loader login)
    analyze_bronze: bool  # 0021; before it, a plain ANALYZE


def _engine(cur) -> _Engine:
    cur.execute("SELECT to_regprocedure('setup.join_run(bigint)') IS NOT NULL, "
                "to_regprocedure('setup.guard_load(bigint, text, bigint, timestamp with time "
                "zone)') IS NOT NULL, to_regprocedure('setup.analyze_load(text)') IS NOT NULL, "
                "to_regprocedure('setup.analyze_bronze(text)') IS NOT NULL")
    return _Engine(*cur.fetchone())


def _explained(err: psycopg2.Error, source: _Source) -> BaseException:
    """What made COPY fail, when it is not what COPY says: the file changed under it (a
    line cut in two), or a quote opened far before the end COPY names."""
    if not db.session_gone(err):
        problem = source.changed_or_cut(read_all=False)
        if problem:
            return LoadError(problem)
    message = getattr(err.diag, "message_primary", None) or ""
    opened = source.last_quote_line() if "unterminated CSV quoted field" in message else None
    if opened is not None:
        return LoadError(f"{source.path}, line {opened}: unterminated CSV quoted "
                         f"field: a quote opens on this line and is never closed; close it, "
                         f"or double a quote that is part of a value (\"\")")
    return err


def record_failure(conn, run_id: int, job: Job, path: Path, message: str) -> int:
    """Record a load that could not even start (its file is missing); returns the step."""
    step = _step_begin(conn, run_id, job)
    _load_end(conn, run_id, step, job, path, None, message)
    return step


def _describe(conn, path: Path, err: BaseException) -> str:
    if isinstance(err, LoadError):
        return one_line(str(err))
    if db.session_gone(err) or conn.closed:
        return one_line(f"{path}: the load lost its connection to the server "
                        f"({db.error_line(err)}): it was terminated, or the server stopped or "
                        f"restarted")
    if isinstance(err, psycopg2.Error) and err.diag.message_primary:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SELECT setup.describe_load_error(%s, %s, %s)",
                        (str(path), err.diag.message_primary, err.diag.context))
            text = cur.fetchone()[0]
        conn.rollback()
        if err.diag.message_hint:
            text += f" ({err.diag.message_hint})"
        return one_line(text)
    if isinstance(err, OSError):
        return one_line(f"{path}: {err.strerror or err}")
    return one_line(f"{path}: unexpected {type(err).__name__}: {err}")
