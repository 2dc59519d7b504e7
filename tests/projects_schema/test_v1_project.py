"""A project written by Facesmith's first release (schema v1) opens, is backed up and
migrates with nothing lost.

``tests/data/v1_project/project.db`` was made by the v1 code: two GRID clips extracted
(150 faces), 5 src and 3 dst faces excluded, a person renamed, 6 hull keyframes, a noop
job with metrics. Later migrations must keep this test green: it is the fixed point.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from engine.project import layout
from engine.project.clips import relink_missing
from engine.project.store import ProjectStore
from projects_schema import LATEST_VERSION

V1_DB = Path(__file__).resolve().parents[1] / "data" / "v1_project" / "project.db"


def _rows(db: Path, sql: str, *, immutable: bool = False) -> list[tuple]:
    # The fixture in the repo is read as immutable: no -shm/-wal files beside it.
    conn = sqlite3.connect(f"file:{db}?mode=ro{'&immutable=1' if immutable else ''}", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def v1_project(tmp_path: Path) -> Path:
    root = tmp_path / ("Old" + layout.PROJECT_SUFFIX)
    root.mkdir()
    shutil.copy2(V1_DB, root / layout.DB_NAME)
    return root


def test_fixture_is_v1() -> None:
    assert _rows(V1_DB, "PRAGMA user_version", immutable=True) == [(1,)]


def test_v1_project_migrates_with_nothing_lost(v1_project: Path, sample_clips: dict[str, Path]) -> None:
    before = {
        table: _rows(v1_project / layout.DB_NAME, f"SELECT * FROM {table} ORDER BY 1, 2")
        for table in ("clips", "faces", "persons", "masks", "jobs", "job_metrics", "scanned_frames")
    }
    with ProjectStore.open(v1_project) as store:
        assert store.scalar("PRAGMA user_version") == LATEST_VERSION
        assert store.scalar("PRAGMA integrity_check") == "ok"
        faces = store.faces()
        assert len(faces) == 150
        # v1's one flag meant both "not trained" and "not merged": both are kept.
        old_excluded = {r[0] for r in before["faces"] if r[24]}
        assert len(old_excluded) == 8
        assert {f.id for f in faces if f.excluded} == old_excluded
        assert {f.id for f in faces if f.swap_excluded} == old_excluded
        assert store.face_columns()["swap_excluded"].sum() == 8
        for old, new in zip(before["faces"], faces, strict=True):
            assert old[0] == new.id and old[1:4] == (new.clip_id, new.frame, new.idx)
        assert [p.name for p in store.persons()][:1] == ["Speaker A"]
        assert store.scalar("SELECT count(*) FROM masks WHERE kind = 'label'") == 6
        assert store.scalar("SELECT count(*) FROM job_metrics") == len(before["job_metrics"]) > 0
        assert store.scalar("SELECT count(*) FROM jobs") == len(before["jobs"])
        assert store.scalar("SELECT count(*) FROM scanned_frames") == len(before["scanned_frames"])
        # The clips were made on another machine; relinking by content finds them.
        relink_missing(store, sample_clips["bbaf2n"].parent)
        assert not any(c.missing for c in store.clips())
    backup = v1_project / f"{layout.DB_NAME}.v1.bak"
    assert backup.exists()
    for table, rows in before.items():
        assert _rows(backup, f"SELECT * FROM {table} ORDER BY 1, 2") == rows, table


def test_v1_swap_exclusion_drives_the_merge_and_is_separate(v1_project: Path) -> None:
    with ProjectStore.open(v1_project) as store:
        dst = store.find_clip("lbax4n")
        face = next(f for f in store.faces(clip_id=dst.id) if not f.excluded)
        store.set_swap_excluded([face.id], True)
        again = store.face(face.id)
        assert again.swap_excluded and not again.excluded
        store.set_excluded([face.id], True)
        store.set_swap_excluded([face.id], False)
        again = store.face(face.id)
        assert again.excluded and not again.swap_excluded
