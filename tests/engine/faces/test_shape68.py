"""The 68-point layout: mirroring and our derived mean face."""

from __future__ import annotations

import numpy as np

from engine.faces.shape68 import (
    MEAN_SHAPE_68,
    MIRROR_INDEX,
    derive_mean_shape,
    mirror_landmarks,
    normalise_to_unit_square,
)


def test_mirror_index_is_an_involution_and_pairs_sides():
    idx = np.array(MIRROR_INDEX)
    assert sorted(idx.tolist()) == list(range(68))
    assert (idx[idx] == np.arange(68)).all()
    assert idx[36] == 45 and idx[48] == 54 and idx[0] == 16 and idx[30] == 30 and idx[62] == 62


def test_mirror_landmarks_matches_a_flipped_image(still, dlib_backend):
    img = still("takeo.ppm")
    lm = dlib_backend.landmarks(img, dlib_backend.detect(img)[0].box)
    flipped = np.ascontiguousarray(img[:, ::-1])
    lm_f = dlib_backend.landmarks(flipped, dlib_backend.detect(flipped)[0].box)
    mirrored = mirror_landmarks(lm, img.shape[1])
    assert np.linalg.norm(mirrored - lm_f, axis=1).mean() < 2.5  # pixels, face ~100 px


def test_mean_face_is_symmetric_and_normalised():
    m = MEAN_SHAPE_68
    mirrored = m[list(MIRROR_INDEX)] * [-1.0, 1.0] + [1.0, 0.0]
    np.testing.assert_allclose(mirrored, m, atol=2e-4)
    assert m[17:, 0].min() == 0.0 and m[17:, 0].max() == 1.0
    assert abs(m[17:, 1].min() - 0.02) < 1e-9
    assert m[36, 0] < m[45, 0] and m[27, 1] < m[30, 1] < m[51, 1] < m[8, 1]


def test_mean_face_rederives_from_the_test_faces(still, annotation, dlib_backend, grid_landmarks):
    """Documents (and checks) how MEAN_SHAPE_68 was made: one shape per person."""
    people = [annotation("takeo.pts"), annotation("einstein.pts")]
    for name in ("grace_hopper_512x512.jpg", "obama.jpg", "obama2.jpg", "biden.jpg", "two_people.jpg"):
        img = still(name)
        people += [dlib_backend.landmarks(img, d.box) for d in dlib_backend.detect(img)]
    for lms in grid_landmarks.values():
        people.append(derive_mean_shape(lms[::3], symmetric=False))
    assert len(people) == 12  # obama twice, two_people has two
    derived = normalise_to_unit_square(derive_mean_shape(np.stack(people)))
    assert np.abs(derived - MEAN_SHAPE_68).max() < 2e-3
