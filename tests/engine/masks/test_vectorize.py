"""Raster -> editable polygons -> raster, within a point budget."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.faces.align import alignment_matrix
from engine.faces.shape68 import MEAN_SHAPE_68
from engine.masks.raster import IDENTITY, iou, rasterize
from engine.masks.shapes import MaskError
from engine.masks.vectorize import vectorize


def predicted_like_mask(size: int = 128) -> np.ndarray:
    """A face-shaped blob with a soft edge, a hole (an occluding finger) with an island in
    it, a detached piece (a hand) and a speck of noise."""
    m = np.zeros((size, size), np.uint8)
    s = size / 128
    cv2.ellipse(m, (int(64 * s), int(70 * s)), (int(40 * s), int(52 * s)), 10, 0, 360, 255, -1)
    cv2.circle(m, (int(60 * s), int(60 * s)), int(12 * s), 0, -1)
    cv2.circle(m, (int(60 * s), int(60 * s)), int(5 * s), 255, -1)
    cv2.rectangle(m, (int(5 * s), int(5 * s)), (int(18 * s), int(14 * s)), 255, -1)
    m[120 * size // 128, 3] = 255  # a one-pixel speck
    return cv2.GaussianBlur(m, (5, 5), 1.0)


@pytest.mark.parametrize("budget", [48, 64, 400])
def test_round_trip_keeps_the_mask_within_the_point_budget(budget: int) -> None:
    mask = predicted_like_mask()
    label = vectorize(mask, max_points=budget)
    assert label.point_count <= budget
    kinds = [s.kind for s in label.shapes]
    assert kinds.count("exclude") == 1 and kinds.count("include") == 3  # body, hand, island
    assert kinds.index("exclude") < len(kinds) - 1  # the island comes after its hole
    back = rasterize(label, IDENTITY, mask.shape[0])
    score = iou(mask, back)
    print(f"budget {budget}: {label.point_count} points, IoU {score:.4f}")
    assert score >= 0.97


def test_polygons_are_in_frame_pixels_and_come_back_through_the_alignment() -> None:
    lm = ((MEAN_SHAPE_68 - 0.5) * 150 + [400, 300]).astype(np.float32)
    matrix = alignment_matrix(lm, "whole", 128)
    mask = predicted_like_mask(128)
    label = vectorize(mask, matrix, max_points=150)
    lo = np.min([s.points.min(axis=0) for s in label.shapes], axis=0)
    hi = np.max([s.points.max(axis=0) for s in label.shapes], axis=0)
    assert lo[0] > 150 and hi[0] < 650  # frame coordinates around the face, not 0..128
    assert iou(mask, rasterize(label, matrix, 128)) >= 0.97
    # ... and at another size of the same crop: the outline scales with it.
    big = rasterize(label, alignment_matrix(lm, "whole", 512), 512)
    assert iou(cv2.resize(mask, (512, 512), interpolation=cv2.INTER_LINEAR), big) >= 0.97


def test_tiny_budgets_drop_the_smallest_outlines_first() -> None:
    label = vectorize(predicted_like_mask(), max_points=6)
    # The body and the hole (the largest two) stay; the hand and the island go.
    assert [s.kind for s in label.shapes] == ["include", "exclude"] and label.point_count <= 6
    with pytest.raises(MaskError):
        vectorize(predicted_like_mask(), max_points=2)


def test_empty_and_full_masks() -> None:
    assert vectorize(np.zeros((64, 64), np.uint8)).empty
    full = vectorize(np.full((64, 64), 255, np.uint8))
    assert iou(rasterize(full, IDENTITY, 64), np.full((64, 64), 255, np.uint8)) >= 0.97
    assert vectorize(np.zeros((64, 64), bool)).empty
