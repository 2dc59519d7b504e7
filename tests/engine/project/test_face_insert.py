"""The columnar bulk insert: same rows as the NewFace path, checked input, checkpoint off-thread."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import sqlite3
import threading

from engine.project.face_insert import DEFER_CHECKPOINT_ROWS, PIPELINE_CHUNK_ROWS, FaceBatch
from engine.project.models import NewClip, NewFace
from engine.project.store import ProjectStore


def _store(tmp_path: Path) -> tuple[ProjectStore, int]:
    store = ProjectStore.create(tmp_path / "p")
    clips, _ = store.insert_clips([NewClip(
        name="c", role="dst", path=tmp_path / "c.mp4", size_bytes=1, fingerprint="f", width=64, height=64,
        fps=Fraction(25), frame_count=100_000, duration_s=4000.0, rotation=0, codec="h264", audio_streams=0,
        audio_codec=None)])
    return store, clips[0].id


def _faces(clip_id: int, n: int, rng: np.random.Generator) -> list[NewFace]:
    return [NewFace(clip_id=clip_id, frame=i, idx=0, box=(1.0, 2.0, 30.0 + i, 40.0), score=0.5 + i / (2 * n),
                    landmarks=rng.uniform(0, 64, (68, 2)).astype(np.float32), face_type="whole", crop_size=128,
                    alignment=rng.standard_normal((2, 3)), yaw=None if i % 3 else float(i), sharpness=1.5,
                    embedding=None if i % 2 else rng.standard_normal(128).astype(np.float32),
                    person_id=None, excluded=bool(i % 5 == 0), swap_excluded=bool(i % 7 == 0),
                    crop_path=f"faces/0000/{i}.jpg")
            for i in range(n)]


def test_a_batch_stores_exactly_what_the_faces_hold(tmp_path: Path) -> None:
    store, clip_id = _store(tmp_path)
    faces = _faces(clip_id, 50, np.random.default_rng(1))
    ids = store.add_faces(FaceBatch.from_faces(faces)).ids("faces")
    stored = store.faces(clip_id=clip_id)
    assert sorted(ids) == [f.id for f in stored]
    for new, got in zip(faces, stored, strict=True):
        assert (got.frame, got.box, got.score, got.yaw, got.sharpness, got.excluded, got.swap_excluded,
                got.crop_path) == (new.frame, new.box, new.score, new.yaw, new.sharpness, new.excluded,
                                   new.swap_excluded, new.crop_path)
        assert (got.face_type, got.crop_size, got.track_id, got.person_id, got.idx) == ("whole", 128, None, None, 0)
        np.testing.assert_array_equal(got.landmarks, new.landmarks)
        np.testing.assert_array_equal(got.alignment, new.alignment)
        if new.embedding is None:
            assert got.embedding is None
        else:
            np.testing.assert_allclose(got.embedding, new.embedding, atol=2e-2)
    store.close()


@pytest.mark.parametrize("bad, message", [
    ({"face_type": "torso"}, "unknown face type 'torso'"),
    ({"landmarks": np.zeros((3, 68, 3), np.float32)}, "landmarks must be 3x68x2"),
    ({"frame": [0, 1]}, "column frame has 2 values for 3 faces"),
    ({"excluded": [0, 2, 1]}, "excluded must be 0 or 1"),
    ({"swap_excluded": [False, False, 7]}, "swap_excluded must be 0 or 1"),
])
def test_bad_input_is_refused_and_changes_nothing(tmp_path: Path, bad: dict, message: str) -> None:
    store, clip_id = _store(tmp_path)
    batch = FaceBatch.from_faces(_faces(clip_id, 3, np.random.default_rng(2)))
    fields = {k: getattr(batch, k) for k in batch.__dataclass_fields__}
    if "face_type" in bad:
        bad = {"face_type": ["whole", bad["face_type"], "whole"]}
    with pytest.raises(ValueError, match=message):
        store.add_faces(FaceBatch(**{**fields, **bad}))
    assert store.faces() == []
    store.close()


def test_a_big_insert_leaves_its_checkpoint_to_a_thread_and_loses_nothing(tmp_path: Path) -> None:
    store, clip_id = _store(tmp_path)
    n = DEFER_CHECKPOINT_ROWS + 10
    store.add_faces(FaceBatch.from_faces(_faces(clip_id, n, np.random.default_rng(3))))
    assert store._checkpointer is not None and store._checkpointer.wait(30)
    assert store._checkpointer.last_error is None
    wal = store.db_path.with_name(store.db_path.name + "-wal")
    assert wal.exists()
    store.add_faces(_faces(clip_id, 0, np.random.default_rng(4)))  # small writes keep working
    store.close()
    reopened = ProjectStore.open(tmp_path / "p.facesmith")
    assert reopened.scalar("SELECT count(*) FROM faces") == n
    assert reopened.scalar("PRAGMA wal_autocheckpoint") == 1000
    reopened.close()


def test_a_pipelined_insert_stores_every_chunk_in_order(tmp_path: Path) -> None:
    """Big batches are cut into chunks by a thread; every row lands, in order, byte-exact."""
    store, clip_id = _store(tmp_path)
    n = max(DEFER_CHECKPOINT_ROWS, 3 * PIPELINE_CHUNK_ROWS) + 17  # several chunks and a short last one
    faces = _faces(clip_id, n, np.random.default_rng(5))
    store.add_faces(FaceBatch.from_faces(faces))
    stored = store.faces(clip_id=clip_id)
    assert [f.frame for f in stored] == list(range(n))
    for i in (0, PIPELINE_CHUNK_ROWS - 1, PIPELINE_CHUNK_ROWS, n - 1):
        np.testing.assert_array_equal(stored[i].landmarks, faces[i].landmarks)
        np.testing.assert_array_equal(stored[i].alignment, faces[i].alignment)
        assert stored[i].excluded == faces[i].excluded and stored[i].swap_excluded == faces[i].swap_excluded
    assert not [t for t in threading.enumerate() if t.name == "face-insert-rows"]
    store.close()


def test_a_failing_pipelined_insert_stores_nothing_and_stops_its_thread(tmp_path: Path) -> None:
    store, clip_id = _store(tmp_path)
    n = DEFER_CHECKPOINT_ROWS + 10
    faces = _faces(clip_id, n, np.random.default_rng(6))
    faces[n - 3] = faces[2]  # the same (clip, frame, idx) twice, late in the batch: a later chunk fails
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        store.add_faces(FaceBatch.from_faces(faces))
    assert store.scalar("SELECT count(*) FROM faces") == 0
    assert not [t for t in threading.enumerate() if t.name == "face-insert-rows"]
    store.close()


def test_the_bulk_insert_restores_the_tables_checks_and_cache(tmp_path: Path) -> None:
    """The bulk insert skips the 0/1 CHECKs it verified itself; every other write still has them."""
    store, clip_id = _store(tmp_path)
    cache = store.scalar("PRAGMA cache_size")
    store.add_faces(FaceBatch.from_faces(_faces(clip_id, DEFER_CHECKPOINT_ROWS + 1, np.random.default_rng(7))))
    assert store.scalar("PRAGMA ignore_check_constraints") == 0
    assert store.scalar("PRAGMA cache_size") == cache
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"), store.transaction() as c:
        c.execute("UPDATE faces SET excluded = 3 WHERE frame = 0")
    assert store.scalar("SELECT count(*) FROM faces WHERE excluded NOT IN (0, 1)") == 0
    store.close()
