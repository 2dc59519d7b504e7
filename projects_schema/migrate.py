"""Bring a project database to the schema version this program writes.

Migrations are the files ``NNNN_name.sql`` beside this module, applied in order; the
database's ``PRAGMA user_version`` is the number of the last one applied. The rules:

- a database from a *newer* program is refused (we cannot know what its columns mean);
- an older, non-empty database is first copied to ``project.db.v<old>.bak`` with SQLite's
  online backup (consistent even in WAL mode), then all pending steps run in **one**
  transaction, so a crash mid-way leaves the old version intact;
- a fresh (version 0, empty) database is created without a backup.

Standard library only: the engine and the editor both call this before anything else.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_HERE: Final = Path(__file__).resolve().parent
_NAME: Final = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class SchemaError(Exception):
    """The database cannot be brought to the current schema."""


class SchemaTooNewError(SchemaError):
    """The database was written by a newer Facesmith."""

    def __init__(self, path: Path, found: int, supported: int) -> None:
        self.found = found
        self.supported = supported
        super().__init__(
            f"{path}: written by a newer Facesmith (schema version {found}; this version "
            f"reads up to {supported}). Update Facesmith to open this project."
        )


@dataclass(frozen=True)
class MigrationResult:
    """What :func:`migrate` did: versions before and after, and the backup it made, if any."""

    from_version: int
    to_version: int
    backup: Path | None


def migrations(folder: Path = _HERE) -> list[tuple[int, Path]]:
    """The numbered migration files, in order; numbering must be 1, 2, 3, ... without gaps."""
    found = sorted(
        (int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))
    )
    for expected, (number, path) in enumerate(found, start=1):
        if number != expected:
            raise SchemaError(f"{path}: migration number {number}, expected {expected}")
    return found


LATEST_VERSION: Final = len(migrations())


def split_statements(script: str) -> list[str]:
    """Split an SQL script into statements.

    ``executescript`` would commit the open transaction first; running statement by
    statement keeps every step of a migration inside our one transaction.
    """
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            text = pending.strip()
            if _strip_comments(text):
                statements.append(text)
            pending = ""
    if _strip_comments(pending.strip()):
        raise SchemaError(f"unterminated SQL statement: {pending.strip()[:80]!r}")
    return statements


def _strip_comments(text: str) -> str:
    return "\n".join(ln for ln in text.splitlines() if not ln.strip().startswith("--")).strip()


def _has_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    return bool(row[0])


def backup_path(db_path: Path, version: int) -> Path:
    """Where the copy made before migrating from ``version`` goes (never overwrites one)."""
    candidate = db_path.with_name(f"{db_path.name}.v{version}.bak")
    n = 1
    while candidate.exists():
        n += 1
        candidate = db_path.with_name(f"{db_path.name}.v{version}.{n}.bak")
    return candidate


def migrate(
    conn: sqlite3.Connection,
    db_path: Path,
    *,
    target: int = LATEST_VERSION,
    folder: Path = _HERE,
) -> MigrationResult:
    """Migrate the database open on ``conn`` (the file ``db_path``) to ``target``.

    The connection must not be inside a transaction. Raises :class:`SchemaTooNewError`
    for a database newer than ``target`` and :class:`SchemaError` when a step fails (the
    database is then rolled back to where it was).
    """
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > target:
        raise SchemaTooNewError(db_path, current, target)
    if current == target:
        return MigrationResult(current, current, None)

    backup = None
    if current > 0 or _has_tables(conn):
        backup = backup_path(db_path, current)
        dest = sqlite3.connect(backup)
        try:
            conn.backup(dest)
        finally:
            dest.close()

    steps = [(n, p) for n, p in migrations(folder) if current < n <= target]
    saved_isolation = conn.isolation_level
    conn.isolation_level = None  # we manage the transaction ourselves
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for number, path in steps:
                for statement in split_statements(path.read_text(encoding="utf-8")):
                    try:
                        conn.execute(statement)
                    except sqlite3.Error as exc:
                        raise SchemaError(f"{path.name}: {exc} in {statement[:80]!r}") from exc
                conn.execute(f"PRAGMA user_version = {int(number)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.isolation_level = saved_isolation
    return MigrationResult(current, target, backup)
