"""Head pose: synthetic round trips, frontal faces near zero, mirror symmetry."""

from __future__ import annotations

import numpy as np
import pytest

from engine.faces.errors import FaceAnalysisError
from engine.faces.pose import (
    FACE_MODEL_3D,
    Pose,
    estimate_pose,
    pose_from_rotation,
    project_model,
    rotation_from_pose,
)
from engine.faces.shape68 import MIRROR_INDEX, mirror_landmarks


def test_model_is_symmetric_with_the_nose_tip_forward():
    mirrored = FACE_MODEL_3D[list(MIRROR_INDEX)] * [-1.0, 1.0, 1.0]
    np.testing.assert_allclose(mirrored, FACE_MODEL_3D, atol=1e-9)
    assert FACE_MODEL_3D[:, 2].min() == FACE_MODEL_3D[30, 2] == 0.0  # nose tip closest


def test_rotation_and_angles_are_inverse():
    rng = np.random.default_rng(0)
    for yaw, pitch, roll in rng.uniform([-80, -60, -60], [80, 60, 60], (50, 3)):
        pose = pose_from_rotation(rotation_from_pose(Pose(yaw, pitch, roll)))
        assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((yaw, pitch, roll), abs=1e-9)


def test_synthetic_faces_recover_their_pose():
    rng = np.random.default_rng(1)
    for yaw, pitch, roll in rng.uniform([-60, -35, -30], [60, 35, 30], (40, 3)):
        truth = Pose(yaw, pitch, roll)
        pts = project_model(truth, focal=5000.0, center=(320.0, 240.0), distance=40.0)
        got = estimate_pose(pts)
        assert (got.yaw, got.pitch, got.roll) == pytest.approx((yaw, pitch, roll), abs=1.0)
        # with the true camera given as a frame, perspective is modelled too
        near = project_model(truth, focal=640.0, center=(319.5, 239.5), distance=5.0)
        got = estimate_pose(near, frame_size=(640, 480))
        assert (got.yaw, got.pitch, got.roll) == pytest.approx((yaw, pitch, roll), abs=1.5)


def test_sign_conventions():
    def pose_of(p: Pose) -> Pose:
        return estimate_pose(project_model(p, focal=5000.0, center=(0.0, 0.0), distance=40.0))

    turned = project_model(Pose(30, 0, 0), focal=5000.0, center=(0.0, 0.0), distance=40.0)
    assert turned[30, 0] > turned[27, 0]  # yaw > 0: the nose tip points to the image right
    raised = project_model(Pose(0, 20, 0), focal=5000.0, center=(0.0, 0.0), distance=40.0)
    frontal = project_model(Pose(0, 0, 0), focal=5000.0, center=(0.0, 0.0), distance=40.0)
    # pitch > 0: the tip climbs toward the eyes
    assert (raised[30, 1] - raised[39, 1]) < (frontal[30, 1] - frontal[39, 1])
    tilted = project_model(Pose(0, 0, 15), focal=5000.0, center=(0.0, 0.0), distance=40.0)
    assert tilted[45, 1] > tilted[36, 1]  # roll > 0: clockwise, the image-right eye drops
    assert pose_of(Pose(0, 0, 15)).roll > 0


def _frontal_cases(still, dlib_backend, grid_landmarks):
    for name in ("takeo.ppm", "grace_hopper_512x512.jpg"):
        img = still(name)
        yield name, dlib_backend.landmarks(img, dlib_backend.detect(img)[0].box)
    for name, lms in grid_landmarks.items():
        for i in (0, 37, 74):
            yield f"{name}[{i}]", lms[i]


def test_frontal_faces_have_small_yaw_and_pitch(still, dlib_backend, grid_landmarks):
    for name, lm in _frontal_cases(still, dlib_backend, grid_landmarks):
        pose = estimate_pose(lm)
        assert abs(pose.yaw) < 12 and abs(pose.pitch) < 12, f"{name}: {pose}"
        assert abs(pose.roll) < 12, f"{name}: {pose}"


def test_yaw_changes_sign_on_a_mirrored_photo(still, dlib_backend):
    for name in ("obama2.jpg", "biden.jpg"):  # faces turned ~20 and ~10 degrees
        img = still(name)
        h, w = img.shape[:2]
        lm = dlib_backend.landmarks(img, dlib_backend.detect(img)[0].box)
        pose = estimate_pose(lm, frame_size=(w, h))
        assert abs(pose.yaw) > 5
        # re-detect on the flipped image
        flipped = np.ascontiguousarray(img[:, ::-1])
        lm_f = dlib_backend.landmarks(flipped, dlib_backend.detect(flipped)[0].box)
        pose_f = estimate_pose(lm_f, frame_size=(w, h))
        assert np.sign(pose_f.yaw) == -np.sign(pose.yaw)
        assert pose_f.yaw == pytest.approx(-pose.yaw, abs=4)
        assert pose_f.pitch == pytest.approx(pose.pitch, abs=4)
        # mirroring the landmarks themselves is exact
        pose_m = estimate_pose(mirror_landmarks(lm, w), frame_size=(w, h))
        expected = (-pose.yaw, pose.pitch, -pose.roll)
        assert (pose_m.yaw, pose_m.pitch, pose_m.roll) == pytest.approx(expected, abs=1e-3)


def test_degenerate_landmarks_are_refused():
    with pytest.raises(FaceAnalysisError):
        estimate_pose(np.zeros((68, 2), np.float32))
    with pytest.raises(FaceAnalysisError):
        estimate_pose(np.zeros((5, 2), np.float32))
