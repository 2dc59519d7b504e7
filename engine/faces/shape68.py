"""The 68-point iBUG landmark layout: index groups, mirroring and the mean face.

Every module of ``engine.faces`` speaks the same landmark language: 68 points in the
iBUG 300-W order (0-based), float32 ``(68, 2)`` arrays in frame pixels. This module
holds the facts about that layout that several stages need, so each stage does not
re-derive them:

- index groups (jaw, brows, nose, eyes, mouth) by name, so code reads
  ``pts[RIGHT_EYE]`` instead of ``pts[36:42]``;
- the left/right mirror permutation, needed whenever an image is flipped (a flipped
  face's point 36 is the old point 45);
- the **mean face**: our own normalised 68-point mean shape, derived from the
  annotated and detected test faces by generalised Procrustes analysis (see
  :func:`derive_mean_shape` and ``MEAN_SHAPE_68``). The alignment template (points
  17-67) and the 2D part of the pose model are both taken from it, so alignment and
  pose agree on what "frontal" means.

"Right" and "left" are the subject's, as in the iBUG convention: the subject's right
eye (points 36-41) appears on the image's left in a frontal photo.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]

NUM_POINTS: Final = 68

JAW: Final = slice(0, 17)
RIGHT_BROW: Final = slice(17, 22)
LEFT_BROW: Final = slice(22, 27)
NOSE_BRIDGE: Final = slice(27, 31)
NOSE_BASE: Final = slice(31, 36)
RIGHT_EYE: Final = slice(36, 42)
LEFT_EYE: Final = slice(42, 48)
OUTER_MOUTH: Final = slice(48, 60)
INNER_MOUTH: Final = slice(60, 68)

#: Index ``i`` of a mirrored face is point ``MIRROR_INDEX[i]`` of the original face.
#: Built from the symmetric pairs of the iBUG scheme; points on the midline map to
#: themselves. Applying it twice is the identity.
MIRROR_INDEX: Final[tuple[int, ...]] = tuple(
    [16 - i for i in range(17)]  # jaw 0..16 reversed
    + [26 - i for i in range(5)]  # right brow 17..21 <-> left brow 26..22
    + [21 - i for i in range(5)]
    + [27, 28, 29, 30]  # nose bridge on the midline
    + [35, 34, 33, 32, 31]  # nostrils reversed
    + [45, 44, 43, 42, 47, 46]  # right eye <-> left eye, corners and lids paired
    + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lip
    + [64, 63, 62, 61, 60, 67, 66, 65]  # inner lip
)


def mirror_landmarks(landmarks: FloatArray, width: float) -> npt.NDArray[np.float32]:
    """Landmarks of the horizontally flipped image, re-indexed so point 36 is again the
    subject's right eye corner.

    ``width`` is the image width; pixel centres sit on integer coordinates, so x maps
    to ``width - 1 - x`` (the same mapping as ``np.fliplr``).
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    flipped = pts.copy()
    flipped[:, 0] = (width - 1.0) - pts[:, 0]
    return flipped[list(MIRROR_INDEX)].astype(np.float32)


def _similarity_to(src: FloatArray, dst: FloatArray) -> FloatArray:
    """``src`` mapped by the least-squares similarity (rotation, scale, shift) onto
    ``dst``; a small local Procrustes fit so this module needs nothing else."""
    src_mean = src.mean(axis=0)
    dst_mean = dst.mean(axis=0)
    a = src - src_mean
    b = dst - dst_mean
    u, s, vt = np.linalg.svd(b.T @ a)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rot = (u * d) @ vt
    scale = float((s * d).sum() / (a**2).sum())
    return scale * a @ rot.T + dst_mean


def derive_mean_shape(
    shapes: FloatArray, *, iterations: int = 20, symmetric: bool = True
) -> npt.NDArray[np.float64]:
    """Mean of many ``(68, 2)`` face shapes after removing position, size and rotation.

    Generalised Procrustes analysis: align every shape to the current mean with a
    similarity transform, average, renormalise, repeat. With ``symmetric`` the mean is
    averaged with its own mirror image, because a mean *face* should be left-right
    symmetric and our sample (a dozen people) is too small to average the asymmetry
    away. The result is centred at the origin with unit RMS radius; use
    :func:`normalise_to_unit_square` to place it in the alignment frame.
    """
    data = np.asarray(shapes, dtype=np.float64)
    if data.ndim != 3 or data.shape[1:] != (NUM_POINTS, 2) or len(data) == 0:
        raise ValueError(f"expected shapes of shape (n, 68, 2), got {data.shape}")
    if symmetric:
        mirrored = data.copy()
        mirrored[..., 0] *= -1.0
        data = np.concatenate([data, mirrored[:, list(MIRROR_INDEX)]])

    def _normalise(shape: FloatArray) -> FloatArray:
        centred = shape - shape.mean(axis=0)
        return centred / np.sqrt((centred**2).sum(axis=1).mean())

    mean = _normalise(data[0])
    for _ in range(iterations):
        aligned = np.stack([_similarity_to(s, mean) for s in data])
        new_mean = _normalise(aligned.mean(axis=0))
        # Keep the mean upright: rotate it so the eye line is horizontal.
        eye_vec = new_mean[LEFT_EYE].mean(axis=0) - new_mean[RIGHT_EYE].mean(axis=0)
        angle = np.arctan2(eye_vec[1], eye_vec[0])
        c, s = np.cos(-angle), np.sin(-angle)
        new_mean = new_mean @ np.array([[c, s], [-s, c]])
        if np.abs(new_mean - mean).max() < 1e-9:
            mean = new_mean
            break
        mean = new_mean
    return mean


