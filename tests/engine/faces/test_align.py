"""Alignment: Umeyama fit, face types, crop <-> frame round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.faces.align import (
    PADDING,
    FaceType,
    alignment_matrix,
    as_face_type,
    crop_face,
    crop_quad,
    invert_alignment,
    resize_alignment,
    transform_points,
    umeyama,
)
from engine.faces.errors import FaceAnalysisError
from engine.faces.shape68 import MEAN_SHAPE_68


def similarity(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = math.radians(angle_deg)
    c, s = scale * math.cos(a), scale * math.sin(a)
    return np.array([[c, -s, shift[0]], [s, c, shift[1]], [0, 0, 1]])


def polygon_area(quad: np.ndarray) -> float:
    x, y = quad[:, 0], quad[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def test_umeyama_recovers_a_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(51, 2))
    truth = similarity(23.0, 3.5, (10.0, -4.0))
    dst = transform_points(src, truth)
    np.testing.assert_allclose(umeyama(src, dst), truth, atol=1e-9)
    rigid = umeyama(src, transform_points(src, similarity(-40.0, 1.0, (1.0, 2.0))), estimate_scale=False)
    np.testing.assert_allclose(rigid, similarity(-40.0, 1.0, (1.0, 2.0)), atol=1e-9)
    # A mirrored target is fitted by the best rotation, never a reflection.
    mirrored = src * [-1.0, 1.0]
    assert np.linalg.det(umeyama(src, mirrored)[:2, :2]) > 0
    with pytest.raises(FaceAnalysisError):
        umeyama(np.zeros((5, 2)), np.zeros((5, 2)))


def test_mean_face_aligns_to_the_unit_square():
    m = alignment_matrix(MEAN_SHAPE_68 * 200 + 50, FaceType.HALF, 100)
    crop_pts = transform_points(MEAN_SHAPE_68 * 200 + 50, m)
    # Half face: the unit square is the crop, edge to edge.
    np.testing.assert_allclose(crop_pts, MEAN_SHAPE_68 * 100 - 0.5, atol=1e-6)


@pytest.mark.parametrize("face_type", list(FaceType))
@pytest.mark.parametrize("size", [64, 256, 1024])
def test_crop_frame_round_trip_within_half_a_pixel(dlib_backend, still, face_type, size):
    img = still("grace_hopper_512x512.jpg")
    lm = dlib_backend.landmarks(img, dlib_backend.detect(img)[0].box)
    m = alignment_matrix(lm, face_type, size)
    assert m.shape == (2, 3) and m.dtype == np.float64
    back = transform_points(transform_points(lm, m), invert_alignment(m))
    assert np.abs(back - lm).max() <= 0.5
    # and the crop shows the face where the matrix says: re-detected landmarks agree
    # (to within dlib's own noise, a few percent of the eye distance)
    if size == 256 and face_type in (FaceType.FULL, FaceType.WHOLE):
        crop = crop_face(img, m, size)
        found = dlib_backend.detect(crop)
        assert found
        in_crop = dlib_backend.landmarks(crop, found[0].box)
        err = np.linalg.norm(transform_points(in_crop, invert_alignment(m)) - lm, axis=1).mean()
        assert err < 0.06 * np.linalg.norm(lm[36] - lm[45])


def test_crop_pixels_sit_where_the_matrix_maps_them():
    """A bright dot in the frame appears in the crop exactly at transform_points(dot):
    crop_face and transform_points share the pixel-centre convention."""
    frame = np.zeros((300, 400, 3), np.uint8)
    dots = np.array([[120, 90], [250, 200], [180, 140]])
    for x, y in dots:
        frame[y - 1 : y + 2, x - 1 : x + 2] = 255
    lm = (MEAN_SHAPE_68 * 150 + [110, 60]).astype(np.float32)
    lm[:, 1] += lm[:, 0] * 0.2  # a tilted face: a rotated, non-integer warp
    m = alignment_matrix(lm, "whole", 256)
    crop = crop_face(frame, m, 256, interpolation="linear")[..., 0].astype(np.float64)
    for dot, want in zip(dots, transform_points(dots, m)):
        x0, y0 = np.round(want).astype(int) - 6
        patch = crop[y0 : y0 + 13, x0 : x0 + 13]
        ys, xs = np.mgrid[y0 : y0 + 13, x0 : x0 + 13]
        got = np.array([(xs * patch).sum(), (ys * patch).sum()]) / patch.sum()
        assert np.abs(got - want).max() < 0.15, (dot, got, want)


def test_face_types_nest_by_area(dlib_backend, grid_frames):
    frame = grid_frames["sbwe5n.mpg"][20]
    lm = dlib_backend.landmarks(frame, dlib_backend.detect(frame)[0].box)
    order = [FaceType.HALF, FaceType.MID_FULL, FaceType.FULL, FaceType.WHOLE, FaceType.HEAD]
    areas = [polygon_area(crop_quad(alignment_matrix(lm, t, 256), 256)) for t in order]
    assert all(a < b for a, b in zip(areas, areas[1:]))
    # Each side grows as 1 + 2*sqrt(2)*padding (DeepFaceLab's rule).
    for t, area in zip(order, areas):
        assert math.sqrt(area / areas[0]) == pytest.approx(1 + 2 * math.sqrt(2) * PADDING[t], rel=1e-6)
    # The half face lies inside the full face, which lies inside the whole face.
    for inner, outer in [(FaceType.HALF, FaceType.FULL), (FaceType.FULL, FaceType.WHOLE)]:
        quad = crop_quad(alignment_matrix(lm, inner, 256), 256)
        in_outer = transform_points(quad, alignment_matrix(lm, outer, 256))
        assert (in_outer >= -0.5 - 1e-6).all() and (in_outer <= 255.5 + 1e-6).all()


def test_whole_face_moves_up_for_the_forehead(dlib_backend, still):
    img = still("takeo.ppm")
    lm = dlib_backend.landmarks(img, dlib_backend.detect(img)[0].box)

    def centre(face_type: FaceType) -> np.ndarray:
        return transform_points([[127.5, 127.5]], invert_alignment(alignment_matrix(lm, face_type, 256)))[0]

    unit = math.sqrt(polygon_area(crop_quad(alignment_matrix(lm, FaceType.HALF, 256), 256)))
    shift = (centre(FaceType.WHOLE) - centre(FaceType.FULL)) / unit
    # 7 % of the face unit, upward (takeo is upright within a couple of degrees).
    assert shift[1] == pytest.approx(-0.07, abs=0.003)
    assert abs(shift[0]) < 0.005


def test_head_crop_follows_yaw():
    lm = (MEAN_SHAPE_68 * 100 + 100).astype(np.float32)
    turned = lm.copy()
    turned[27:36, 0] += 12.0  # nose shifted right: the face turns toward the image right
    def centre(points: np.ndarray) -> np.ndarray:
        to_frame = invert_alignment(alignment_matrix(points, "head", 256))
        return transform_points([[127.5, 127.5]], to_frame)[0]

    centre_frontal, centre_turned = centre(lm), centre(turned)
    assert centre_turned[0] < centre_frontal[0] - 1.0  # the skull is behind, to the left


def test_sizes_and_face_type_names_are_checked():
    lm = MEAN_SHAPE_68 * 100 + 50
    for bad in (63, 1025, 0, 256.0, True):
        with pytest.raises(FaceAnalysisError, match="crop size"):
            alignment_matrix(lm, "whole", bad)  # type: ignore[arg-type]
    assert as_face_type("whole_face") is FaceType.WHOLE
    assert as_face_type("midfull_face") is FaceType.MID_FULL
    assert as_face_type("head") is FaceType.HEAD
    with pytest.raises(FaceAnalysisError, match="unknown face type"):
        as_face_type("profile")
    with pytest.raises(FaceAnalysisError):
        alignment_matrix(np.zeros((5, 2)), "whole", 256)


def test_resize_alignment_matches_a_direct_matrix():
    lm = MEAN_SHAPE_68 * 150 + 30
    m512 = alignment_matrix(lm, "full", 512)
    m128 = alignment_matrix(lm, "full", 128)
    np.testing.assert_allclose(resize_alignment(m512, 512, 128), m128, atol=1e-9)


def test_crop_is_uint8_rgb_with_black_outside(still):
    img = still("takeo.ppm")
    m = alignment_matrix(MEAN_SHAPE_68 * 90 + [30, 70], "head", 128)
    crop = crop_face(img, m, 128)
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
    assert (crop[0, 0] == 0).all()  # the head crop reaches beyond the 150x225 still
