"""Migrations: version numbering, fresh create, refusing newer, backup + one-transaction upgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from projects_schema import LATEST_VERSION, SchemaError, SchemaTooNewError, migrate, migrations
from projects_schema.migrate import split_statements


def test_migrations_are_numbered_without_gaps() -> None:
    numbers = [n for n, _ in migrations()]
    assert numbers == list(range(1, LATEST_VERSION + 1))
    assert LATEST_VERSION >= 1


def test_fresh_database_gets_the_whole_data_model(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    conn = sqlite3.connect(db, isolation_level=None)
    result = migrate(conn, db)
    assert (result.from_version, result.to_version, result.backup) == (0, LATEST_VERSION, None)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "clips", "faces", "persons", "masks", "models", "jobs", "job_metrics", "renders"} <= tables
    face_cols = {r[1] for r in conn.execute("PRAGMA table_info(faces)")}
    for col in ("x0", "landmarks", "score", "face_type", "alignment", "yaw", "pitch", "roll", "sharpness",
                "mouth_open", "eyes_open", "smile", "brow_raise", "embedding", "person_id", "excluded", "crop_path"):
        assert col in face_cols
    job_cols = {r[1] for r in conn.execute("PRAGMA table_info(jobs)")}
    for col in ("state", "params", "progress", "status_text", "error_text", "heartbeat_at",
                "cancel_requested", "pause_requested", "created_at", "started_at", "finished_at"):
        assert col in job_cols
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION


def test_newer_database_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 3}")
    before = db.read_bytes()
    with pytest.raises(SchemaTooNewError, match="newer Facesmith"):
        migrate(conn, db)
    assert db.read_bytes() == before


def _write_migrations(folder: Path, *scripts: str) -> None:
    folder.mkdir()
    for n, text in enumerate(scripts, start=1):
        (folder / f"{n:04d}_step.sql").write_text(text)


def test_older_database_is_backed_up_then_migrated(tmp_path: Path) -> None:
    folder = tmp_path / "migs"
    _write_migrations(folder, "CREATE TABLE a (x INTEGER);", "ALTER TABLE a ADD COLUMN y TEXT;\nCREATE TABLE b (z);")
    db = tmp_path / "p.db"
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn, db, target=1, folder=folder)
    conn.execute("INSERT INTO a (x) VALUES (7)")
    result = migrate(conn, db, target=2, folder=folder)
    assert result.from_version == 1 and result.to_version == 2
    assert result.backup is not None and result.backup.name == "p.db.v1.bak"
    old = sqlite3.connect(result.backup)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    assert old.execute("SELECT x FROM a").fetchall() == [(7,)]
    assert conn.execute("SELECT x, y FROM a").fetchall() == [(7, None)]


def test_failing_step_rolls_back_every_step(tmp_path: Path) -> None:
    folder = tmp_path / "migs"
    _write_migrations(folder, "CREATE TABLE a (x);", "CREATE TABLE b (y);", "INSERT INTO nowhere VALUES (1);")
    db = tmp_path / "p.db"
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn, db, target=1, folder=folder)
    with pytest.raises(SchemaError, match="0003_step.sql"):
        migrate(conn, db, target=3, folder=folder)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'b'").fetchone()[0] == 0


def test_gap_in_numbering_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "migs"
    folder.mkdir()
    (folder / "0001_a.sql").write_text("CREATE TABLE a (x);")
    (folder / "0003_c.sql").write_text("CREATE TABLE c (x);")
    with pytest.raises(SchemaError, match="expected 2"):
        migrations(folder)


def test_split_statements_keeps_triggers_and_skips_comments() -> None:
    script = """-- comment only
CREATE TABLE t (x);
CREATE TRIGGER tr AFTER INSERT ON t BEGIN
  UPDATE t SET x = 1;
END;
-- trailing
"""
    parts = split_statements(script)
    assert len(parts) == 2 and parts[1].startswith("CREATE TRIGGER") and parts[1].endswith("END;")
