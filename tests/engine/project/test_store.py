"""ProjectStore: create/open, bad projects, faces round trip, change sets and undo."""

from __future__ import annotations

import shutil
import sqlite3
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ProjectError
from engine.project.changes import ChangeSet
from engine.project.models import NewClip, NewFace
from engine.project.store import ProjectStore
from projects_schema import LATEST_VERSION


def _clip(tmp_path: Path, name: str = "c", role: str = "dst") -> NewClip:
    return NewClip(name=name, role=role, path=tmp_path / f"{name}.mp4", size_bytes=10, fingerprint=f"fp-{name}",
                   width=640, height=360, fps=Fraction(30000, 1001), frame_count=300, duration_s=10.01,
                   rotation=0, codec="h264", audio_streams=1, audio_codec="aac")


def _face(clip_id: int, frame: int, rng: np.random.Generator, **kw) -> NewFace:
    return NewFace(clip_id=clip_id, frame=frame, idx=kw.pop("idx", 0), box=(1.5, 2.5, 100.25, 120.0), score=0.87,
                   landmarks=rng.uniform(0, 640, (68, 2)).astype(np.float32), face_type="whole", crop_size=256,
                   alignment=rng.standard_normal((2, 3)), yaw=12.5, pitch=-3.0, roll=1.0, sharpness=42.0,
                   mouth_open=0.2, eyes_open=0.3, smile=0.4, brow_raise=0.5,
                   embedding=rng.standard_normal(128).astype(np.float32) * 0.1, **kw)


def test_create_makes_the_folder_layout(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "Show") as store:
        assert store.root == (tmp_path / "Show.facesmith").resolve()
        for sub in ("faces", "models", "previews", "renders", "logs", "cache"):
            assert (store.root / sub).is_dir()
        assert store.name == "Show"
        assert store.scalar("PRAGMA journal_mode") == "wal"
        assert store.scalar("PRAGMA foreign_keys") == 1
        assert store.scalar("PRAGMA user_version") == LATEST_VERSION


def test_create_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    target = tmp_path / "X.facesmith"
    target.mkdir()
    (target / "something.txt").write_text("keep me")
    with pytest.raises(ProjectError, match="already exists"):
        ProjectStore.create(target)
    assert sorted(p.name for p in target.iterdir()) == ["something.txt"]


def test_open_refuses_what_is_not_a_project(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ProjectError, match=r"plain: not a Facesmith project \(no project.db"):
        ProjectStore.open(plain)
    with pytest.raises(ProjectError, match="no such project folder"):
        ProjectStore.open(tmp_path / "nothing")
    fake = tmp_path / "fake.facesmith"
    fake.mkdir()
    (fake / "project.db").write_text("hello")
    with pytest.raises(ProjectError, match="not an SQLite file"):
        ProjectStore.open(fake)
    other = tmp_path / "other.facesmith"
    other.mkdir()
    sqlite3.connect(other / "project.db").execute("CREATE TABLE x (y)")
    with pytest.raises(ProjectError, match="not a Facesmith project database"):
        ProjectStore.open(other)
    assert sorted(p.name for p in plain.iterdir()) == []


def test_open_refuses_a_newer_schema_and_changes_nothing(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "New") as store:
        root = store.root
    conn = sqlite3.connect(root / "project.db")
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.close()
    before = (root / "project.db").read_bytes()
    with pytest.raises(ProjectError, match=r"project.db: written by a newer Facesmith \(schema version"):
        ProjectStore.open(root)
    assert (root / "project.db").read_bytes() == before
    assert not list(root.glob("*.bak"))


def test_open_migrates_an_older_project_after_a_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import engine.project.store as store_mod

    mig = importlib.import_module("projects_schema.migrate")

    with ProjectStore.create(tmp_path / "Old") as store:
        root = store.root
    # Pretend this program knows a version 2 that adds a column.
    folder = tmp_path / "migs"
    folder.mkdir()
    for n, p in mig.migrations():
        shutil.copy(p, folder / p.name)
    (folder / f"{LATEST_VERSION + 1:04d}_extra.sql").write_text("ALTER TABLE clips ADD COLUMN note TEXT;")
    real = mig.migrate
    monkeypatch.setattr(store_mod, "LATEST_VERSION", LATEST_VERSION + 1)
    monkeypatch.setattr(store_mod, "migrate", lambda c, p: real(c, p, target=LATEST_VERSION + 1, folder=folder))
    with ProjectStore.open(root) as store:
        assert store.scalar("PRAGMA user_version") == LATEST_VERSION + 1
        assert "note" in store.columns("clips")
    backups = list(root.glob("project.db.v*.bak"))
    assert [b.name for b in backups] == [f"project.db.v{LATEST_VERSION}.bak"]


def test_read_only_open_of_a_project(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "RO") as store:
        store.insert_clips([_clip(tmp_path)])
        root = store.root
    with ProjectStore.open(root, readonly=True) as ro:
        assert [c.name for c in ro.clips()] == ["c"]
        with pytest.raises(ProjectError, match="read-only"):
            ro.set_meta("x", "y")


def test_clips_round_trip(project: ProjectStore, tmp_path: Path) -> None:
    clips, cs = project.insert_clips([_clip(tmp_path, "a", "src"), _clip(tmp_path, "b")])
    assert [c.name for c in clips] == ["a", "b"]
    assert cs.touches("clips") and cs.ids("clips") == {c.id for c in clips}
    again = project.clip(clips[0].id)
    assert again.fps == Fraction(30000, 1001) and again.role == "src" and again.frame_range == (0, 300)
    assert project.find_clip("b").id == clips[1].id
    assert project.find_clip(str(clips[1].id)).name == "b"
    with pytest.raises(ProjectError, match="no clip named 'zzz'"):
        project.find_clip("zzz")
    assert again.missing  # the file does not exist


