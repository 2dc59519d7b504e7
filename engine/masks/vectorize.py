"""Raster masks to editable polygons (a predicted mask the user can then correct).

MVE users ask for this: a trained mask that is 95 % right should be fixed by dragging a
few points, not redrawn. The result is a :class:`LabelMask` in frame pixels, so it becomes
a keyframe like any hand-drawn label.

How:

1. **Sub-pixel outlines.** Marching squares at the half level (``skimage.measure.
   find_contours``) on the mask padded by one pixel, so every outline is closed. On a soft
   mask (a prediction's probabilities) the outline falls between pixels where the
   probability crosses 0.5, which is more accurate than any pixel-centre outline; on a
   hard mask it runs along the pixel edges, so re-filling it gives back the same pixels.
2. **Holes by nesting.** Each outline's depth is the number of outlines around it: even
   depths are include polygons, odd depths exclude polygons, written shallow to deep so
   that painting them in order (see :mod:`engine.masks.shapes`) rebuilds holes and islands
   within holes.
3. **A point budget.** Douglas-Peucker (``cv2.approxPolyDP``) at ``tolerance`` pixels;
   when the outlines still have more than ``max_points`` points in all, the budget is
   shared out by outline length and each outline's tolerance is raised (bisection) until
   it fits. Specks below ``min_area`` are dropped first, and when the budget cannot give
   every outline a triangle, the smallest outlines go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt
from skimage.measure import find_contours

from engine.faces.align import invert_alignment
from engine.masks.shapes import LabelMask, MaskError, Shape

DEFAULT_MAX_POINTS: Final = 200
DEFAULT_TOLERANCE: Final = 0.5


@dataclass(frozen=True, eq=False)
class _Outline:
    points: npt.NDArray[np.float64]  # (N, 2) x/y, open ring (first point not repeated)
    area: float
    length: float
    depth: int = 0


def _as_level_image(mask: npt.ArrayLike) -> npt.NDArray[np.float64]:
    arr = np.asarray(mask)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise MaskError(f"vectorize: a mask must be 2-D, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr.astype(np.float64)
    if arr.dtype.kind == "f":
        return arr.astype(np.float64)
    return arr.astype(np.float64) / 255.0


def outlines(mask: npt.ArrayLike, *, level: float = 0.5, min_area: float | None = None) -> list[_Outline]:
    """Closed outlines of a mask with their nesting depth, shallow first (pixel coords)."""
    img = _as_level_image(mask)
    h, w = img.shape
    if min_area is None:
        min_area = max(4.0, 1e-4 * h * w)
    padded = np.pad(img, 1, mode="constant", constant_values=0.0)
    found: list[_Outline] = []
    for c in find_contours(padded, level):
        ring = c[:-1, ::-1] - 1.0 if np.allclose(c[0], c[-1]) else c[:, ::-1] - 1.0
        if len(ring) < 3:
            continue
        f32 = ring.astype(np.float32)
        area = abs(float(cv2.contourArea(f32)))
        if area < min_area:
            continue
        found.append(_Outline(ring, area, float(cv2.arcLength(f32, True))))
    # Depth = how many other outlines contain this one (outlines never cross).
    found.sort(key=lambda o: -o.area)
    out: list[_Outline] = []
    for i, o in enumerate(found):
        probe = (float(o.points[0, 0]), float(o.points[0, 1]))
        depth = sum(
            1 for other in found[:i]  # only a larger outline can contain this one
            if cv2.pointPolygonTest(other.points.astype(np.float32), probe, False) > 0
        )
        out.append(_Outline(o.points, o.area, o.length, depth))
    out.sort(key=lambda o: (o.depth, -o.area))
    return out


def _simplify(points: npt.NDArray[np.float64], epsilon: float) -> npt.NDArray[np.float64]:
    approx = cv2.approxPolyDP(points.astype(np.float32).reshape(-1, 1, 2), epsilon, True)
    return approx.reshape(-1, 2).astype(np.float64)


def _fit(points: npt.NDArray[np.float64], budget: int, tolerance: float) -> npt.NDArray[np.float64]:
    """Douglas-Peucker with the smallest tolerance (>= ``tolerance``) that gives <= ``budget`` points."""
    best = _simplify(points, tolerance)
    if len(best) <= budget:
        return best
    lo, hi = tolerance, max(tolerance * 2.0, float(np.ptp(points, axis=0).max()))
    best = _simplify(points, hi)
    for _ in range(24):
        mid = 0.5 * (lo + hi)
        cand = _simplify(points, mid)
        if len(cand) <= budget:
            hi, best = mid, cand
        else:
            lo = mid
        if hi - lo < 1e-3:
            break
    if len(best) > budget or len(best) < 3:  # a degenerate result: evenly spaced points
        best = points[np.linspace(0, len(points) - 1, budget, endpoint=False).astype(int)]
    return best


def vectorize(
    mask: npt.ArrayLike,
    matrix: npt.ArrayLike | None = None,
    *,
    max_points: int = DEFAULT_MAX_POINTS,
    tolerance: float = DEFAULT_TOLERANCE,
    min_area: float | None = None,
    level: float = 0.5,
) -> LabelMask:
    """Editable include/exclude polygons of a raster mask.

    Parameters
    ----------
    mask : uint8 (0..255), float (0..1) or bool ``(H, W)`` mask.
    matrix : the frame -> crop alignment of the crop the mask is in; the polygons are
        returned in frame pixels. ``None`` keeps the mask's own pixel coordinates.
    max_points : the most points all polygons together may have.
    tolerance : the largest distance (mask pixels) a simplified outline may stray from the
        exact one while the budget allows.
    min_area : outlines enclosing less (mask pixels squared) are dropped; default
        ``max(4, 1e-4 * H * W)``.
    """
    if max_points < 3:
        raise MaskError(f"vectorize: max_points must be >= 3, got {max_points}")
    rings = outlines(mask, level=level, min_area=min_area)
    # Give up the smallest outlines when the budget cannot hold a triangle for each.
    while rings and 3 * len(rings) > max_points:
        smallest = min(range(len(rings)), key=lambda i: rings[i].area)
        # Removing an outer ring orphans its holes; drop whatever it contains with it.
        rings = _drop(rings, smallest)
    simplified = [_simplify(r.points, tolerance) for r in rings]
    if sum(len(s) for s in simplified) > max_points:
        total = sum(r.length for r in rings) or 1.0
        spare = max_points - 3 * len(rings)
        budgets = [3 + int(spare * r.length / total) for r in rings]
        simplified = [_fit(r.points, b, tolerance) for r, b in zip(rings, budgets, strict=True)]
    to_frame = None if matrix is None else invert_alignment(matrix)
    shapes = []
    for r, pts in zip(rings, simplified, strict=True):
        if len(pts) < 3:
            continue
        if to_frame is not None:
            pts = pts @ to_frame[:, :2].T + to_frame[:, 2]
        shapes.append(Shape("include" if r.depth % 2 == 0 else "exclude", "polygon", pts))
    return LabelMask(tuple(shapes))


def _drop(rings: list[_Outline], index: int) -> list[_Outline]:
    gone = rings[index]
    poly = gone.points.astype(np.float32)
    keep = []
    for i, r in enumerate(rings):
        if i == index:
            continue
        inside = r.depth > gone.depth and cv2.pointPolygonTest(
            poly, (float(r.points[0, 0]), float(r.points[0, 1])), False) > 0
        if not inside:
            keep.append(r)
    return keep
