"""Connections: engines, raw autocommit sessions, the warehouse lock, and the
translation of driver errors into messages that say what to do.

No pooling anywhere: every session-level advisory lock must die with its
connection, and a CLI process opens a handful of connections at most.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from dwh.errors import DatabaseMissing, DatabaseUnavailable, DwhError, LockTimeout, NotDeployed
from dwh.settings import Settings, render_server, render_url, resolve_url, with_database

log = logging.getLogger(__name__)

APPLICATION_NAME = "dwh"
CONNECT_TIMEOUT_S = 10
MAINTENANCE_DATABASES = ("postgres", "template1")

#: The warehouse lock: ``pg_advisory_lock(LOCK_CLASS, LOCK_OBJECT)``.  Advisory
#: locks are scoped to one database, so warehouses on one server do not block
#: each other.  0x647768 is "dwh" in ASCII; it shows as classid in pg_locks.
LOCK_CLASS = 0x647768
LOCK_OBJECT = 1
#: The run lock: every piece of a run's work holds it shared for its transaction
#: (setup.join_run); whoever takes the warehouse lock then waits for that work to end,
#: so a run whose session died never works beside a new run or a migration.
RUN_LOCK_OBJECT = 2


def engine(url: URL, *, application_name: str = APPLICATION_NAME) -> Engine:
    """An engine without a pool, naming itself in pg_stat_activity."""
    return create_engine(
        url,
        poolclass=NullPool,
        connect_args={
            "application_name": application_name,
            "connect_timeout": CONNECT_TIMEOUT_S,
        },
    )


def error_line(err: BaseException) -> str:
    """The first line of what a driver error (or SQLAlchemy's wrapping of one) says: the
    server's message where there is one."""
    orig = getattr(err, "orig", None) or err
    text = (getattr(getattr(orig, "diag", None), "message_primary", None) or str(orig)).strip()
    return (text.splitlines() or [type(orig).__name__])[0]


def translate(err: BaseException, url: URL) -> DatabaseUnavailable:
    """A connection failure, told as what it means for the user."""
    first = error_line(err)
    where = render_url(url)
    if "does not exist" in first and "database" in first:
        return DatabaseMissing(
            f"database {url.database!r} does not exist on {render_server(url)}; "
            f"create it with: dwh db create"
        )
    if "password authentication failed" in first or "no password supplied" in first:
        return DatabaseUnavailable(
            f"the server refused the login of user {url.username or '(default)'} for {where}: "
            f"{first}; check the password in the URL, PGPASSWORD or ~/.pgpass"
        )
    return DatabaseUnavailable(f"cannot connect to {where}: {first}")


@contextmanager
def connect(url: URL, *, application_name: str = APPLICATION_NAME) -> Iterator[Connection]:
    """A SQLAlchemy connection, with connection failures translated."""
    eng = engine(url, application_name=application_name)
    try:
        try:
            conn = eng.connect()
        except (OperationalError, DBAPIError) as err:
            raise translate(err, url) from err
        with conn:
            yield conn
    finally:
        eng.dispose()


#: What dwh's sessions ask of the server unless the user's own options say otherwise:
#: a killed dwh must not leave the server running its statement for nothing.
DEFAULT_SESSION = {"client_connection_check_interval": "1000"}
#: What they always get, whatever the user's options say: the warehouse lock lives on
#: a session that is idle while the steps run, so no idle timeout may end it; and only
#: pg_catalog (then the session's own temporary schema) is searched for unqualified
#: names, so no function or operator another role created is ever found instead.
REQUIRED_SESSION = {"idle_session_timeout": "0", "search_path": "pg_catalog,pg_temp"}


def session_options(user_options: str | None, session: dict[str, str] | None = None) -> str:
    """libpq ``options`` for a dwh session: dwh's defaults, then the user's own (PGOPTIONS
    and the URL's ``options``, which win over the defaults), then ``session`` and the
    settings dwh requires (which win over everything).  Later ``-c`` settings win."""
    parts = [f"-c {name}={value}" for name, value in DEFAULT_SESSION.items()]
    parts += [o for o in (os.environ.get("PGOPTIONS"), user_options) if o and o.strip()]
    parts += [f"-c {name}={value}" for name, value in {**(session or {}), **REQUIRED_SESSION}.items()]
    return " ".join(parts)


def raw_connect(url: URL, *, autocommit: bool = True, application_name: str = APPLICATION_NAME,
                session: dict[str, str] | None = None) -> psycopg2.extensions.connection:
    """A psycopg2 connection (for COPY and for CALL of procedures that commit), with the
    settings of ``session`` (name: value) set as it starts (see ``session_options``)."""
    eng = engine(url)
    cargs, cparams = eng.dialect.create_connect_args(url)
    cparams.setdefault("application_name", application_name)
    cparams.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    user_options = cparams.get("options")
    if isinstance(user_options, (tuple, list)):  # ?options=...&options=... in the URL
        user_options = " ".join(user_options)
    cparams["options"] = session_options(user_options, session)
    try:
        conn = psycopg2.connect(*cargs, **cparams)
    except psycopg2.OperationalError as err:
        raise translate(err, url) from err
    conn.autocommit = autocommit
    return conn


#: SQLSTATEs that end the session: terminated by an administrator, a server crash or
#: shutdown, a lost connection.
SESSION_GONE = frozenset({"57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006"})


def session_gone(err: BaseException) -> bool:
    """Whether a driver error means the session itself is gone, not that a statement
    failed: no server message at all, or one that ends the session."""
    if isinstance(err, psycopg2.InterfaceError):
        return True
    if not isinstance(err, psycopg2.Error):
        return False
    code = getattr(err, "pgcode", None)
    return code in SESSION_GONE or (isinstance(err, psycopg2.OperationalError) and not code)


def connect_warehouse(settings: Settings) -> psycopg2.extensions.connection:
    """An autocommit connection to a deployed warehouse (one with run history)."""
    url = resolve_url(settings)
    conn = raw_connect(url)
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('setup.etl_run_steps')")
        if cur.fetchone()[0] is None:
            conn.close()
            raise NotDeployed(f"the warehouse in {render_url(url)} is not deployed (it has no "
                              f"setup.etl_runs): run dwh upgrade, or dwh deploy")
    return conn


@contextmanager
def maintenance_connection(url: URL) -> Iterator[psycopg2.extensions.connection]:
    """An autocommit connection to the server's maintenance database."""
    last: DatabaseUnavailable | None = None
    for name in MAINTENANCE_DATABASES:
        try:
            conn = raw_connect(with_database(url, name))
        except DatabaseMissing as err:
            last = err
            continue
        try:
            yield conn
        finally:
            conn.close()
        return
    raise DatabaseUnavailable(
        f"cannot reach a maintenance database ({', '.join(MAINTENANCE_DATABASES)}) on "
        f"{render_server(url)} to create {url.database!r}"
    ) from last


def database_exists(url: URL) -> bool:
    with maintenance_connection(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,))
        return cur.fetchone() is not None


