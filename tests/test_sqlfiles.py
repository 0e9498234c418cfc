"""Versioned SQL: the manifest of released files, apply/restore, `dwh revision sql`."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from dwh import db, migrate, sqlfiles
from dwh.errors import SqlFileError
from tests.conftest import ROOT, settings_for
from tests.test_migrations import _copy_project


def test_released_sql_files_are_unchanged():
    """Every file in sql/MANIFEST.sha256 still has its recorded sha256 (computed here
    with hashlib, independently of dwh)."""
    manifest = (ROOT / "sql" / sqlfiles.MANIFEST).read_text().splitlines()
    entries = [line.split(None, 1) for line in manifest if line and not line.startswith("#")]
    assert entries, "the manifest lists no released file"
    for digest, rel in entries:
        path = ROOT / "sql" / rel.strip()
        assert path.is_file(), f"released file {rel} is missing"
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        assert actual == digest, (
            f"sql/{rel} was edited after its release; put the change in a new version "
            f"(dwh revision sql OBJECT -m MESSAGE) and restore the released file"
        )


def test_every_file_a_revision_uses_is_released(test_home):
    released = set(sqlfiles.read_manifest(ROOT / "sql"))
    used = migrate.released_sql(settings_for(None, test_home))
    missing = sorted(used - released)
    assert not missing, f"not in sql/MANIFEST.sha256 (run: dwh revision freeze): {missing}"


def test_every_sql_file_declares_its_object():
    files = [p for p in (ROOT / "sql").rglob("*.sql")]
    assert files
    for path in files:
        rel = path.relative_to(ROOT / "sql")
        obj = f"{rel.parts[0]}.{rel.parts[1]}"
        loaded = sqlfiles.load(ROOT / "sql", obj, int(path.stem))
        assert loaded.path == path


def test_an_edited_released_file_is_detected(tmp_path):
    sql_dir = _copy_project(tmp_path) / "sql"
    rel = next(iter(sqlfiles.read_manifest(sql_dir)))
    assert sqlfiles.changed_released_files(sql_dir) == []
    (sql_dir / rel).write_text((sql_dir / rel).read_text() + "\n-- an innocent edit\n")
    assert sqlfiles.changed_released_files(sql_dir) == [
        f"{rel}: released file was edited (sha256 differs from {sqlfiles.MANIFEST})"
    ]
    with pytest.raises(SqlFileError, match="released SQL files changed"):
        sqlfiles.release(sql_dir, [rel])


def test_a_file_without_header_is_refused(tmp_path):
    folder = tmp_path / "setup" / "thing"
    folder.mkdir(parents=True)
    (folder / "0001.sql").write_text("CREATE OR REPLACE PROCEDURE setup.thing() ...")
    with pytest.raises(SqlFileError, match=r"0001.sql:1: the first line must declare"):
        sqlfiles.load(tmp_path, "setup.thing", 1)


def _functiondef(conn, signature: str) -> str | None:
    return conn.execute(
        text("SELECT pg_get_functiondef(to_regprocedure(:s))"), {"s": signature}
    ).scalar()


def test_revision_sql_new_version_applies_and_downgrade_restores_it(
    tmp_path, head_db, test_home
):
    """`dwh revision sql` starts version 2 of a function; upgrading applies it,
    downgrading restores version 1 exactly, upgrading again re-applies it."""
    project = _copy_project(tmp_path)
    settings = settings_for(head_db, test_home, project)
    obj, signature = "setup.touch_updated_at", "setup.touch_updated_at()"
    with db.connect(head_db) as conn:
        v1 = _functiondef(conn, signature)
    new = migrate.revision_sql(settings, obj, "Also count updates")
    assert new.sql_file == project / "sql/setup/touch_updated_at/0002.sql"
    assert new.sql_file.read_text() == (project / "sql/setup/touch_updated_at/0001.sql").read_text()
    new.sql_file.write_text(new.sql_file.read_text().replace(
        "NEW.updated_at := now();", "NEW.updated_at := clock_timestamp();"))
    assert f"SQL: dict[str, int] = {{'{obj}': 2}}" in new.revision_file.read_text().replace('"', "'")

    migrate.upgrade(settings)
    with db.connect(head_db) as conn:
        v2 = _functiondef(conn, signature)
    assert "clock_timestamp()" in v2 and v2 != v1
    migrate.downgrade(settings, "-1")
    with db.connect(head_db) as conn:
        assert _functiondef(conn, signature) == v1
    migrate.upgrade(settings)
    with db.connect(head_db) as conn:
        assert _functiondef(conn, signature) == v2

    added = migrate.release_sql(settings)
    assert added == ["setup/touch_updated_at/0002.sql"]


def test_a_new_object_is_dropped_by_its_downgrade(tmp_path, head_db, test_home):
    project = _copy_project(tmp_path)
    settings = settings_for(head_db, test_home, project)
    new = migrate.revision_sql(settings, "setup.hello", "Add a hello function", kind="function")
    new.sql_file.write_text(
        "-- dwh:object function setup.hello(text)\n"
        "CREATE OR REPLACE FUNCTION setup.hello(who text) RETURNS text\n"
        "LANGUAGE sql IMMUTABLE AS $$ SELECT format('hello %s: 100%%', who) $$;\n"
    )
    migrate.upgrade(settings)
    with db.connect(head_db) as conn:
        assert conn.execute(text("SELECT setup.hello('you')")).scalar() == "hello you: 100%"
    migrate.downgrade(settings, "-1")
    with db.connect(head_db) as conn:
        assert conn.execute(text("SELECT to_regprocedure('setup.hello(text)')")).scalar() is None


def test_a_signature_change_drops_the_old_one(tmp_path, head_db, test_home):
    project = _copy_project(tmp_path)
    settings = settings_for(head_db, test_home, project)
    first = migrate.revision_sql(settings, "setup.greet", "Add greet", kind="function")
    first.sql_file.write_text(
        "-- dwh:object function setup.greet()\n"
        "CREATE OR REPLACE FUNCTION setup.greet() RETURNS text LANGUAGE sql AS $$ SELECT 'hi' $$;\n")
    second = migrate.revision_sql(settings, "setup.greet", "Greet someone")
    second.sql_file.write_text(
        "-- dwh:object function setup.greet(text)\n"
        "CREATE OR REPLACE FUNCTION setup.greet(who text) RETURNS text LANGUAGE sql "
        "AS $$ SELECT 'hi ' || who $$;\n")
    migrate.upgrade(settings)
    exists = "SELECT to_regprocedure(:s) IS NOT NULL"
    with db.connect(head_db) as conn:
        assert not conn.execute(text(exists), {"s": "setup.greet()"}).scalar()
        assert conn.execute(text(exists), {"s": "setup.greet(text)"}).scalar()
    migrate.downgrade(settings, "-1")
    with db.connect(head_db) as conn:
        assert conn.execute(text(exists), {"s": "setup.greet()"}).scalar()
        assert not conn.execute(text(exists), {"s": "setup.greet(text)"}).scalar()
