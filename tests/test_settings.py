"""Finding the database: option, environment, embedded; and never showing a password."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from dwh import db
from dwh.errors import ConfigError, ProjectError
from dwh.settings import (
    DEFAULT_DATABASE,
    ROOT_DEFAULT_HOME,
    Settings,
    default_home,
    find_project,
    parse_url,
    render_url,
    resolve_url,
    scrub,
)
from tests.conftest import ROOT

ENV_URL = "postgresql://alice:envpw@db.example:5433/wh"


def make(environ, **kw) -> Settings:
    return Settings.from_environ(environ, cwd=ROOT, **kw)


def test_option_beats_environment_beats_embedded():
    assert make({"DWH_DATABASE_URL": ENV_URL}, database_url="postgresql://o@h/d").database_url \
        == "postgresql://o@h/d"
    assert make({"DWH_DATABASE_URL": ENV_URL}).database_url == ENV_URL
    embedded = make({})
    assert embedded.database_url is None and embedded.uses_embedded
    assert make({"DWH_DATABASE_URL": ""}).uses_embedded


def test_database_defaults_to_the_warehouse():
    for raw in ("postgresql://u@h:5432", "postgresql://u@h:5432/", "postgres://u@h"):
        assert parse_url(raw).database == DEFAULT_DATABASE
    assert parse_url("postgresql://u@h/other").database == "other"
    assert parse_url("postgresql+psycopg2://u@h/x").drivername == "postgresql+psycopg2"
    assert parse_url("postgres://u@h/x").drivername == "postgresql+psycopg2"


def test_bad_urls_are_refused_without_echoing_them():
    with pytest.raises(ConfigError) as info:
        parse_url("not a url with hunter2")
    assert "hunter2" not in str(info.value)
    with pytest.raises(ConfigError, match="supports only PostgreSQL"):
        parse_url("mysql://u:hunter2@h/x")


def test_render_hides_every_password():
    assert render_url(parse_url("postgresql://u:s3cret@h:1/d")) == "postgresql://u:***@h:1/d"
    shown = render_url(parse_url("postgresql://u@h/d?password=s3cret&sslmode=require"))
    assert "s3cret" not in shown and "sslmode=require" in shown
    assert render_url(None) == "(embedded server)"


def test_scrub_free_text():
    msg = "failed for postgresql://bob:pw%40x@host/db and password=abc; also pw@x"
    out = scrub(msg, "pw@x")
    assert "pw%40x" not in out and "password=abc" not in out and "pw@x" not in out
    assert "postgresql://bob:***@host/db" in out


def test_scrub_is_linear_in_a_long_token():
    """A 64 KB token without '@' took 30 s to scrub when the pattern backtracked from each
    position; one pass takes milliseconds.  A URL right after it is still scrubbed."""
    import time

    for token in ("a" * 65536, "postgresql://" + "a" * 65536, "postgresql://u:" + "p" * 65536):
        start = time.perf_counter()
        out = scrub(token + " postgresql://bob:s3cret@h/db")
        assert time.perf_counter() - start < 1.0, len(token)
        assert out.endswith("postgresql://bob:***@h/db")


@pytest.mark.parametrize("text, shown", [
    ("plain words", "plain words"),
    ("bell\x07 and escape\x1b[2J", "bell\\x07 and escape\\x1b[2J"),
    ("cr\ronly\rlines", "cr\\x0donly\\x0dlines"),
    ("two\nlines\r\nthree", "two lines three"),
    ("line\u2028separator and \u202eoverride", "line\\u2028separator and \\u202eoverride"),
])
def test_one_line_escapes_what_a_terminal_acts_on(text, shown):
    from dwh.errors import one_line

    assert one_line(text) == shown


def test_one_line_bounds_a_long_message_keeping_both_ends():
    from dwh.errors import MESSAGE_LIMIT, one_line

    text = "FILE, line 1: " + "\x1b" * 20_000 + " set it back: UPDATE x"
    out = one_line(text)
    assert len(out) <= MESSAGE_LIMIT
    assert out.startswith("FILE, line 1: \\x1b") and out.endswith("set it back: UPDATE x")
    assert " [...] " in out and "\x1b" not in out


def test_default_home(tmp_path):
    assert default_home({"DWH_HOME": str(tmp_path)}) == tmp_path
    assert default_home({}, euid=0) == ROOT_DEFAULT_HOME
    assert default_home({"XDG_DATA_HOME": str(tmp_path)}, euid=1000) == tmp_path / "dwh"
    assert default_home({}, euid=1000) == Path.home() / ".local" / "share" / "dwh"


def test_find_project(tmp_path):
    assert find_project(None, ROOT / "dwh") == ROOT
    assert find_project(ROOT, tmp_path) == ROOT
    with pytest.raises(ProjectError, match="has no alembic.ini"):
        find_project(tmp_path, ROOT)


def test_libpq_environment_fills_what_the_url_leaves_out(server_url, head_db, monkeypatch):
    """A URL naming only the database: host, port and user come from PGHOST etc."""
    monkeypatch.setenv("PGHOST", server_url.query.get("host") or server_url.host)
    if server_url.port:
        monkeypatch.setenv("PGPORT", str(server_url.port))
    monkeypatch.setenv("PGUSER", server_url.username)
    settings = Settings(database_url=f"postgresql:///{head_db.database}",
                        home=ROOT_DEFAULT_HOME, project_dir=ROOT)
    url = resolve_url(settings)
    assert url.host is None and url.username is None
    with db.connect(url) as conn:
        assert conn.execute(text("SELECT current_database()")).scalar() == head_db.database
