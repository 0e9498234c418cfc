"""The versioned-SQL store: procedures, functions and views as immutable files.

Layout: ``sql/<schema>/<name>/NNNN.sql``, one folder per object, one file per
version.  The first line of every file declares the object it defines::

    -- dwh:object procedure setup.orchestrate_bronze()

so that dwh can drop it (``DROP PROCEDURE IF EXISTS setup.orchestrate_bronze()``)
when a downgrade goes back to before its first version, or when a new version
changes its signature.  A file is written with ``CREATE OR REPLACE`` and may
carry the object's COMMENT and GRANTs after it.

A revision says which versions it applies::

    SQL = {"setup.orchestrate_bronze": 2}

    def upgrade():
        sqlfiles.apply_all(SQL)

    def downgrade():
        sqlfiles.restore_all(SQL)

``restore`` puts back version N-1 (or drops the object when N is 1).  A file
that a revision has released is never edited again: ``sql/MANIFEST.sha256``
records the sha256 of every released file, and the tests fail when one changes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dwh.errors import SqlFileError

MANIFEST = "MANIFEST.sha256"
HEADER = re.compile(
    r"^--\s*dwh:object\s+(?P<kind>procedure|function|view|materialized view)\s+"
    r"(?P<signature>(?P<name>[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)(?:\s*\([^)]*\))?)"
    r"(?P<extra>\s+\S.*?)?\s*$",
    re.I,
)
_OBJECT = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_VERSION_FILE = re.compile(r"^(\d{4})\.sql$")
KINDS = ("procedure", "function", "view")


@dataclass(frozen=True)
class SqlFile:
    """One version of one object."""

    object: str
    version: int
    path: Path
    kind: str
    signature: str
    #: whatever else the header declares (e.g. "returns text", a view's columns):
    #: a change there cannot be made by CREATE OR REPLACE, so it drops first
    extra: str = ""

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def drop_statement(self) -> str:
        return f"DROP {self.kind.upper()} IF EXISTS {self.signature};"

    @property
    def relpath(self) -> str:
        """Path relative to the sql/ directory, with forward slashes."""
        return f"{self.object.replace('.', '/')}/{self.version:04d}.sql"


def check_object_name(obj: str) -> None:
    if not _OBJECT.match(obj):
        raise SqlFileError(
            f"{obj!r} is not an object name; expected schema.name in lower case, "
            f"e.g. setup.orchestrate_bronze"
        )


def object_dir(sql_dir: Path, obj: str) -> Path:
    check_object_name(obj)
    schema, name = obj.split(".")
    return sql_dir / schema / name


def versions(sql_dir: Path, obj: str) -> list[int]:
    folder = object_dir(sql_dir, obj)
    if not folder.is_dir():
        return []
    found = sorted(int(m[1]) for p in folder.iterdir() if (m := _VERSION_FILE.match(p.name)))
    return found


def load(sql_dir: Path, obj: str, version: int) -> SqlFile:
    """Read and validate one file version."""
    path = object_dir(sql_dir, obj) / f"{version:04d}.sql"
    if not path.is_file():
        raise SqlFileError(f"{path} does not exist: no version {version} of {obj}")
    with path.open(encoding="utf-8") as fh:
        first = fh.readline().rstrip("\r\n")
    m = HEADER.match(first)
    if not m:
        raise SqlFileError(
            f"{path}:1: the first line must declare the object, e.g. "
            f"'-- dwh:object procedure {obj}()'"
        )
    if m["name"].lower() != obj:
        raise SqlFileError(f"{path}:1: declares {m['name']}, but the file is in the folder of {obj}")
    return SqlFile(obj, version, path, m["kind"].lower(), m["signature"],
                   (m["extra"] or "").strip())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the manifest of released files ----------------------------------------------------


def read_manifest(sql_dir: Path) -> dict[str, str]:
    """relpath -> sha256 of every released file."""
    path = sql_dir / MANIFEST
    if not path.exists():
        return {}
    entries: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-f]{64}", parts[0]):
            raise SqlFileError(f"{path}:{lineno}: expected '<sha256>  <path>'")
        entries[parts[1].strip()] = parts[0]
    return entries


def changed_released_files(sql_dir: Path) -> list[str]:
    """Released files whose content no longer matches the manifest (or that are gone)."""
    problems = []
    for rel, digest in read_manifest(sql_dir).items():
        path = sql_dir / rel
        if not path.is_file():
            problems.append(f"{rel}: released but missing")
        elif sha256(path) != digest:
            problems.append(f"{rel}: released file was edited (sha256 differs from {MANIFEST})")
    return problems


def release(sql_dir: Path, files: Iterable[str]) -> list[str]:
    """Record ``files`` (relpaths) in the manifest; return the ones newly added.

    Refuses when a file already released has changed: a released file is
    never edited, its change is a new version.
    """
    problems = changed_released_files(sql_dir)
    if problems:
        raise SqlFileError(
            "released SQL files changed; put the change in a new version "
            "(dwh revision sql OBJECT -m MESSAGE) and restore these: " + "; ".join(problems)
        )
    entries = read_manifest(sql_dir)
    added = [rel for rel in sorted(set(files)) if rel not in entries]
    if not added:
        return []
    for rel in added:
        if not (sql_dir / rel).is_file():
            raise SqlFileError(f"{sql_dir / rel} does not exist")
        entries[rel] = sha256(sql_dir / rel)
    lines = [f"{digest}  {rel}" for rel, digest in sorted(entries.items())]
    (sql_dir / MANIFEST).write_text(
        "# sha256 of every released SQL file: never edit a file listed here.\n"
        + "\n".join(lines) + "\n",
        encoding="utf-8",
    )
    return added


# -- applying and restoring versions inside a revision ----------------------------------


def _migration_sql_dir() -> Path:
    from alembic import context

    cfg = context.config
    location = cfg.get_main_option("sql_location")
    if location:
        return Path(location)
    return Path(cfg.get_main_option("script_location")).parent / "sql"


def _execute(sql_text: str) -> None:
    """Run SQL verbatim, in the revision's transaction: online on the driver's own
    cursor with no parameters (so neither SQLAlchemy nor psycopg2 reads ``:name``
    or ``%`` in it), offline (``--sql``) into the script unchanged."""
    from alembic import op

    ctx = op.get_context()
    if ctx.as_sql:
        ctx.impl.static_output(sql_text.strip() + "\n")
        return
    with op.get_bind().connection.driver_connection.cursor() as cursor:
        cursor.execute(sql_text)


def apply(obj: str, version: int, *, sql_dir: Path | None = None) -> None:
    """Install ``version`` of ``obj`` (called from a revision's upgrade)."""
    sql_dir = sql_dir or _migration_sql_dir()
    new = load(sql_dir, obj, version)
    if version > 1:
        old = load(sql_dir, obj, version - 1)
        if _replaced_by_drop(old, new):
            _execute(old.drop_statement)
    _execute(new.text)


def restore(obj: str, version: int, *, sql_dir: Path | None = None) -> None:
    """Undo ``apply(obj, version)``: reinstall version-1, or drop the object."""
    sql_dir = sql_dir or _migration_sql_dir()
    new = load(sql_dir, obj, version)
    if version == 1:
        _execute(new.drop_statement)
        return
    old = load(sql_dir, obj, version - 1)
    if _replaced_by_drop(old, new):
        _execute(new.drop_statement)
    _execute(old.text)


def apply_all(versions_by_object: Mapping[str, int]) -> None:
    """Apply each object's version, in the order given."""
    for obj, version in versions_by_object.items():
        apply(obj, version)


def restore_all(versions_by_object: Mapping[str, int]) -> None:
    """Restore each object, in the reverse order (dependents first)."""
    for obj, version in reversed(list(versions_by_object.items())):
        restore(obj, version)


def _normalise(signature: str) -> str:
    return re.sub(r"\s+", "", signature.lower())


def _replaced_by_drop(old: SqlFile, new: SqlFile) -> bool:
    """Whether going between two versions needs a DROP (CREATE OR REPLACE cannot
    change a kind, a signature, or what the header declares besides)."""
    return (old.kind != new.kind or _normalise(old.signature) != _normalise(new.signature)
            or _normalise(old.extra) != _normalise(new.extra))


def referenced_files(sql_versions: Iterable[tuple[str, int]]) -> set[str]:
    """Every file a set of (object, version) pairs needs: the version applied and
    the one its downgrade restores."""
    files = set()
    for obj, version in sql_versions:
        for v in (version, version - 1):
            if v >= 1:
                files.add(f"{obj.replace('.', '/')}/{v:04d}.sql")
    return files


def skeleton(obj: str, kind: str) -> str:
    """The first version of a new object, to be filled in."""
    if kind not in KINDS:
        raise SqlFileError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if kind == "procedure":
        return (
            f"-- dwh:object procedure {obj}()\n"
            f"CREATE OR REPLACE PROCEDURE {obj}()\n"
            "LANGUAGE plpgsql\nSECURITY INVOKER\nAS $$\nBEGIN\n"
            "    RAISE EXCEPTION 'not implemented yet';\nEND;\n$$;\n"
        )
    if kind == "function":
        return (
            f"-- dwh:object function {obj}()\n"
            f"CREATE OR REPLACE FUNCTION {obj}()\nRETURNS void\n"
            "LANGUAGE plpgsql\nSECURITY INVOKER\nAS $$\nBEGIN\n"
            "    RAISE EXCEPTION 'not implemented yet';\nEND;\n$$;\n"
        )
    return f"-- dwh:object view {obj}\nCREATE OR REPLACE VIEW {obj} AS\nSELECT 1 AS placeholder;\n"


def start_next_version(sql_dir: Path, obj: str, kind: str = "procedure") -> SqlFile:
    """Copy the latest version of ``obj`` to the next number (or write a skeleton
    first version) and return the new file."""
    folder = object_dir(sql_dir, obj)
    existing = versions(sql_dir, obj)
    nxt = (existing[-1] + 1) if existing else 1
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{nxt:04d}.sql"
    if existing:
        target.write_bytes((folder / f"{existing[-1]:04d}.sql").read_bytes())
    else:
        target.write_text(skeleton(obj, kind), encoding="utf-8")
    return load(sql_dir, obj, nxt)
