"""Masks from landmarks alone: the face hull (the fallback mask) and eyes/mouth regions.

A face with no label and no prediction still needs a mask (for masked training, for
merging); the convex hull of its 68 landmarks is the classic answer (DeepFaceLab's "dst"
mask mode). The bare hull stops at the eyebrows, which cuts the brow hair and the
forehead off, so two extensions, both measured in the face's own frame so they follow
head roll and scale:

- **eyebrow expansion** pushes every brow point away from its eye's centre by
  ``eyebrow_expand`` (1.0 = landmarks as found; the default 1.3 takes in the brow hair
  the 68-point scheme marks along the brow's middle);
- **forehead** adds a dome above the brows whose height is ``forehead`` times the
  brow-to-chin distance, highest over the nose and falling off toward the temples.
  ``facesmith xseg label-hull`` seeds label masks with it: a starting point that the
  user corrects, and one an XSeg model learns the region from.

The eyes/mouth mask is what swap training weights extra (DeepFaceLab's eyes-mouth
priority): each eye's hull grown around its centre, and the outer mouth hull.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from engine.faces.shape68 import JAW, LEFT_BROW, LEFT_EYE, OUTER_MOUTH, RIGHT_BROW, RIGHT_EYE
from engine.masks.raster import Mask, rasterize
from engine.masks.shapes import LabelMask, MaskError, Shape

DEFAULT_EYEBROW_EXPAND: Final = 1.3
#: Forehead height used for seeding label masks (fraction of the brow-to-chin distance).
DEFAULT_FOREHEAD: Final = 0.35
_DOME_POINTS: Final = 9


def _landmarks(landmarks: npt.ArrayLike) -> npt.NDArray[np.float64]:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2) or not np.isfinite(lm).all():
        raise MaskError(f"hull: landmarks must be 68 finite x/y points, got shape {lm.shape}")
    return lm


def face_axes(landmarks: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """The face's right (subject's right eye -> left eye) and up unit vectors in image
    coordinates, and its brow-to-chin height in pixels."""
    lm = _landmarks(landmarks)
    right = lm[LEFT_EYE].mean(axis=0) - lm[RIGHT_EYE].mean(axis=0)
    norm = float(np.hypot(*right))
    if norm < 1e-6:
        raise MaskError("hull: degenerate landmarks (the eyes coincide)")
    right /= norm
    up = np.array([right[1], -right[0]])  # image y points down
    brow_centre = 0.5 * (lm[21] + lm[22])
    height = float(np.dot(brow_centre - lm[8], up))
    if height <= 0:
        height = float(np.hypot(*(brow_centre - lm[8])))
    return right, up, max(height, 1e-6)


def hull_points(
    landmarks: npt.ArrayLike,
    *,
    eyebrow_expand: float = DEFAULT_EYEBROW_EXPAND,
    forehead: float = 0.0,
) -> npt.NDArray[np.float64]:
    """The face hull polygon (convex, counter-clockwise) in the landmarks' coordinates."""
    if not 0.5 <= eyebrow_expand <= 4.0:
        raise MaskError(f"hull: eyebrow_expand must be in 0.5..4, got {eyebrow_expand}")
    if not 0.0 <= forehead <= 1.5:
        raise MaskError(f"hull: forehead must be in 0..1.5, got {forehead}")
    lm = _landmarks(landmarks)
    pts = [lm[JAW]]
    for brow, eye in ((RIGHT_BROW, RIGHT_EYE), (LEFT_BROW, LEFT_EYE)):
        centre = lm[eye].mean(axis=0)
        pts.append(centre + (lm[brow] - centre) * eyebrow_expand)
    if forehead > 0:
        right, up, height = face_axes(lm)
        brows = np.concatenate(pts[1:])
        mid = brows.mean(axis=0)
        # The dome spans the jaw's width at the brows (temple to temple).
        half_width = 0.5 * float(np.dot(lm[16] - lm[0], right))
        top = float(np.max((brows - mid) @ up))
        t = np.linspace(-1.0, 1.0, _DOME_POINTS)
        base = mid + np.outer(t * half_width, right) + np.outer(np.full_like(t, top), up)
        rise = forehead * height * np.sqrt(np.clip(1.0 - 0.75 * t**2, 0.0, None))
        pts.append(base + rise[:, None] * up)
    all_pts = np.concatenate(pts).astype(np.float32)
    hull = cv2.convexHull(all_pts, clockwise=False).reshape(-1, 2)
    return hull.astype(np.float64)


def hull_label(
    landmarks: npt.ArrayLike,
    *,
    eyebrow_expand: float = DEFAULT_EYEBROW_EXPAND,
    forehead: float = 0.0,
) -> LabelMask:
    """The hull as a one-polygon label mask (landmarks in frame px -> frame px)."""
    return LabelMask((Shape("include", "polygon", hull_points(
        landmarks, eyebrow_expand=eyebrow_expand, forehead=forehead)),))


def hull_mask(
    landmarks: npt.ArrayLike,
    matrix: npt.ArrayLike,
    size: int,
    *,
    eyebrow_expand: float = DEFAULT_EYEBROW_EXPAND,
    forehead: float = 0.0,
) -> Mask:
    """The hull mask in the ``size`` crop of alignment ``matrix`` (landmarks in frame px)."""
    return rasterize(hull_label(landmarks, eyebrow_expand=eyebrow_expand, forehead=forehead), matrix, size)


def eyes_mouth_label(landmarks: npt.ArrayLike, *, eye_grow: float = 1.6, mouth_grow: float = 1.15) -> LabelMask:
    """Both eyes (each hull grown ``eye_grow`` times about its centre) and the mouth."""
    lm = _landmarks(landmarks)
    shapes = []
    for group, grow in ((RIGHT_EYE, eye_grow), (LEFT_EYE, eye_grow), (OUTER_MOUTH, mouth_grow)):
        pts = lm[group]
        centre = pts.mean(axis=0)
        grown = (centre + (pts - centre) * grow).astype(np.float32)
        shapes.append(Shape("include", "polygon", cv2.convexHull(grown).reshape(-1, 2).astype(np.float64)))
    return LabelMask(tuple(shapes))


def eyes_mouth_mask(landmarks: npt.ArrayLike, matrix: npt.ArrayLike, size: int) -> Mask:
    """The eyes and mouth regions in the ``size`` crop of alignment ``matrix``."""
    return rasterize(eyes_mouth_label(landmarks), matrix, size)