def create_database(url: URL) -> bool:
    """Create the database ``url`` names when missing; True when it was created.

    Tries the database itself first, so a role that may not reach the
    maintenance database can still deploy an existing warehouse.  Never drops
    anything.
    """
    try:
        raw_connect(url).close()
        return False
    except DatabaseMissing:
        pass
    with maintenance_connection(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,))
        if cur.fetchone() is not None:
            return False
        try:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.database)))
        except psycopg2.errors.DuplicateDatabase:
            return False
        except psycopg2.Error as err:
            raise DatabaseUnavailable(
                f"could not create database {url.database!r} on "
                f"{render_server(url)}: {error_line(err)}"
            ) from err
    log.info("created database %s", url.database)
    return True


def create_warehouse(settings: Settings) -> tuple[URL, bool]:
    """Create the warehouse database when missing (``dwh db create``, ``dwh deploy``):
    its URL, and whether it was created."""
    url = resolve_url(settings, create_embedded_database=False)
    return url, create_database(url)


HOLDER_QUERY = """
    SELECT a.pid, coalesce(nullif(a.application_name, ''), '(no application name)'), a.usename,
           a.backend_start, a.state,
           pg_catalog.left(pg_catalog.regexp_replace(a.query, '\\s+', ' ', 'g'), 200)
      FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s
       AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_catalog.pg_database
                                             WHERE datname = current_database())
"""


def lock_holder(raw_conn) -> str:
    """Who holds the warehouse lock: pid, application, user, since when, what it runs."""
    with raw_conn.cursor() as cur:
        cur.execute(HOLDER_QUERY, (LOCK_CLASS, LOCK_OBJECT))
        row = cur.fetchone()
        if row is None:
            return "a session that has since let it go"
        pid, app, user, since, state, what = row
        run_id = None
        cur.execute("SELECT to_regclass('setup.etl_runs') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("SELECT max(run_id) FROM setup.etl_runs "
                        "WHERE backend_pid = %s AND status = 'running'", (pid,))
            run_id = cur.fetchone()[0]
    text = f"held by pid {pid} ({app}, user {user}, connected since {since:%Y-%m-%d %H:%M:%S %Z}"
    text += f", {state})" if state else ")"
    if run_id is not None:
        text += f", pipeline run {run_id}"
    if what:
        text += f", running: {what}"
    return text


