"""Landmark hull masks: eyebrow expansion, forehead, eyes/mouth; they follow the face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.faces.align import alignment_matrix
from engine.faces.shape68 import MEAN_SHAPE_68
from engine.masks.hull import eyes_mouth_mask, face_axes, hull_mask, hull_points
from engine.masks.raster import iou
from engine.masks.shapes import MaskError


def landmarks(angle_deg: float = 0.0, scale: float = 120.0) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return ((MEAN_SHAPE_68 - 0.5) * scale @ rot.T + [300.0, 260.0]).astype(np.float32)


def area(points: np.ndarray) -> float:
    return float(cv2.contourArea(points.astype(np.float32)))


def test_eyebrow_expansion_and_forehead_grow_the_hull_upward() -> None:
    lm = landmarks()
    bare = hull_points(lm, eyebrow_expand=1.0)
    expanded = hull_points(lm, eyebrow_expand=1.5)
    forehead = hull_points(lm, eyebrow_expand=1.5, forehead=0.4)
    assert area(bare) < area(expanded) < area(forehead)
    # Growth is upward: the bottom (chin) stays, the top rises.
    assert bare[:, 1].max() == pytest.approx(forehead[:, 1].max())
    assert forehead[:, 1].min() < expanded[:, 1].min() < bare[:, 1].min()
    _, _, height = face_axes(lm)
    assert bare[:, 1].min() - forehead[:, 1].min() == pytest.approx(0.4 * height, rel=0.35)


def test_hull_follows_roll_in_the_aligned_crop() -> None:
    upright, turned = landmarks(0.0), landmarks(25.0, scale=90.0)
    a = hull_mask(upright, alignment_matrix(upright, "whole", 128), 128, forehead=0.35)
    b = hull_mask(turned, alignment_matrix(turned, "whole", 128), 128, forehead=0.35)
    assert iou(a, b) >= 0.97


def test_eyes_and_mouth_mask_sits_inside_the_hull() -> None:
    lm = landmarks()
    mat = alignment_matrix(lm, "full", 128)
    em = eyes_mouth_mask(lm, mat, 128) > 127
    hull = hull_mask(lm, mat, 128) > 127
    assert 0.03 < em.mean() < 0.3
    assert (em & ~hull).sum() == 0
    # Three separate regions: two eyes and the mouth.
    n, _ = cv2.connectedComponents(em.astype(np.uint8))
    assert n - 1 == 3


def test_bad_landmarks_and_settings_are_refused() -> None:
    with pytest.raises(MaskError):
        hull_points(np.zeros((5, 2)))
    with pytest.raises(MaskError):
        hull_points(landmarks(), forehead=3.0)
