"""The pose-robust backend on real frames: three-quarter faces dlib misses, 68 points
with visibility, crops that show the face, NME no worse than dlib, missing weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import engine.faces.mediapipe_backend as mpb
import engine.faces.tflite_torch as tfl
from engine.extract.params import ExtractParams
from engine.extract.pipeline import usable_backend
from engine.faces.align import alignment_matrix, transform_points
from engine.faces.dlib_backend import DlibBackend
from engine.faces.errors import BackendUnavailable
from engine.faces.mediapipe_backend import MediapipeBackend
from engine.faces.pose import estimate_pose

from .test_backends import nme


@pytest.fixture(scope="module")
def mp_backend() -> MediapipeBackend:
    backend = MediapipeBackend(device="cpu")
    backend.load()
    return backend


@pytest.mark.parametrize("mirror", [False, True])
def test_three_quarter_face_that_hog_misses(mp_backend, still, mirror):
    img = still("camera.png")  # CC0 "cameraman": a man in three-quarter view
    if mirror:
        img = np.ascontiguousarray(img[:, ::-1])
    assert DlibBackend().detect(img) == []  # the frontal HOG detector does not see him
    found = mp_backend.detect(img)
    assert len(found) == 1
    box = found[0].box
    assert 180 < (box[0] + box[2]) / 2 < 330 and 100 < (box[1] + box[3]) / 2 < 230
    lm, vis = mp_backend.landmarks_visibility(img, box)
    assert lm.shape == (68, 2) and vis.shape == (68,) and vis.dtype == np.float32
    assert ((vis >= 0) & (vis <= 1)).all()
    yaw = estimate_pose(lm, (img.shape[1], img.shape[0])).yaw
    assert abs(yaw) > 30, yaw
    assert np.sign(yaw) == (1 if not mirror else -1) * np.sign(
        estimate_pose(mp_backend.landmarks(still("camera.png"), mp_backend.detect(still("camera.png"))[0].box),
                      (512, 512)).yaw)
    # Points on the turned-away side of the jaw are less visible than the near side's.
    near, far = (vis[:8].mean(), vis[9:17].mean())
    assert abs(near - far) > 0.1
    # The crop shows the face: the nose tip and the eyes land in the crop's middle.
    m = alignment_matrix(lm, "whole", 256)
    inside = transform_points(lm[[30, 36, 45]], m)
    assert ((inside > 256 * 0.2) & (inside < 256 * 0.8)).all(), inside


@pytest.mark.parametrize(("image", "pts"), [("takeo.ppm", "takeo.pts"), ("einstein.jpg", "einstein.pts")])
def test_landmark_nme_no_worse_than_dlib(still, annotation, image, pts):
    img, truth = still(image), annotation(pts)
    cx, cy = truth.mean(axis=0)
    dl = DlibBackend()
    box = next(d.box for d in dl.detect(img) if d.box[0] <= cx <= d.box[2] and d.box[1] <= cy <= d.box[3])
    ref = nme(dl.landmarks(img, box), truth)
    backend = MediapipeBackend(device="cpu", max_detect_side=None)  # dlib above runs at full size too
    found = backend.detect(img)
    ours = next(d.box for d in found if d.box[0] <= cx <= d.box[2] and d.box[1] <= cy <= d.box[3])
    assert nme(backend.landmarks(img, ours), truth) <= ref + 1e-6


def test_every_grid_frame_has_one_face_and_batches_agree(mp_backend, grid_frames):
    for name, frames in grid_frames.items():
        picked = [frames[i] for i in (0, 37, 74)]
        batch = mp_backend.detect_batch(picked)
        for frame, found in zip(picked, batch, strict=True):
            assert len(found) == 1, name
            single = mp_backend.detect_batch([frame])[0]
            assert np.allclose(single[0].box, found[0].box, atol=0.5)


def test_missing_weights_name_the_file_and_package(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(tfl, "mediapipe_dir", lambda: tmp_path / "mediapipe")
    mpb._model.cache_clear()
    try:
        with pytest.raises(BackendUnavailable, match=r"face_detection_full_range_sparse\.tflite.*mediapipe==0\.10\.14"):
            MediapipeBackend(device="cpu").load()
        p, note = usable_backend(ExtractParams())
        assert p.backend == "dlib"
        assert "face_detection_full_range_sparse.tflite" in note and "falling back to dlib" in note
    finally:
        mpb._model.cache_clear()


def test_corrupt_weights_are_refused_with_the_file_named(tmp_path: Path, monkeypatch):
    real = tfl.mediapipe_dir()
    assert real is not None
    fake = tmp_path / "mediapipe"
    for rel in ("tasks/metadata/schema_py_generated.py", mpb.MESH_FILE):
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real / rel, fake / rel)
    target = fake / mpb.DETECTOR_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes((real / mpb.DETECTOR_FILE).read_bytes()[:5000])  # truncated
    monkeypatch.setattr(tfl, "mediapipe_dir", lambda: fake)
    mpb._model.cache_clear()
    try:
        with pytest.raises(BackendUnavailable, match="corrupt or unreadable") as info:
            MediapipeBackend(device="cpu").load()
        assert str(target) in str(info.value)
    finally:
        mpb._model.cache_clear()


def test_box_too_small_is_refused(mp_backend, still):
    from engine.faces.errors import FaceAnalysisError

    with pytest.raises(FaceAnalysisError, match="too small"):
        mp_backend.landmarks(still("takeo.ppm"), (10.0, 10.0, 11.0, 11.0))


def test_tilted_face_is_refitted_upright(mp_backend, still):
    img = still("grace_hopper_512x512.jpg")
    h, w = img.shape[:2]
    rot = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), 35, 1.0), (w, h))
    found = mp_backend.detect(rot)
    assert found
    lm = mp_backend.landmarks(rot, found[0].box)
    roll = estimate_pose(lm, (w, h)).roll
    assert 20 < abs(roll) < 50, roll


def test_frames_detected_together_match_one_by_one(grid_frames):
    """The batched path (the GPU's, forced here on the CPU) finds what detect() finds,
    and the landmarks after it use its per-frame hints (HOG boxes, eyes) the same way."""
    frames = [np.ascontiguousarray(grid_frames["sbwe5n.mpg"][i]) for i in (0, 20, 40)]
    single, batched = MediapipeBackend(device="cpu"), MediapipeBackend(device="cpu")
    assert not batched.batched
    together = batched.detect_frames(frames, batch=True)
    for frame, found in zip(frames, together, strict=True):
        one = single.detect(frame)
        assert len(one) == len(found) == 1
        assert np.allclose(one[0].box, found[0].box, atol=0.5)
        assert np.allclose(single.landmarks(frame, one[0].box), batched.landmarks(frame, found[0].box), atol=0.5)
