"""Sort keys and filters: orders over arrays, stable, unknown values last."""

from __future__ import annotations

import numpy as np
import pytest

from engine.curation import sorting


def test_sharpness_yaw_pitch_orders() -> None:
    s = np.array([3.0, np.nan, 9.0, 3.0, 1.0])
    np.testing.assert_array_equal(sorting.by_sharpness(s), [2, 0, 3, 4, 1])  # stable tie, NaN last
    np.testing.assert_array_equal(sorting.by_sharpness(s, descending=False), [4, 0, 3, 2, 1])
    yaw = np.array([-30.0, 5.0, 20.0, np.nan, -2.0])
    np.testing.assert_array_equal(sorting.by_yaw(yaw), [0, 4, 1, 2, 3])
    np.testing.assert_array_equal(sorting.by_yaw(yaw, absolute=True), [4, 1, 2, 0, 3])
    np.testing.assert_array_equal(sorting.by_pitch(yaw, descending=True), [2, 1, 4, 0, 3])
    np.testing.assert_array_equal(sorting.in_range(yaw, -10, 10), [False, True, False, False, True])
    np.testing.assert_array_equal(sorting.in_range(yaw, lo=0), [False, True, True, False, False])


def test_face_size() -> None:
    boxes = np.array([[0, 0, 100, 100], [10, 10, 30, 50], [0, 0, 400, 100]], dtype=float)
    np.testing.assert_allclose(sorting.face_size(boxes), [100.0, np.sqrt(800), 200.0])
    np.testing.assert_array_equal(sorting.by_face_size(boxes), [2, 0, 1])


def test_histogram_similarity_dissimilarity_and_chain() -> None:
    h = np.array([[1, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 0, 0.5, 0.5], [0, 0, 0.6, 0.4], [0.5, 0.5, 0, 0]], dtype=float)
    sim = sorting.hist_similarity(h, h[0])
    assert sim[0] == pytest.approx(1.0) and sim[2] == 0.0
    assert sorting.by_hist_similarity(h, h[0])[:2].tolist() == [0, 1]
    chain = sorting.by_hist_chain(h)
    assert chain.tolist() == [0, 1, 4, 2, 3]  # 4 is as far from 2 as from 3: the first wins
    odd = np.vstack([np.tile([0.25, 0.25, 0.25, 0.25], (5, 1)), [[0, 0, 0, 1]]])
    assert sorting.by_hist_dissimilarity(odd)[0] == 5
    with pytest.raises(ValueError):
        sorting.hist_similarity(h, [1, 0])


def test_identity_distance() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=128)
    e = np.vstack([ref + 0.5, ref, np.full(128, np.nan), ref + 0.1])
    np.testing.assert_allclose(sorting.identity_distance(e, ref)[[1, 3]], [0.0, np.sqrt(128) * 0.1])
    np.testing.assert_array_equal(sorting.by_identity_distance(e, ref), [1, 3, 0, 2])