def take_lock(raw_conn, timeout_s: float | None) -> None:
    """Take the warehouse lock on an autocommit psycopg2 session, waiting at most
    ``timeout_s`` (None: as long as it takes; 0: not at all); past it, an error naming
    the holder.  Then wait (as long) for the work of a run whose session ended (it
    holds the run lock shared).  Runs hold it on their own session; migrations through
    ``warehouse_lock``."""
    wait = timeout_s is None or timeout_s > 0  # lock_timeout = 0 would wait for ever
    gave_up = ("--lock-timeout 0 does not wait" if not wait
               else f"gave up after {timeout_s:g} s (--lock-timeout)" if timeout_s else "")
    with raw_conn.cursor() as cur:
        if timeout_s is not None and wait:  # at least 1 ms: a smaller one rounds to 0
            cur.execute("SELECT pg_catalog.set_config('lock_timeout', %s, false)",
                        (f"{max(1, round(timeout_s * 1000))}ms",))
        try:
            if not _advisory_lock(cur, LOCK_OBJECT, wait):
                raise LockTimeout(f"the warehouse is locked by another migration or run, "
                                  f"{lock_holder(raw_conn)}; {gave_up}")
            if not _advisory_lock(cur, RUN_LOCK_OBJECT, wait):
                cur.execute("SELECT pg_catalog.pg_advisory_unlock(%s, %s)", (LOCK_CLASS, LOCK_OBJECT))
                raise LockTimeout(f"the warehouse is still busy with the work of a run whose "
                                  f"session ended, {run_workers(raw_conn)}; {gave_up}")
            cur.execute("SELECT pg_catalog.pg_advisory_unlock(%s, %s)", (LOCK_CLASS, RUN_LOCK_OBJECT))
        finally:
            if timeout_s is not None and wait:
                cur.execute("RESET lock_timeout")


