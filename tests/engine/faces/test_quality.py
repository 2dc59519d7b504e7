"""Sharpness and colour histograms of aligned crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.faces.align import alignment_matrix, crop_face, transform_points
from engine.faces.errors import FaceAnalysisError
from engine.faces.quality import color_histogram, face_mask, hist_similarity, sharpness


@pytest.fixture(scope="module")
def face(dlib_backend, still):
    img = still("grace_hopper_512x512.jpg")
    lm = dlib_backend.landmarks(img, dlib_backend.detect(img)[0].box)
    return img, lm


def test_blurred_crop_scores_lower(face):
    img, lm = face
    m = alignment_matrix(lm, "whole", 256)
    crop = crop_face(img, m, 256)
    in_crop = transform_points(lm, m)
    sharp = sharpness(crop, in_crop)
    values = [sharp] + [sharpness(cv2.GaussianBlur(crop, (0, 0), s), in_crop) for s in (1.0, 2.0, 4.0)]
    assert all(a > b for a, b in zip(values, values[1:])), values
    assert values[-1] < 0.2 * sharp


def test_sharpness_compares_across_crop_sizes(face):
    img, lm = face
    scores = []
    for size in (128, 256, 512):
        m = alignment_matrix(lm, "whole", size)
        scores.append(sharpness(crop_face(img, m, size), transform_points(lm, m)))
    # 256 and 512 show the same detail once resampled; 128 has lost some of it.
    assert scores[2] == pytest.approx(scores[1], rel=0.25)
    assert scores[0] < scores[1]


def test_sharpness_ignores_the_background_with_a_mask(face):
    img, lm = face
    m = alignment_matrix(lm, "whole", 256)
    crop = crop_face(img, m, 256)
    in_crop = transform_points(lm, m)
    mask = face_mask(in_crop, 256)
    assert 0.2 < mask.mean() < 0.6
    noisy = crop.copy()
    noise = np.random.default_rng(0).integers(0, 255, crop.shape, dtype=np.uint8)
    noisy[~mask] = noise[~mask]  # a busy background must not make the face "sharper"
    assert sharpness(noisy, in_crop) == pytest.approx(sharpness(crop, in_crop), rel=0.02)
    assert sharpness(noisy, mask=mask) == pytest.approx(sharpness(crop, mask=mask), rel=0.02)
    assert sharpness(noisy) > sharpness(crop)
    with pytest.raises(FaceAnalysisError):
        sharpness(crop, mask=np.ones((10, 10), bool))


def test_histograms(face, still):
    img, lm = face
    crop = crop_face(img, alignment_matrix(lm, "full", 128), 128)
    hist = color_histogram(crop)
    assert hist.dtype == np.float32 and hist.shape == (16 * 8 * 8,)
    assert hist.sum() == pytest.approx(1.0, abs=1e-5)
    assert hist_similarity(hist, hist) == pytest.approx(1.0, abs=1e-5)
    darker = color_histogram((crop * 0.9).astype(np.uint8))
    bluish = crop.copy()
    bluish[..., 2] = 255
    other = color_histogram(bluish)
    assert hist_similarity(hist, darker) > hist_similarity(hist, other)
    mask = np.zeros(crop.shape[:2], bool)
    assert color_histogram(crop, mask=mask).sum() == 0.0