def normalise_to_unit_square(
    shape: FloatArray, *, points: slice = slice(17, 68), top: float = 0.02
) -> npt.NDArray[np.float64]:
    """Scale and shift a mean shape into the alignment frame (the unit square).

    Convention (the one face-swap tools share, so DeepFaceLab's face-type paddings
    frame our crops the way users expect): the selected points (brows, nose, eyes and
    mouth; the jaw is excluded) span exactly ``[0, 1]`` horizontally, centred on 0.5,
    and the top of the eyebrows sits at ``y = top``. The jaw points end up below 1.
    """
    src = np.asarray(shape, dtype=np.float64)
    sel = src[points]
    lo = sel.min(axis=0)
    hi = sel.max(axis=0)
    scale = 1.0 / (hi[0] - lo[0])
    out = (src - lo) * scale
    out[:, 1] += top
    return out


#: Our mean face: 68 points in the alignment frame (see :func:`normalise_to_unit_square`),
#: derived with :func:`derive_mean_shape` from the faces in ``tests/data`` (the two
#: human-annotated stills takeo and einstein, dlib landmarks of six more portraits and the
#: per-speaker means of the four GRID sample clips: 12 people, each weighted once),
#: made symmetric, rounded to 4 decimals. ``tests/engine/faces/test_shape68.py``
#: re-derives it and checks it still matches. Points 17-67 span x in [0, 1]; the jaw
#: reaches below and beside the square.
MEAN_SHAPE_68: Final = np.array(
    [
        (-0.1262, 0.3086), (-0.1155, 0.4732), (-0.0977, 0.6384), (-0.0710, 0.8010),  # 0-3
        (-0.0189, 0.9525), (0.0700, 1.0833), (0.1888, 1.1881), (0.3301, 1.2664),  # 4-7
        (0.5000, 1.2931), (0.6699, 1.2664), (0.8112, 1.1881), (0.9300, 1.0833),  # 8-11
        (1.0189, 0.9525), (1.0710, 0.8010), (1.0977, 0.6384), (1.1155, 0.4732),  # 12-15
        (1.1262, 0.3086), (0.0000, 0.1492), (0.0656, 0.0595), (0.1710, 0.0200),  # 16-19
        (0.2879, 0.0250), (0.3968, 0.0653), (0.6032, 0.0653), (0.7121, 0.0250),  # 20-23
        (0.8290, 0.0200), (0.9344, 0.0595), (1.0000, 0.1492), (0.5000, 0.1966),  # 24-27
        (0.5000, 0.2987), (0.5000, 0.4015), (0.5000, 0.5084), (0.3628, 0.6034),  # 28-31
        (0.4293, 0.6232), (0.5000, 0.6412), (0.5707, 0.6232), (0.6372, 0.6034),  # 32-35
        (0.1246, 0.2420), (0.1870, 0.1996), (0.2654, 0.1965), (0.3348, 0.2404),  # 36-39
        (0.2644, 0.2566), (0.1873, 0.2611), (0.6652, 0.2404), (0.7346, 0.1965),  # 40-43
        (0.8130, 0.1996), (0.8754, 0.2420), (0.8127, 0.2611), (0.7356, 0.2566),  # 44-47
        (0.2576, 0.8455), (0.3431, 0.7940), (0.4335, 0.7694), (0.5000, 0.7843),  # 48-51
        (0.5665, 0.7694), (0.6569, 0.7940), (0.7424, 0.8455), (0.6611, 0.9140),  # 52-55
        (0.5727, 0.9433), (0.5000, 0.9510), (0.4273, 0.9433), (0.3389, 0.9140),  # 56-59
        (0.2966, 0.8445), (0.4332, 0.8199), (0.5000, 0.8266), (0.5668, 0.8199),  # 60-63
        (0.7034, 0.8445), (0.5691, 0.8699), (0.5000, 0.8773), (0.4309, 0.8699),  # 64-67
    ],
    dtype=np.float64,
)
MEAN_SHAPE_68.setflags(write=False)
