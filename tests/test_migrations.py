"""The revision chain, tested as a chain (the checks of pytest-alembic's defaults)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
from alembic import command
from sqlalchemy import text

from dwh import db, migrate
from tests.catalog import diff, snapshot
from tests.conftest import ROOT, _connect_kwargs, settings_for, url_string
from tests.warehouse import collations


def chain(settings) -> list[str]:
    return [e.revision for e in migrate.history(settings)]


def test_single_head(test_home):
    script = migrate.script_directory(settings_for(None, test_home))
    assert len(script.get_heads()) == 1


def test_base_to_head_and_current(empty_db, test_home):
    settings = settings_for(empty_db, test_home)
    change = migrate.upgrade(settings)
    head = migrate.script_directory(settings).get_current_head()
    assert change.before == () and change.after == (head,)
    cur = migrate.current(settings)
    assert cur.at_head and cur.revisions == (head,)
    # A second upgrade finds nothing to do.
    assert not migrate.upgrade(settings).changed


def test_every_revision_up_down_up_restores_the_catalog(empty_db, test_home):
    """After each downgrade the catalog equals the one before the matching upgrade,
    and upgrading again gives the same catalog as the first time."""
    settings = settings_for(empty_db, test_home)
    revisions = chain(settings)
    with db.connect(empty_db) as conn:
        # Bootstrap: env.py creates the setup schema and the version table.
        command.stamp(migrate.config(settings, connection=conn), "base")
        before = snapshot(conn)
        for previous, rev in zip(["base", *revisions], revisions):
            command.upgrade(migrate.config(settings, connection=conn), rev)
            after = snapshot(conn)
            assert after != before, f"revision {rev} changed nothing"
            command.downgrade(migrate.config(settings, connection=conn), previous)
            restored = snapshot(conn)
            assert not diff(before, restored), f"downgrade of {rev} left a trace:\n" + diff(before, restored)
            command.upgrade(migrate.config(settings, connection=conn), rev)
            again = snapshot(conn)
            assert not diff(after, again), f"re-upgrade of {rev} differs:\n" + diff(after, again)
            before = after


def test_downgrade_to_base_then_upgrade_gives_the_same_head(empty_db, databases, test_home):
    settings = settings_for(empty_db, test_home)
    migrate.upgrade(settings)
    with db.connect(empty_db) as conn:
        first = snapshot(conn)
    migrate.downgrade(settings, "base", drop_data=True)
    migrate.upgrade(settings)
    with db.connect(empty_db) as conn:
        assert not diff(first, snapshot(conn))


def test_offline_sql_builds_the_same_database(databases, test_home):
    """`alembic upgrade head --sql` applied with psql gives the catalog of an online upgrade."""
    settings = settings_for(None, test_home)
    script = migrate.offline_sql(settings, "head")
    for entry in migrate.history(settings):
        assert f"Running upgrade {entry.down_revision or ''} -> {entry.revision}" in script
    offline = databases.create("offline")
    conn = psycopg2.connect(**_connect_kwargs(offline))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(script)
    conn.close()
    online = databases.create("online")
    migrate.upgrade(settings_for(online, test_home))
    with db.connect(offline) as a, db.connect(online) as b:
        sa, sb = snapshot(a), snapshot(b)
        assert not diff(sb, sa), diff(sb, sa)
        version = a.execute(text("SELECT version_num FROM setup.alembic_version")).scalar()
        assert version == migrate.script_directory(settings).get_current_head()


def test_offline_sql_from_the_alembic_command_line(cli_env):
    out = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head", "--sql"],
        cwd=ROOT, env=cli_env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "CREATE TABLE setup.alembic_version" in out.stdout
    assert "CREATE OR REPLACE FUNCTION setup.touch_updated_at()" in out.stdout
    assert "INSERT INTO setup.etl_config" in out.stdout


def _alembic(env, *args, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "alembic", *args], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw,
    )


def _waiting_for_lock(url) -> int:
    conn = psycopg2.connect(**_connect_kwargs(url))
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid = %s AND objid = %s AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())",
                (db.LOCK_CLASS, db.LOCK_OBJECT),
            )
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_concurrent_upgrades_serialize(empty_db, cli_env):
    """Two `alembic upgrade head` at once: the second waits, then has nothing to do."""
    env = dict(cli_env, DWH_DATABASE_URL=url_string(empty_db))
    holder = psycopg2.connect(**_connect_kwargs(empty_db))
    holder.autocommit = True
    with holder.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s, %s)", (db.LOCK_CLASS, db.LOCK_OBJECT))
    procs = [_alembic(env, "upgrade", "head") for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while _waiting_for_lock(empty_db) < 2:
            assert time.monotonic() < deadline, "the two upgrades never queued on the lock"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.1)
    finally:
        holder.close()  # releases the lock: both proceed, one after the other
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    for out, err, code in results:
        assert code == 0, err
    applied = [err.count("Running upgrade") for _, err, _ in results]
    assert sorted(applied) == [0, len(chain(settings_for(None, Path(cli_env["DWH_HOME"]))))]
    conn = psycopg2.connect(**_connect_kwargs(empty_db))
    with conn.cursor() as cur:
        cur.execute("SELECT version_num FROM setup.alembic_version")
        assert [r[0] for r in cur.fetchall()] == [chain(settings_for(None, ROOT))[-1]]
    conn.close()


def test_failing_revision_leaves_the_previous_revision(empty_db, test_home, tmp_path):
    """A revision that fails halfway is rolled back whole; the database stays put."""
    project = _copy_project(tmp_path)
    (project / "migrations" / "versions" / "9999_broken.py").write_text(
        '"""A revision that fails halfway."""\n'
        "from alembic import op\n"
        f"revision = '9999'\ndown_revision = {chain(settings_for(None, test_home))[-1]!r}\n"
        "branch_labels = None\ndepends_on = None\n"
        "def upgrade():\n"
        "    op.execute('CREATE TABLE setup.half_done (x int)')\n"
        "    op.execute('SELECT 1/0')\n"
        "def downgrade():\n    pass\n"
    )
    settings = settings_for(empty_db, test_home, project)
    migrate.upgrade(settings, chain(settings)[-2])
    with db.connect(empty_db) as conn:
        before = snapshot(conn)
    from dwh.errors import MigrationError

    with pytest.raises(MigrationError) as info:
        migrate.upgrade(settings)
    assert "revision 9999 (A revision that fails halfway.) failed" in str(info.value)
    assert "division by zero" in str(info.value)
    with db.connect(empty_db) as conn:
        assert not diff(before, snapshot(conn))
    assert migrate.current(settings).revisions == (chain(settings)[-2],)


def test_a_view_on_the_key_maps_keys_stops_0027_with_what_to_do(empty_db, test_home):
    """Revision 0027 changes the key map's key columns' collation, which PostgreSQL
    refuses while a view reads them: the revision names the view and the way out, and
    the database stays at 0026; without the view it goes through, both ways."""
    from dwh.errors import MigrationError

    settings = settings_for(empty_db, test_home)
    migrate.upgrade(settings, "0026")
    with db.connect(empty_db) as conn:
        conn.execute(text("CREATE VIEW public.customer_numbers AS SELECT natural_key "
                          "FROM gold.surrogate_keys WHERE entity = 'customer'"))
        conn.commit()
    with pytest.raises(MigrationError) as info:
        migrate.upgrade(settings, "0027")
    assert "a view reads them: customer_numbers" in str(info.value)
    assert migrate.current(settings).revisions == ("0026",)
    with db.connect(empty_db) as conn:
        conn.execute(text("DROP VIEW public.customer_numbers"))
        conn.commit()
    migrate.upgrade(settings, "0027")
    assert collations(empty_db, "gold.surrogate_keys") == [("entity", "C"), ("natural_key", "C")]
    migrate.downgrade(settings, "0026")
    assert collations(empty_db, "gold.surrogate_keys") == [("entity", "default"),
                                                           ("natural_key", "default")]


def test_0031_changes_the_numbers_check_only_where_it_is_as_shipped(databases, test_home):
    """Revision 0031 gives bronze_unparseable_numbers its grouped query where the query
    is still as revision 0017 left it, and keeps a user's own; its downgrade gives the
    shipped one back."""
    rev = migrate.script_directory(settings_for(None, test_home)).get_revision("0031").module

    def check_query(url) -> str:
        with db.connect(url) as conn:
            return conn.execute(text("SELECT query FROM setup.quality_checks "
                                     "WHERE check_name = 'bronze_unparseable_numbers'")).scalar()
    shipped, edited = databases.create("shipped"), databases.create("edited")
    for url in (shipped, edited):
        migrate.upgrade(settings_for(url, test_home), "0030")
    assert check_query(shipped) == rev.OLD_QUERY
    own = "SELECT 1 FROM {bronze}.crm_sales_details WHERE sls_price = 'n/a'"
    with db.connect(edited) as conn:
        conn.execute(text("UPDATE setup.quality_checks SET query = :q "
                          "WHERE check_name = 'bronze_unparseable_numbers'"), {"q": own})
        conn.commit()
    for url in (shipped, edited):
        migrate.upgrade(settings_for(url, test_home), "0031")
    assert check_query(shipped) == rev.NEW_QUERY
    assert check_query(edited) == own
    migrate.downgrade(settings_for(shipped, test_home), "0030")
    assert check_query(shipped) == rev.OLD_QUERY


def _copy_project(tmp_path: Path) -> Path:
    import shutil

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "alembic.ini", project)
    shutil.copytree(ROOT / "migrations", project / "migrations",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "sql", project / "sql")
    return project
