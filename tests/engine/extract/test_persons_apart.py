"""Persons that stay apart, on made-up tracks: the same-frame rule in clustering, the
cross-clip evidence rule, uncertain persons, best faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.extract.persons import _Track, assign_persons, best_faces, constrained_clusters
from engine.project.face_extras import uncertain_persons
from engine.project.faces import set_face_column, store_scan_batch
from engine.project.store import ProjectStore

from .test_extract_parts import _clip, _face


def _track(clip: int, frames: range, vec: np.ndarray) -> _Track:
    return _Track([], clip, frozenset(frames), vec.astype(np.float32))


def test_tracks_sharing_a_frame_are_never_joined() -> None:
    rng = np.random.default_rng(1)
    same = rng.standard_normal(128) * 0.25
    a = _track(1, range(0, 10), same)
    b = _track(1, range(5, 15), same + 0.01)  # identical identity, but on the same frames
    c = _track(1, range(20, 30), same - 0.01)
    labels = constrained_clusters([a, b, c], 0.6)
    assert labels[0] != labels[1]
    assert labels[2] in (labels[0], labels[1])  # c joins one of them (it shares no frame)


def test_other_clips_need_stronger_evidence() -> None:
    rng = np.random.default_rng(2)
    base = rng.standard_normal(128)
    base /= np.linalg.norm(base)
    near = base * 0.0
    a = _track(1, range(10), near)
    b = _track(2, range(10), near + base * 0.55)  # 0.55 apart: same person within a clip, not across
    c = _track(1, range(20, 30), near + base * 0.55)
    assert constrained_clusters([a, b], 0.6) == [0, 1]
    assert constrained_clusters([a, c], 0.6) == [0, 0]


def test_few_faces_or_low_scores_make_an_uncertain_person(project: ProjectStore, tmp_path: Path) -> None:
    clip_id = _clip(project, tmp_path)
    rng = np.random.default_rng(3)
    real, eye = rng.standard_normal(128) * 0.25, rng.standard_normal(128) * 0.25
    faces = [_face(clip_id, f, 10.0) for f in range(20)] + [_face(clip_id, f, 300.0, idx=1) for f in (4, 5)]
    ids = store_scan_batch(project, faces, [b""] * len(faces), [])
    set_face_column(project, "track_id", {i: (0 if k < 20 else 1) for k, i in enumerate(ids)})
    set_face_column(project, "embedding", {ids[0]: real, ids[10]: real + 0.01, ids[20]: eye})
    report = assign_persons(project, [clip_id])
    person = {f.id: f.person_id for f in project.faces()}
    big, small = person[ids[0]], person[ids[20]]
    assert big != small and len(report.new_persons) == 2
    assert uncertain_persons(project) == {small} and report.uncertain == [small]
    best = best_faces(project)
    assert best[big] in ids[:20] and best[small] in ids[20:]
    # The best face is the sharpest of the near-frontal ones (``_face`` makes sharpness frame % 7).
    assert project.face(best[big]).frame % 7 == 6
