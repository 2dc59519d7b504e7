"""Expression descriptors: sane ranges, scale and rotation invariance, speech."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.faces.errors import FaceAnalysisError
from engine.faces.expression import Expression, expression
from engine.faces.shape68 import MEAN_SHAPE_68


def test_mean_face_values_are_the_documented_neutral():
    e = expression(MEAN_SHAPE_68)
    assert e.mouth_open == pytest.approx(0.10, abs=0.01)
    assert e.eyes_open == pytest.approx(0.29, abs=0.01)
    assert e.smile == pytest.approx(0.89, abs=0.01)
    assert e.brow_raise == pytest.approx(0.42, abs=0.01)
    assert e.as_array().shape == (4,)


def test_scale_rotation_and_shift_invariant(annotation):
    lm = annotation("takeo.pts").astype(np.float64)
    a = math.radians(25)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    base = expression(lm).as_array()
    np.testing.assert_allclose(expression(lm * 2.0).as_array(), base, rtol=1e-5)
    np.testing.assert_allclose(expression(lm @ rot.T * 0.37 + 500).as_array(), base, rtol=1e-4)


def test_stills_are_in_sane_ranges(annotation, still, dlib_backend):
    faces = [annotation("takeo.pts"), annotation("einstein.pts")]
    for name in ("grace_hopper_512x512.jpg", "obama.jpg", "biden.jpg"):
        img = still(name)
        faces.append(dlib_backend.landmarks(img, dlib_backend.detect(img)[0].box))
    for lm in faces:
        e = expression(lm)
        assert 0.0 <= e.mouth_open < 0.5
        assert 0.15 < e.eyes_open < 0.45
        assert 0.7 < e.smile < 1.3
        assert 0.3 < e.brow_raise < 0.6
    # grace hopper's lips are closed, obama smiles broadly with teeth apart
    grace, obama = expression(faces[2]), expression(faces[3])
    assert grace.mouth_open < 0.05
    assert obama.smile > grace.smile + 0.2


def test_mouth_open_follows_speech_in_grid_clips(grid_landmarks):
    for name, lms in grid_landmarks.items():
        mouth = np.array([expression(lm).mouth_open for lm in lms])
        assert mouth.min() < 0.05, name  # closed between words
        assert mouth.max() > 0.18, name  # open on vowels
        assert mouth.std() > 0.03, name
        # the rest of the face stays put while speaking
        brows = np.array([expression(lm).brow_raise for lm in lms])
        assert brows.std() < mouth.std() + 0.02


def test_degenerate_landmarks_are_refused():
    with pytest.raises(FaceAnalysisError):
        expression(np.zeros((68, 2)))
    assert isinstance(expression(MEAN_SHAPE_68), Expression)
