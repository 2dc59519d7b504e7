"""FaceSwap alignments written by the tests' own writer (writers.py) come onto the
video's frames; bad files are refused with the file named and the project unchanged."""

from __future__ import annotations

import json
import os
import pickle
import zlib
from pathlib import Path

import numpy as np
import pytest

from writers import fs_face, png_with_itxt, write_fsa

from engine.faces.shape68 import MEAN_SHAPE_68
from engine.interop import InteropError
from engine.interop.import_faceswap import import_faceswap
from engine.masks.repo import get_prediction


def _landmarks(frame: int) -> np.ndarray:
    # A face of ~120 px around the middle of the 360x288 GRID frame.
    return np.asarray(MEAN_SHAPE_68, np.float64) * 120 + np.array([120.0 + frame, 80.0])


def _box(lm: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = lm.min(axis=0)
    x1, y1 = lm.max(axis=0)
    return x0, y0, x1 - x0, y1 - y0


@pytest.fixture
def video(project, clip_copy):
    from engine.project.clips import add_clips

    (clip,), _ = add_clips(project, [clip_copy("bbaf2n")], "dst")
    return clip


def _stored_mask() -> np.ndarray:
    m = np.zeros((128, 128), np.uint8)
    m[32:96, 32:96] = 255
    return m


def test_fsa_faces_and_masks_land_on_the_video_frames(project, video, tmp_path: Path) -> None:
    frames = {}
    for f in range(3):
        lm = _landmarks(f)
        x, y, w, h = _box(lm)
        # REFERENCE: the mask's affine maps the stored square to the frame.
        affine = np.array([[w / 128.0, 0.0, x], [0.0, h / 128.0, y]])
        frames[f"bbaf2n_{f + 1:06d}.mpg"] = [fs_face(x, y, w, h, lm, _stored_mask(), affine)]
    s = import_faceswap(project, write_fsa(tmp_path / "bbaf2n_alignments.fsa", frames), clip=video.name)
    assert s.faces == 3 and s.predicted_masks == 3 and not s.broken
    faces = project.faces(clip_id=video.id)
    assert [f.frame for f in faces] == [0, 1, 2]
    for face in faces:
        assert np.abs(face.landmarks - _landmarks(face.frame).astype(np.float32)).max() < 1e-3
        assert (project.root / face.crop_path).is_file()
        pred = get_prediction(project, face.id)
        # The stored square's middle is the face box's middle: the crop's middle is in the mask.
        assert pred.mask[128, 128] > 200 and pred.mask[2, 2] == 0


def test_mask_matrix_in_faceswaps_own_direction_also_reads(project, video, tmp_path: Path) -> None:
    lm = _landmarks(0)
    x, y, w, h = _box(lm)
    frame_to_stored = np.array([[128.0 / w, 0.0, -x * 128.0 / w], [0.0, 128.0 / h, -y * 128.0 / h]])
    fsa = write_fsa(tmp_path / "a.fsa", {"bbaf2n_000001.mpg": [fs_face(x, y, w, h, lm, _stored_mask(), frame_to_stored)]})
    import_faceswap(project, fsa, clip=video.name)
    (face,) = project.faces(clip_id=video.id)
    assert get_prediction(project, face.id).mask[128, 128] > 200


def test_old_json_alignments(project, video, tmp_path: Path) -> None:
    lm = _landmarks(4)
    x, y, w, h = _box(lm)
    path = tmp_path / "old_alignments.json"
    path.write_text(json.dumps({"bbaf2n_000005.png": [{"x": x, "y": y, "w": w, "h": h,
                                                       "landmarks_xy": lm.tolist()}],
                                "bbaf2n_000007.png": [{"x": x, "y": y, "w": w, "h": h,
                                                       "landmarksXY": lm.tolist()}]}))
    s = import_faceswap(project, path, clip=video.name)
    assert s.faces == 2 and [f.frame for f in project.faces(clip_id=video.id)] == [4, 6]


def _fsa_bytes(landmarks: np.ndarray, name: str = "bbaf2n_000001.mpg") -> bytes:
    x, y, w, h = _box(landmarks)
    obj = {"__meta__": {"version": 2.4}, "__data__": {name: {"faces": [fs_face(x, y, w, h, landmarks)],
                                                             "video_meta": {}}}}
    return zlib.compress(pickle.dumps(obj))


class _Payload:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.mark.parametrize("case, problem", [
    ("truncated", "truncated"),
    ("other_video", "different video"),
    ("bad_landmarks", "must be 68x2"),
    ("payload", "not plain data"),
])
def test_bad_alignments_are_refused(project, video, tmp_path: Path, unchanged, case: str, problem: str) -> None:
    target = tmp_path / "pwned"
    if case == "truncated":
        data = _fsa_bytes(_landmarks(0))[:-20]
    elif case == "other_video":
        data = _fsa_bytes(_landmarks(0), "holiday_000001.mp4")
    elif case == "bad_landmarks":
        data = _fsa_bytes(np.zeros((98, 2)))
    else:
        data = zlib.compress(pickle.dumps({"__meta__": {"version": 2.4}, "__data__": {"x": _Payload(target)}}))
    path = tmp_path / "alignments.fsa"
    path.write_bytes(data)
    before = unchanged(project)
    with pytest.raises(InteropError) as err:
        import_faceswap(project, path, clip=video.name)
    assert str(path) in str(err.value) and problem in str(err.value)
    assert unchanged(project) == before
    assert not target.exists()


def test_face_png_folder(project, video, tmp_path: Path) -> None:
    folder = tmp_path / "faces"
    folder.mkdir()
    for f in range(2):
        lm = _landmarks(f)
        x, y, w, h = _box(lm)
        header = {"alignments": {"x": int(x), "y": int(y), "w": int(w), "h": int(h),
                                 "landmarks_xy": lm.tolist(), "mask": {}, "identity": {}},
                  "source": {"alignments_version": 2.4, "original_filename": f"bbaf2n_{f + 1:06d}_0.png",
                             "face_index": 0, "source_filename": f"bbaf2n_{f + 1:06d}.mpg",
                             "source_is_video": True, "source_frame_dims": (288, 360)}}
        (folder / f"bbaf2n_{f + 1:06d}_0.png").write_bytes(png_with_itxt(header))
    (folder / "plain.png").write_bytes(png_with_itxt({"alignments": {}})[:40])  # broken
    s = import_faceswap(project, folder, clip=video.name)
    assert s.faces == 2 and [b.path.name for b in s.broken] == ["plain.png"]
    assert [f.frame for f in project.faces(clip_id=video.id)] == [0, 1]
