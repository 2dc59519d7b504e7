"""The parts of extraction on small made-up data: plans, batches, tracks, samples, persons."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.extract.persons import assign_persons
from engine.extract.scan import ClipPlan, plan_clip
from engine.extract.tracks import embedding_samples, link_clip
from engine.project.faces import create_persons, crop_path, set_face_column, store_scan_batch
from engine.project.models import NewClip, NewFace
from engine.project.store import ProjectStore


def _clip(store: ProjectStore, tmp_path: Path, name: str = "c") -> int:
    clips, _ = store.insert_clips([NewClip(
        name=name, role="dst", path=tmp_path / f"{name}.mp4", size_bytes=1, fingerprint=f"fp-{name}", width=640,
        height=360, fps=Fraction(25), frame_count=100, duration_s=4.0, rotation=0, codec="h264", audio_streams=0,
        audio_codec=None)])
    return clips[0].id


def _face(clip_id: int, frame: int, x: float, idx: int = 0) -> NewFace:
    base = np.stack(np.meshgrid(np.linspace(0, 60, 17), np.linspace(0, 60, 4)), -1).reshape(-1, 2)[:68]
    return NewFace(clip_id=clip_id, frame=frame, idx=idx, box=(x, 50.0, x + 80.0, 130.0), score=1.0,
                   landmarks=(base + (x + 10, 60)).astype(np.float32), face_type="whole", crop_size=64,
                   alignment=np.eye(2, 3), sharpness=float(frame % 7))


def test_plan_skips_stored_frames_and_groups_runs(project: ProjectStore, tmp_path: Path) -> None:
    clip_id = _clip(project, tmp_path)
    store_scan_batch(project, [], [], [(clip_id, f, 0) for f in (0, 2, 4, 10, 12)])
    plan = plan_clip(project, project.clip(clip_id), 0, 20, 2)
    assert plan.already_done == 5
    assert plan.frames == (6, 8, 14, 16, 18) and plan.runs() == [(6, 9), (14, 19)]
    plan = plan_clip(project, project.clip(clip_id), None, None, 1)
    assert plan.already_done == 5 and len(plan.frames) == 95
    many = ClipPlan(plan.clip, tuple(range(0, 100, 3)), 2, 0)
    assert many.runs() == [(0, 100)]  # too fragmented: one filtered pass


def test_batch_crops_are_named_by_face_id(project: ProjectStore, tmp_path: Path) -> None:
    clip_id = _clip(project, tmp_path)
    ids = store_scan_batch(project, [_face(clip_id, 3, 10.0), _face(clip_id, 3, 300.0, idx=1)],
                           [b"one", b"two"], [(clip_id, 3, 2), (clip_id, 4, 0)])
    assert [project.face(i).crop_path for i in ids] == [crop_path(i) for i in ids]
    assert [(project.root / crop_path(i)).read_bytes() for i in ids] == [b"one", b"two"]
    assert project.scalar("SELECT count(*) FROM scanned_frames") == 2


def test_batch_crops_follow_ids_numbered_otherwise(project: ProjectStore, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Should add_faces ever number rows differently, crops are moved to their ids."""
    clip_id = _clip(project, tmp_path)
    original = project.add_faces

    def shifted(faces):  # takes an id first, as another numbering scheme might
        original([replace(_face(clip_id, 99, 0.0), crop_path=None)])
        return original(faces)

    monkeypatch.setattr(project, "add_faces", shifted)
    ids = store_scan_batch(project, [_face(clip_id, 1, 10.0), _face(clip_id, 2, 10.0)], [b"a", b"b"], [])
    assert ids == [2, 3]
    assert [(project.root / project.face(i).crop_path).read_bytes() for i in ids] == [b"a", b"b"]
    assert not list((project.root / "faces").rglob("*.renumber"))


def test_linking_keeps_existing_tracks_and_numbers_new_ones_after(project: ProjectStore, tmp_path: Path) -> None:
    clip_id = _clip(project, tmp_path)
    first = store_scan_batch(project, [_face(clip_id, f, 10.0 + f) for f in range(5)], [b""] * 5, [])
    set_face_column(project, "track_id", dict.fromkeys(first, 7))
    later = [_face(clip_id, f, 10.0 + f) for f in range(5, 9)] + [_face(clip_id, f, 400.0, idx=1) for f in range(5, 9)]
    store_scan_batch(project, later, [b""] * len(later), [])
    tracks = link_clip(project, clip_id)
    assert set(tracks) == set(range(6, 14))  # only faces without a track
    assert [tracks[i] for i in range(6, 14)] == [7] * 4 + [8] * 4  # track 7 continued; a new one after it


def test_samples_spread_over_the_track_and_count_what_is_there() -> None:
    n = 20
    data = {"id": np.arange(100, 100 + n), "frame": np.arange(n), "track_id": np.zeros(n, np.int64),
            "person_id": np.full(n, -1), "sharpness": np.arange(n, dtype=np.float64) % 5,
            "has_embedding": np.zeros(n, bool)}
    picked = embedding_samples(data, 4)
    assert picked == [104, 109, 114, 119]  # the sharpest of each quarter
    data["has_embedding"][[3, 7, 12]] = True
    assert len(embedding_samples(data, 4)) == 1
    data["person_id"][:] = 5
    assert embedding_samples(data, 4) == []  # nothing left to identify


def test_tracks_match_existing_persons_then_cluster_the_rest(project: ProjectStore, tmp_path: Path) -> None:
    clip_id = _clip(project, tmp_path)
    rng = np.random.default_rng(0)
    anna, ben, cleo = (rng.standard_normal(128) * 0.25 for _ in range(3))
    # "ben again" comes later in the clip: two faces of one frame are never one person.
    faces = [_face(clip_id, f + (10 if k == 2 else 0), 10.0 + 200 * k, idx=k) for k in range(4) for f in range(3)]
    faces.sort(key=lambda f: (f.frame, f.idx))
    ids = store_scan_batch(project, faces, [b""] * len(faces), [])
    by_k = {(f.frame, f.idx): i for f, i in zip(faces, ids, strict=True)}
    tracks = [[by_k[(f + (10 if k == 2 else 0), k)] for f in range(3)] for k in range(4)]  # anna, ben, ben, cleo
    (existing,) = create_persons(project, 1)
    (old,) = store_scan_batch(project, [_face(clip_id, 50, 10.0)], [b""], [])
    set_face_column(project, "embedding", {old: anna})
    set_face_column(project, "person_id", {old: existing})
    set_face_column(project, "track_id", {old: 9, **{i: t for t, members in enumerate(tracks) for i in members}})
    set_face_column(project, "embedding", {tracks[0][1]: anna + 0.01, tracks[1][0]: ben, tracks[1][2]: ben + 0.02,
                                           tracks[2][1]: ben - 0.01, tracks[3][0]: cleo})
    report = assign_persons(project, [clip_id])
    person = {f.id: f.person_id for f in project.faces()}
    assert {person[i] for i in tracks[0]} == {existing} and report.matched_existing == 1
    assert [p.name for p in project.persons()] == ["Person 1", "Person 2", "Person 3"]
    assert len(report.new_persons) == 2
    assert {person[i] for i in tracks[1] + tracks[2]} == {report.new_persons[0]}  # two tracks, one person
    assert {person[i] for i in tracks[3]} == {report.new_persons[1]}
    assert person[old] == existing
