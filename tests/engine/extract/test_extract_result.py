"""What extraction stores, checked on the session's extracted GRID project (one real job)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pytest

from engine.faces.align import alignment_matrix
from engine.project.store import ProjectStore

if TYPE_CHECKING:
    from conftest import ExtractedProject


@pytest.fixture
def store(extracted_project: ExtractedProject) -> Iterator[ProjectStore]:
    s = ProjectStore.open(extracted_project.root, readonly=True)
    yield s
    s.close()


def test_job_reports_every_frame_and_its_speed(extracted_project: ExtractedProject) -> None:
    result = extracted_project.job.result
    assert result["message"].startswith("300 faces on 300 frames of 4 clips (")
    assert "4 new persons" in result["message"] and "frames/s" in result["message"]
    data = result["data"]
    assert data["frames"] == 300 and data["faces"] == 300 and data["corrupt_frames"] == 0
    assert data["frames_per_s"] > 0 and {"detect", "landmarks", "decode", "store", "embed"} <= set(data["stage_seconds"])
    assert set(result["changes"]) == {"faces", "persons"} and len(result["changes"]["faces"]) == 300


def test_one_face_per_frame_75_of_75_per_clip(store: ProjectStore, extracted_project: ExtractedProject) -> None:
    for name, clip_id in extracted_project.clips.items():
        faces = store.faces(clip_id=clip_id)
        assert [f.frame for f in faces] == list(range(75)), name
        assert {f.idx for f in faces} == {0}
        scanned = store.query("SELECT frame, face_count FROM scanned_frames WHERE clip_id = ? ORDER BY frame", (clip_id,))
        assert [tuple(r) for r in scanned] == [(i, 1) for i in range(75)]


def test_four_speakers_become_four_persons(store: ProjectStore, extracted_project: ExtractedProject) -> None:
    persons = store.persons()
    assert [p.name for p in persons] == ["Person 1", "Person 2", "Person 3", "Person 4"]
    per_clip = {}
    for name, clip_id in extracted_project.clips.items():
        ids = {f.person_id for f in store.faces(clip_id=clip_id)}
        assert len(ids) == 1 and None not in ids, name
        per_clip[name] = ids.pop()
    assert len(set(per_clip.values())) == 4


def test_tracks_and_sampled_embeddings(store: ProjectStore, extracted_project: ExtractedProject) -> None:
    for clip_id in extracted_project.clips.values():
        faces = store.faces(clip_id=clip_id)
        assert {f.track_id for f in faces} == {0}  # one speaker, one unbroken track
        embedded = [f for f in faces if f.embedding is not None]
        assert len(embedded) == 5  # the default sample, not every face
        frames = sorted(f.frame for f in embedded)
        assert frames[-1] - frames[0] >= 40  # spread over the track
        means = np.stack([f.embedding for f in embedded])
        assert np.linalg.norm(means - means.mean(axis=0), axis=1).max() < 0.4


def test_geometry_measures_and_crops(store: ProjectStore, extracted_project: ExtractedProject) -> None:
    faces = store.faces(clip_id=extracted_project.clips["lbax4n"])
    for f in faces[::15]:
        assert f.face_type == "whole" and f.crop_size == 256
        assert 0 <= f.landmarks[:, 0].min() and f.landmarks[:, 0].max() < 360
        assert 0 <= f.landmarks[:, 1].min() and f.landmarks[:, 1].max() < 288
        assert f.box[2] - f.box[0] >= 40 and f.score > 0
        assert np.allclose(f.alignment, alignment_matrix(f.landmarks, "whole", 256))
        assert abs(f.yaw) < 30 and abs(f.pitch) < 30 and abs(f.roll) < 20
        assert f.sharpness > 50
        assert 0 <= f.mouth_open < 1 and 0.1 < f.eyes_open < 0.5 and f.smile > 0.5 and f.brow_raise > 0.2
        assert f.crop_path == f"faces/{f.id // 1000:04d}/{f.id}.jpg"
        crop = cv2.imread(str(store.root / f.crop_path))
        assert crop is not None and crop.shape == (256, 256, 3)
    files = list((store.root / "faces").rglob("*"))
    assert not [p for p in files if p.suffix == ".tmp"]
    assert len([p for p in files if p.suffix == ".jpg"]) == 300
