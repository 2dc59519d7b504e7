"""Linking faces into tracks and smoothing track landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from engine.faces.errors import FaceAnalysisError
from engine.faces.shape68 import MEAN_SHAPE_68
from engine.faces.tracks import box_iou, link_tracks, smooth_landmarks


def face_at(x: float, y: float, size: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    box = np.array([x, y, x + size, y + size])
    lm = MEAN_SHAPE_68 * size * 0.8 + [x + 0.1 * size, y]
    return box, lm


def test_box_iou():
    iou = box_iou([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(iou, [[1.0, 1 / 3, 0.0]])


def test_two_faces_walking_past_each_other_keep_their_tracks():
    boxes, lms = [], []
    for t in range(30):
        a = face_at(50 + 10 * t, 100)  # left to right
        b = face_at(350 - 10 * t, 110)  # right to left, crossing at t = 15
        order = [a, b] if t % 2 == 0 else [b, a]  # detector order varies per frame
        boxes.append(np.stack([f[0] for f in order]))
        lms.append(np.stack([f[1] for f in order]))
    ids = link_tracks(boxes, lms)
    first_a = ids[0][0]
    for t in range(30):
        a_index = 0 if t % 2 == 0 else 1
        assert ids[t][a_index] == first_a, t
    assert {int(i) for frame in ids for i in frame} == {0, 1}


def test_gap_tolerance():
    box, lm = face_at(100, 100)
    boxes = [box[None], box[None], np.zeros((0, 4)), np.zeros((0, 4)), box[None], np.zeros((0, 4)),
             np.zeros((0, 4)), np.zeros((0, 4)), box[None]]  # fmt: skip
    ids = link_tracks(boxes, max_gap=2)
    assert [i.tolist() for i in ids] == [[0], [0], [], [], [0], [], [], [], [1]]
    # sampled frame numbers count as gaps too
    ids = link_tracks([box[None]] * 3, frame_indices=[0, 3, 10], max_gap=2)
    assert [i.tolist() for i in ids] == [[0], [0], [1]]


def test_a_far_face_starts_a_new_track():
    a, b = face_at(0, 0), face_at(400, 0)
    ids = link_tracks([a[0][None], b[0][None]], [a[1][None], b[1][None]])
    assert [i.tolist() for i in ids] == [[0], [1]]


def test_grid_clip_is_one_track(grid_frames, dlib_backend):
    frames = grid_frames["id2_vcd_swwp2s.mpg"][::3]
    boxes = [np.array([d.box for d in dlib_backend.detect(f)]) for f in frames]
    ids = link_tracks(boxes, frame_indices=list(range(0, 75, 3)))
    assert {int(i) for frame in ids for i in frame} == {0}


def test_bad_inputs():
    box, lm = face_at(0, 0)
    with pytest.raises(FaceAnalysisError):
        link_tracks([box[None]], [lm[None], lm[None]])
    with pytest.raises(FaceAnalysisError):
        link_tracks([box[None], box[None]], frame_indices=[3, 3])


def test_smoothing_reduces_jitter_and_keeps_motion():
    rng = np.random.default_rng(0)
    t = np.arange(60, dtype=np.float64)
    motion = np.stack([2.0 * t + 0.05 * t**2, 0.5 * t], axis=1)  # accelerating drift
    clean = MEAN_SHAPE_68[None] * 100 + motion[:, None, :]
    noisy = clean + rng.normal(scale=1.5, size=clean.shape)
    for strength in (0.2, 0.5, 1.0):
        smoothed = smooth_landmarks(noisy, strength)
        assert smoothed.shape == noisy.shape and smoothed.dtype == np.float32
        assert np.abs(smoothed - clean).mean() < 0.75 * np.abs(noisy - clean).mean()
    # noise-free quadratic motion passes through untouched (no lag)
    np.testing.assert_allclose(smooth_landmarks(clean, 1.0), clean, atol=1e-3)
    np.testing.assert_allclose(smooth_landmarks(noisy, 0.0), noisy.astype(np.float32))
    assert smooth_landmarks(noisy[:2], 1.0).shape == (2, 68, 2)
    with pytest.raises(FaceAnalysisError):
        smooth_landmarks(noisy, 1.5)


def test_smoothing_respects_gaps():
    track = np.zeros((10, 68, 2))
    track[5:] += 50.0  # a jump across missing frames must not be blurred
    smoothed = smooth_landmarks(track, 1.0, frame_indices=[0, 1, 2, 3, 4, 20, 21, 22, 23, 24])
    np.testing.assert_allclose(smoothed, track, atol=1e-4)
