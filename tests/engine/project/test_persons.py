"""Person management edits: each is one change set that undo fully reverses."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.errors import FacesmithError
from engine.project.models import NewClip, NewFace
from engine.project.persons import exclude_all_but_best, keep_person, merge_persons, split_faces
from engine.project.store import ProjectStore


@pytest.fixture
def people(project: ProjectStore, tmp_path: Path) -> tuple[ProjectStore, list[int]]:
    (clip,), _ = project.insert_clips([NewClip(
        name="c", role="dst", path=tmp_path / "c.mp4", size_bytes=1, fingerprint="f", width=640, height=360,
        fps=Fraction(25), frame_count=100, duration_s=4.0, rotation=0, codec="h264", audio_streams=0,
        audio_codec=None)])
    persons = [project.add_person(f"P{i}")[0].id for i in range(3)]
    rng = np.random.default_rng(0)
    project.add_faces(
        NewFace(clip_id=clip.id, frame=i, idx=0, box=(0.0, 0.0, 10.0, 10.0), score=1.0,
                landmarks=np.zeros((68, 2), np.float32), face_type="whole", crop_size=256,
                alignment=np.eye(2, 3), yaw=float(rng.uniform(-40, 40)), pitch=float(rng.uniform(-20, 20)),
                sharpness=float(rng.uniform(0, 100)), person_id=persons[i % 3])
        for i in range(60)
    )
    return project, persons


def _snapshot(store: ProjectStore) -> tuple:
    return (tuple(tuple(r) for r in store.query("SELECT id, person_id, excluded FROM faces ORDER BY id")),
            tuple(tuple(r) for r in store.query("SELECT * FROM persons ORDER BY id")))


def test_merge_and_undo(people) -> None:
    store, (a, b, c) = people
    before = _snapshot(store)
    cs = merge_persons(store, [b, c], a)
    assert cs.label == "Merge P1, P2 into P0" and [p.id for p in store.persons()] == [a]
    assert store.person_face_counts()[a] == (60, 0)
    store.apply(cs.inverse())
    assert _snapshot(store) == before
    with pytest.raises(FacesmithError, match="no person with id 99"):
        merge_persons(store, [99], a)


def test_split_and_undo(people) -> None:
    store, (a, _b, _c) = people
    before = _snapshot(store)
    faces = [f.id for f in store.faces()][:5]
    new_id, cs = split_faces(store, faces, "Stand-in")
    assert {f.person_id for f in store.faces(ids=faces)} == {new_id} and cs.undoable
    store.apply(cs.inverse())
    assert _snapshot(store) == before


def test_keep_person_marks_the_others_not_swapped(people) -> None:
    store, (a, b, c) = people
    cs = keep_person(store, b)
    # A dst person: the others are left out of the swap, not out of the training set.
    assert int(store.scalar("SELECT count(*) FROM faces WHERE swap_excluded = 1")) == 40
    assert int(store.scalar("SELECT count(*) FROM faces WHERE excluded = 1")) == 0
    assert [p.wanted for p in store.persons()] == [False, True, False]
    assert "exclude 40 faces" in cs.label
    store.apply(cs.inverse())
    assert int(store.scalar("SELECT count(*) FROM faces WHERE swap_excluded = 1")) == 0
    assert not any(p.wanted for p in store.persons())


def test_best_faces_keeps_the_target_count(people) -> None:
    store, _ = people
    cs = exclude_all_but_best(store, 12, role="dst")
    assert int(store.scalar("SELECT count(*) FROM faces WHERE excluded = 0")) == 12
    assert cs.label == "Keep best 12 dst faces (exclude 48)"
    store.apply(cs.inverse())
    assert int(store.scalar("SELECT count(*) FROM faces WHERE excluded = 0")) == 60
