"""Rasterising label masks through alignments: face types agree, order matters, strokes scale."""

from __future__ import annotations

import numpy as np
import pytest

from engine.faces.align import alignment_matrix, invert_alignment, transform_points
from engine.faces.shape68 import MEAN_SHAPE_68, OUTER_MOUTH
from engine.masks.hull import hull_label
from engine.masks.raster import IDENTITY, draw, iou, rasterize, rasterize_frame, warp_mask
from engine.masks.shapes import LabelMask, Shape


def face_landmarks(
    scale: float = 140.0, angle_deg: float = 12.0, centre: tuple[float, float] = (330.0, 250.0)
) -> np.ndarray:
    """The mean face placed on a 640x480 frame, turned by ``angle_deg``."""
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = (MEAN_SHAPE_68 - 0.5) * scale @ rot.T + np.array(centre)
    return pts.astype(np.float32)


def face_label(lm: np.ndarray) -> LabelMask:
    """Hull + forehead, the mouth cut out, a stroke painting part of it back."""
    mouth = lm[OUTER_MOUTH].astype(np.float64)
    return hull_label(lm, forehead=0.35).with_shapes([
        Shape("exclude", "polygon", mouth),
        Shape("include", "stroke", mouth[[0, 3, 6]], radius=4.0),
    ])


@pytest.mark.parametrize(("type_a", "size_a", "type_b", "size_b"),
                         [("whole", 256, "full", 192), ("head", 320, "mid_full", 128), ("full", 512, "whole", 96)])
def test_two_face_types_of_one_face_map_onto_each_other(type_a: str, size_a: int, type_b: str, size_b: int) -> None:
    lm = face_landmarks()
    label = face_label(lm)
    mat_a = alignment_matrix(lm, type_a, size_a)
    mat_b = alignment_matrix(lm, type_b, size_b)
    a = rasterize(label, mat_a, size_a)
    b = rasterize(label, mat_b, size_b)
    b_in_a = warp_mask(b, mat_b, mat_a, size_a)
    # Compare where crop b sees the frame (its footprint inside crop a).
    seen = warp_mask(np.full((size_b, size_b), 255, np.uint8), mat_b, mat_a, size_a) > 250
    assert seen.sum() > 0.1 * size_a * size_a
    score = iou(np.where(seen, a, 0), np.where(seen, b_in_a, 0))
    print(f"{type_a} {size_a} vs {type_b} {size_b}: IoU {score:.4f}")
    assert score >= 0.98, f"{type_a}/{type_b}: IoU {score:.4f}"


def test_later_shapes_paint_over_earlier_ones() -> None:
    # Edges on pixel boundaries (pixel centres are integers): every pixel is in or out.
    square = np.array([[10, 10], [90, 10], [90, 90], [10, 90]], np.float64) - 0.5
    inner = np.array([[30, 30], [70, 30], [70, 70], [30, 70]], np.float64) - 0.5
    core = np.array([[45, 45], [55, 45], [55, 55], [45, 55]], np.float64) - 0.5
    label = LabelMask((Shape("include", "polygon", square), Shape("exclude", "polygon", inner),
                       Shape("include", "polygon", core)))
    m = draw(label, IDENTITY, (100, 100))
    assert m[20, 20] == 255 and m[40, 40] == 0 and m[50, 50] == 255 and m[5, 5] == 0
    assert (m > 127).sum() == 80 * 80 - 40 * 40 + 10 * 10


def test_strokes_scale_with_the_crop_and_cover_their_radius() -> None:
    lm = face_landmarks()
    line = transform_points([[30.0, 50.0], [70.0, 50.0]], invert_alignment(alignment_matrix(lm, "full", 100)))
    label = LabelMask((Shape("include", "stroke", line, radius=6.0),))
    small = rasterize(label, alignment_matrix(lm, "full", 100), 100)
    big = rasterize(label, alignment_matrix(lm, "full", 400), 400)
    # Area scales with the square of the crop size; the stroke has round caps.
    assert (big > 127).sum() / max((small > 127).sum(), 1) == pytest.approx(16.0, rel=0.1)
    frame = rasterize_frame(label, (480, 640, 3))
    length = float(np.hypot(*(line[1] - line[0])))
    expected = length * 12.0 + np.pi * 36.0
    assert (frame > 127).sum() == pytest.approx(expected, rel=0.05)


def test_rasterising_is_subpixel_accurate() -> None:
    # A polygon moved by a third of a pixel moves its mask's centroid by a third of a pixel.
    tri = np.array([[20.0, 20.0], [80.0, 25.0], [45.0, 85.0]])
    m0 = rasterize(LabelMask.polygon(tri), IDENTITY, 100).astype(np.float64)
    m1 = rasterize(LabelMask.polygon(tri + [1 / 3, 0.0]), IDENTITY, 100).astype(np.float64)
    xs = np.arange(100)[None, :]
    shift = (m1 * xs).sum() / m1.sum() - (m0 * xs).sum() / m0.sum()
    assert shift == pytest.approx(1 / 3, abs=0.03)


def test_shapes_far_outside_the_crop_are_harmless() -> None:
    far = np.array([[1e9, 1e9], [1e9 + 5, 1e9], [1e9, 1e9 + 5]])
    assert rasterize(LabelMask.polygon(far), IDENTITY, 64).max() == 0
    assert rasterize(LabelMask(), IDENTITY, 64).max() == 0