def test_faces_round_trip_keeps_every_value(project: ProjectStore, tmp_path: Path) -> None:
    (clip,), _ = project.insert_clips([_clip(tmp_path)])
    rng = np.random.default_rng(1)
    new = [_face(clip.id, f, rng) for f in range(20)]
    cs = project.add_faces(new)
    assert len(cs.ids("faces")) == 20 and not cs.undoable
    faces = project.faces(clip_id=clip.id, frames=(5, 10))
    assert [f.frame for f in faces] == [5, 6, 7, 8, 9]
    f, n = faces[0], new[5]
    np.testing.assert_array_equal(f.landmarks, n.landmarks)
    np.testing.assert_array_equal(f.alignment, n.alignment)
    np.testing.assert_allclose(f.embedding, n.embedding, atol=1e-3)  # stored as float16
    assert f.box == n.box and f.face_type == "whole" and f.yaw == 12.5 and not f.excluded


def test_face_rows_are_validated(project: ProjectStore, tmp_path: Path) -> None:
    (clip,), _ = project.insert_clips([_clip(tmp_path)])
    rng = np.random.default_rng(2)
    bad = _face(clip.id, 0, rng)
    object.__setattr__(bad, "face_type", "elbow")
    with pytest.raises(ValueError, match="unknown face type"):
        project.add_faces([_face(clip.id, 1, rng), bad])
    assert project.faces() == []  # all or nothing


def test_exclude_is_one_undoable_change(project: ProjectStore, tmp_path: Path) -> None:
    (clip,), _ = project.insert_clips([_clip(tmp_path)])
    rng = np.random.default_rng(3)
    project.add_faces(_face(clip.id, f, rng) for f in range(10))
    ids = [f.id for f in project.faces()][:3]
    cs = project.set_excluded(ids, True)
    assert cs.label == "Exclude 3 faces" and cs.undoable and cs.ids("faces") == set(ids)
    assert project.face_counts()[clip.id] == (10, 3)
    project.apply(cs.inverse())
    assert project.face_counts()[clip.id] == (10, 0)
    project.apply(cs)
    assert sorted(f.id for f in project.faces() if f.excluded) == ids


def test_changeset_summary_round_trip() -> None:
    cs = ChangeSet.bulk("faces", [3, 1, 2], label="x").merged(ChangeSet.bulk("clips", None))
    again = ChangeSet.from_summary(cs.summary())
    assert again.ids("faces") == {1, 2, 3} and again.ids("clips") is None and again.touches("clips")
    with pytest.raises(ValueError):
        cs.inverse()


def test_deleting_a_clip_cascades_to_faces(project: ProjectStore, tmp_path: Path) -> None:
    (clip,), _ = project.insert_clips([_clip(tmp_path)])
    project.add_faces(_face(clip.id, f, np.random.default_rng(4)) for f in range(3))
    row = project.row("clips", clip.id)
    with project.transaction() as c:
        c.execute("DELETE FROM clips WHERE id = ?", (clip.id,))
    assert project.faces() == [] and row is not None


def test_two_connections_write_without_lock_errors(project: ProjectStore) -> None:
    import threading

    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with project.reopen() as s:
                for i in range(100):
                    s.set_meta(f"k{n}", str(i))
        except BaseException as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {project.meta(f"k{n}") for n in range(4)} == {"99"}


def test_inside_keeps_paths_in_the_project(tmp_path: Path) -> None:
    from engine.project.layout import inside

    assert inside(tmp_path, "faces/a.jpg") == (tmp_path / "faces" / "a.jpg").resolve()
    with pytest.raises(ValueError, match="leaves the project folder"):
        inside(tmp_path, "../../etc/passwd")


def test_opening_a_second_store_keeps_the_first_connections_locks(tmp_path: Path) -> None:
    """Regression: closing any descriptor of project.db drops the process's POSIX locks,
    which left an engine client blind to the engine's commits. Opening must not do that."""
    with ProjectStore.create(tmp_path / "Locks") as first:
        root = first.root
        with ProjectStore.open(root) as second:
            writer = ProjectStore.open(root)
            writer.set_meta("seen", "1")
            writer.close()
            assert second.meta("seen") == "1" and first.meta("seen") == "1"
            with ProjectStore.open(root) as third:
                third.set_meta("seen", "2")
            assert first.meta("seen") == "2" and second.meta("seen") == "2"


def test_face_columns(project: ProjectStore, tmp_path: Path) -> None:
    clips, _ = project.insert_clips([_clip(tmp_path, "a", "src"), _clip(tmp_path, "b", "dst")])
    rng = np.random.default_rng(5)
    project.add_faces([_face(clips[0].id, 0, rng), _face(clips[1].id, 3, rng, excluded=True)])
    with project.transaction() as c:
        c.execute("UPDATE faces SET yaw = NULL WHERE frame = 3")
    cols = project.face_columns()
    assert list(cols["role"]) == [0, 1] and list(cols["frame"]) == [0, 3]
    assert list(cols["excluded"]) == [False, True] and not cols["has_mask"].any()
    assert cols["yaw"][0] == 12.5 and np.isnan(cols["yaw"][1]) and cols["box_size"][0] == pytest.approx(117.5)
    assert list(project.face_columns(clip_id=clips[1].id)["id"]) == [cols["id"][1]]