def _advisory_lock(cur, obj: int, wait: bool) -> bool:
    """Take lock (LOCK_CLASS, obj) for the session: waiting (up to lock_timeout) or not."""
    if not wait:
        cur.execute("SELECT pg_catalog.pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, obj))
        return cur.fetchone()[0]
    try:
        cur.execute("SELECT pg_catalog.pg_advisory_lock(%s, %s)", (LOCK_CLASS, obj))
    except psycopg2.errors.LockNotAvailable:
        return False
    return True


def run_workers(raw_conn) -> str:
    """The sessions still doing a run's work (holding the run lock)."""
    with raw_conn.cursor() as cur:
        cur.execute("SELECT pg_catalog.string_agg(pg_catalog.format('pid %%s (%%s, user %%s)', a.pid, "
                    "coalesce(nullif(a.application_name, ''), '(no application name)'), "
                    "a.usename), ', ') "
                    "FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s "
                    "AND l.objid = %s AND l.database = (SELECT oid FROM pg_catalog.pg_database "
                    "WHERE datname = current_database())", (LOCK_CLASS, RUN_LOCK_OBJECT))
        found = cur.fetchone()[0]
    return f"held by {found}" if found else "by sessions that have since finished"


@contextmanager
def warehouse_lock(conn: Connection, *, timeout_s: float | None = None) -> Iterator[None]:
    """Hold the warehouse lock on a SQLAlchemy connection, around every transaction
    of a migration run: taken and released outside them, on the same session."""
    if conn.in_transaction():
        conn.commit()
    raw = conn.connection.driver_connection
    raw.autocommit = True  # between SQLAlchemy's transactions, as its AUTOCOMMIT level does
    try:
        take_lock(raw, timeout_s)
    finally:
        raw.autocommit = False
    try:
        yield
    finally:
        if not conn.closed and not conn.invalidated:
            if conn.in_transaction():
                conn.rollback()
            raw.autocommit = True
            try:
                with raw.cursor() as cur:
                    cur.execute("SELECT pg_catalog.pg_advisory_unlock(%s, %s)",
                                (LOCK_CLASS, LOCK_OBJECT))
            finally:
                raw.autocommit = False


@dataclass(frozen=True, eq=False)
class Task:
    """One unit of work for ``run_graph``: ``run`` (opening its own connection) once
    everything it ``needs`` is done.  Names are tables ('silver.crm_cust_info') or
    whole layers ('bronze'): a layer covers its tables, whether it is needed or provided.
    A need that no task of the graph provides is met already."""
    name: str
    run: Callable[[], object]
    provides: frozenset[str] = frozenset()
    needs: frozenset[str] = frozenset()
    #: still started after another task failed (a load: every file's problem shows)
    after_failure: bool = False
    #: the work it does, in a unit shared by the graph's tasks (see ``run_graph``)
    cost: float = 1.0
    #: a ready task of a higher priority starts before one of a lower, whatever its chain
    priority: int = 0


def covers(name: str, need: str) -> bool:
    """'bronze' covers 'bronze.x', either way round."""
    return name == need or name.startswith(need + ".") or need.startswith(name + ".")


def critical_paths(tasks: Sequence[Task]) -> dict[int, float]:
    """For each task (by id), the cost of the costliest chain of tasks that starts with
    it: its own cost plus the longest of those of the tasks that need what it provides."""
    after = {id(t): [u for u in tasks if u is not t and any(
        covers(p, n) for p in t.provides for n in u.needs)] for t in tasks}
    length: dict[int, float] = {}

    def visit(task: Task, path: frozenset[int]) -> float:
        if id(task) not in length:
            length[id(task)] = task.cost + max(
                (visit(u, path | {id(task)}) for u in after[id(task)] if id(u) not in path),
                default=0.0)
        return length[id(task)]

    for task in tasks:
        visit(task, frozenset())
    return length


def run_graph(tasks: Sequence[Task], jobs: int,
              failures: tuple[type[BaseException], ...] = (psycopg2.Error, DwhError)) -> None:
    """Run every task once its needs are done, ``jobs`` at a time.  Of the ready tasks,
    the one of the highest ``priority`` starts first; among equals, the one heading the
    costliest chain of work (``critical_paths``: the run cannot end before that chain is
    done), then the one that comes first in ``tasks``.  After a failure only
    ``after_failure`` tasks start; the running ones finish, then the first failure (in
    the order of ``tasks``) is raised."""
    order = {id(task): n for n, task in enumerate(tasks)}
    chain = critical_paths(tasks)
    pending = sorted(tasks, key=lambda t: (-t.priority, -chain[id(t)], order[id(t)]))
    unfinished = {name for task in tasks for name in task.provides}
    provided_by = {}
    for task in tasks:
        for name in task.provides:
            provided_by.setdefault(name, []).append(task)
    errors: list[tuple[int, BaseException]] = []

    def waits(need: str) -> bool:
        return any(covers(name, need) for name in unfinished)

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="dwh") as pool:
        running: dict[Future, Task] = {}
        while pending or running:
            for task in [t for t in pending if not any(waits(n) for n in t.needs)]:
                if len(running) >= max(1, jobs):
                    break
                pending.remove(task)
                if errors and not task.after_failure:
                    continue
                running[pool.submit(task.run)] = task
            if not running:
                if pending and not errors:
                    names = ", ".join(t.name for t in pending)
                    raise ValueError(f"tasks that can never start (a need nothing provides "
                                     f"in time, or a cycle): {names}")
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                task = running.pop(future)
                try:
                    future.result()
                except failures as err:
                    errors.append((order[id(task)], err))
                    pending = [t for t in pending if t.after_failure]
                    continue  # what it would have built never comes
                busy = pending + list(running.values())
                unfinished.difference_update(
                    name for name in task.provides
                    if not any(t in busy for t in provided_by[name]))
    if errors:
        raise min(errors, key=lambda e: e[0])[1]


#: The roles the revisions create server-wide, each before the roles it is a member of
#: (dwh_owner is a member of dwh_loader), the order they can be dropped in.
WAREHOUSE_ROLES = ("dwh_owner", "dwh_loader", "dwh_reader")


def drop_roles_if_unused(raw_conn, roles: Iterable[str]) -> list[str]:
    """Drop those of ``roles`` that exist and nothing on the server uses: no object or
    privilege in any database (pg_shdepend spans them all), no member.  Returns them."""
    dropped = []
    with raw_conn.cursor() as cur:
        for role in roles:
            cur.execute(ROLE_UNUSED, (role,))
            if cur.fetchone()[0]:
                cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
                dropped.append(role)
    return dropped


ROLE_UNUSED = """
    SELECT r.oid IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_shdepend d
                            WHERE d.refclassid = 'pg_catalog.pg_authid'::regclass
                              AND d.refobjid = r.oid)
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m WHERE m.roleid = r.oid)
      FROM (SELECT (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s) AS oid) AS r
"""
