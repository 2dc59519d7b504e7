"""The per-face merge and the paste, on synthetic frames: what must not change does not,
faces composite in order, scale/offset/opacity/sharpen/seamless do what they say; and the
track smoothing that stops jitter."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from engine.faces.align import alignment_matrix, crop_quad
from engine.faces.shape68 import MEAN_SHAPE_68
from engine.merge.composite import FaceLayer, merge_frame, paste_matrix, sharpen
from engine.merge.settings import MergeSettings
from engine.merge.stability import pasted_landmarks, placements, relative_motion
from engine.project.models import Face

SIZE = 64


def layer(centre: tuple[float, float], scale: float = 90.0, colour: tuple[float, float, float] = (0.9, 0.2, 0.2),
          face_id: int | None = 1) -> FaceLayer:
    lm = (np.asarray(MEAN_SHAPE_68) - 0.5) * scale + np.asarray(centre)
    m = alignment_matrix(lm, "full", SIZE)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    mask = (((xx - 31.5) ** 2 + (yy - 33.5) ** 2) <= 20.0**2).astype(np.float32)
    swapped = np.empty((SIZE, SIZE, 3), np.float32)
    swapped[:] = colour
    return FaceLayer(face_id, m, np.full((SIZE, SIZE, 3), 0.5, np.float32), swapped, mask)


@pytest.fixture
def frame() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (180, 240, 3), dtype=np.uint8)


def test_pixels_outside_the_mask_are_the_frame_exactly(frame: np.ndarray) -> None:
    s = MergeSettings(color="none", blur=6.0, erode=1.0)
    out = merge_frame(frame, [layer((120, 90))], s)
    outside = out.alpha == 0
    assert 0.05 < (~outside).mean() < 0.5
    assert np.array_equal(out.image[outside], frame[outside])
    core = out.alpha > 0.999
    assert np.abs(out.image[core].astype(int) - [230, 51, 51]).max() <= 1
    assert np.array_equal(merge_frame(frame, [], s).image, frame)  # a frame without faces passes through


def test_faces_are_composited_in_order(frame: np.ndarray) -> None:
    s = MergeSettings(color="none", blur=0.0)
    red, blue = layer((110, 90), colour=(1.0, 0.0, 0.0)), layer((130, 90), colour=(0.0, 0.0, 1.0), face_id=2)
    one = merge_frame(frame, [red, blue], s)
    two = merge_frame(frame, [blue, red], s)
    both = one.alpha > 0.999
    overlap = both & (np.abs(np.arange(240)[None, :] - 120) < 3)
    assert overlap.any()
    assert (one.image[overlap] == [0, 0, 255]).all() and (two.image[overlap] == [255, 0, 0]).all()
    assert [p.prepared.layer.face_id for p in one.faces] == [1, 2]


def test_opacity_scale_and_offset(frame: np.ndarray) -> None:
    flat = np.full_like(frame, 100)
    half = merge_frame(flat, [layer((120, 90), colour=(1.0, 1.0, 1.0))], MergeSettings(color="none", opacity=0.5, blur=0))
    assert np.abs(half.image[half.alpha >= 0.4999].astype(int) - 178).max() <= 1  # 100 + (255 - 100) / 2
    base = layer((120, 90))
    m0 = paste_matrix(base.matrix, SIZE, MergeSettings())
    m1 = paste_matrix(base.matrix, SIZE, MergeSettings(face_scale=10.0, offset_x=5.0))

    def area(q: np.ndarray) -> float:
        x, y = q[:, 0], q[:, 1]
        return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))

    q0, q1 = crop_quad(m0, SIZE), crop_quad(m1, SIZE)
    assert area(q1) / area(q0) == pytest.approx(1.21, rel=1e-6)
    px_per_crop = math.sqrt(area(q0)) / SIZE
    assert q1.mean(0)[0] - q0.mean(0)[0] == pytest.approx(0.05 * SIZE * px_per_crop, rel=1e-6)  # right, in face axes
    big = merge_frame(frame, [base], MergeSettings(color="none", face_scale=20.0, blur=0))
    small = merge_frame(frame, [base], MergeSettings(color="none", blur=0))
    assert big.alpha.sum() / small.alpha.sum() == pytest.approx(1.44, rel=0.03)


def test_sharpen_raises_and_negative_amounts_lower_local_contrast() -> None:
    img = np.random.default_rng(1).random((32, 32, 3)).astype(np.float32) * 0.5 + 0.25

    def detail(x: np.ndarray) -> float:
        return float(np.abs(np.diff(x, axis=1)).mean())

    for mode in ("box", "gaussian"):
        assert detail(sharpen(img, mode, 60.0)) > 1.2 * detail(img)
        assert detail(sharpen(img, mode, -60.0)) < 0.8 * detail(img)
    assert sharpen(img, "none", 50.0) is img


def test_seamless_clone_changes_only_the_masked_region(frame: np.ndarray) -> None:
    flat = np.full_like(frame, 60)
    plain = merge_frame(flat, [layer((120, 90))], MergeSettings(color="none", blur=4.0))
    cloned = merge_frame(flat, [layer((120, 90))], MergeSettings(color="none", blur=4.0, seamless=True))
    outside = cloned.alpha == 0
    assert np.array_equal(cloned.image[outside], flat[outside])
    inside = cloned.alpha > 0.99
    # Poisson cloning a flat face onto a flat frame takes the frame's colour.
    assert np.abs(cloned.image[inside].astype(int) - 60).mean() < 3 < np.abs(plain.image[inside].astype(int) - 60).mean()


# ---------------------------------------------------------------------- stability
def _face(i: int, frame: int, lm: np.ndarray, track: int | None = 7) -> Face:
    return Face(id=i, clip_id=1, frame=frame, idx=0, box=(0, 0, 1, 1), score=1.0, landmarks=lm.astype(np.float32),
                face_type="full", crop_size=SIZE, alignment=alignment_matrix(lm, "full", SIZE), yaw=None, pitch=None,
                roll=None, sharpness=None, mouth_open=None, eyes_open=None, smile=None, brow_raise=None, embedding=None,
                track_id=track, person_id=None, excluded=False, crop_path=None, created_at=0.0)


def test_track_smoothing_cuts_the_pasted_face_jitter() -> None:
    rng = np.random.default_rng(3)
    n = 60
    t = np.arange(n)
    path = np.stack([160 + 25 * np.sin(2 * np.pi * t / 45), 120 + 0.4 * t], axis=1)
    truth = [(np.asarray(MEAN_SHAPE_68) - 0.5) * 110 + p for p in path]
    # Detector noise: the whole set shifts a little, each point a little more.
    noisy = [lm + rng.normal(0, 0.8, 2) + rng.normal(0, 0.6, (68, 2)) for lm in truth]
    faces = [_face(i + 1, i, lm) for i, lm in enumerate(noisy)]
    raw = placements(faces, "full", SIZE, 0.0)
    smooth = placements(faces, "full", SIZE, 0.6)
    assert np.allclose(raw[1].matrix, faces[0].alignment)
    jitter = {}
    for name, places in (("raw", raw), ("smooth", smooth)):
        pasted = np.stack([pasted_landmarks(places[f.id].matrix, "full", SIZE) for f in faces])
        jitter[name] = relative_motion(pasted, np.stack(truth))
    assert jitter["smooth"] < 0.5 * jitter["raw"]
    # A face without a track keeps its own alignment.
    lone = replace(faces[0], id=99, track_id=None)
    assert np.allclose(placements([lone], "full", SIZE, 1.0)[99].matrix, lone.alignment)


def test_relative_motion_ignores_motion_shared_with_the_reference() -> None:
    ref = np.cumsum(np.ones((10, 68, 2)), axis=0)
    assert relative_motion(ref + 5.0, ref) == 0.0
    wobble = ref.copy()
    wobble[1::2, :, 0] += 1.0
    assert relative_motion(wobble, ref) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        relative_motion(ref[:1], ref[:1])
