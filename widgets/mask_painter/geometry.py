"""Qt-free geometry of the mask painter: crop <-> frame points, hit tests, brush stamps.

The painter shows a face's crop (the frame warped through the face's alignment) with a
margin of frame around it. Three coordinate systems meet here:

- **frame** pixels: where a :class:`~engine.masks.shapes.LabelMask` lives (stored);
- **crop** pixels: the ``size x size`` aligned crop; pointer events reach the model here;
- **canvas** pixels: the crop plus ``margin`` on every side, the picture the widget
  draws (``canvas = crop + margin``), and where the display raster of the mask lives.

Only vertices the user moves go through crop -> frame; every other vertex of an edited
polygon keeps its stored frame coordinates bit for bit, so editing one point never makes
the rest of a label drift by round trips through the alignment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import cv2
import numpy as np
import numpy.typing as npt

from engine.faces.align import invert_alignment

Points = npt.NDArray[np.float64]
#: Fixed-point bits for cv2 drawing (1/16 px), as in :mod:`engine.masks.raster`.
SHIFT: Final = 4
_ONE: Final = 1 << SHIFT

HitKind = Literal["vertex", "edge", "inside"]


def crop_points(points: npt.ArrayLike, matrix: npt.ArrayLike) -> Points:
    """Frame points ``(N, 2)`` -> crop points under the frame -> crop ``matrix``."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    mat = np.asarray(matrix, dtype=np.float64)[:2]
    return pts @ mat[:, :2].T + mat[:, 2]


def frame_points(points: npt.ArrayLike, matrix: npt.ArrayLike) -> Points:
    """Crop points ``(N, 2)`` -> frame points (the inverse of :func:`crop_points`)."""
    return crop_points(points, invert_alignment(matrix))


def shifted(matrix: npt.ArrayLike, margin: float) -> npt.NDArray[np.float64]:
    """The frame -> canvas matrix of a crop with ``margin`` pixels of frame around it."""
    mat = np.asarray(matrix, dtype=np.float64)[:2].copy()
    mat[:, 2] += margin
    return mat


def canvas_picture(frame: np.ndarray, matrix: npt.ArrayLike, size: int, margin: int) -> np.ndarray:
    """The picture the painter shows: ``frame`` warped into the ``size`` crop of ``matrix``
    with ``margin`` pixels of frame around it (black where the frame ends)."""
    side = int(size) + 2 * int(margin)
    return cv2.warpAffine(np.ascontiguousarray(frame), shifted(matrix, margin), (side, side),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


# ---------------------------------------------------------------------- hit tests
@dataclass(frozen=True)
class Hit:
    """What is under the pointer.

    Attributes
    ----------
    kind : ``vertex`` (``index`` is the vertex), ``edge`` (``index`` is the edge from vertex
        ``index`` to ``index + 1``; ``point`` is the nearest point on it), ``inside`` (the
        pointer is within the polygon).
    shape : index of the polygon in the label's shapes.
    """

    kind: HitKind
    shape: int
    index: int
    point: tuple[float, float]


def nearest_vertex(points: Points, x: float, y: float) -> tuple[int, float]:
    d = np.hypot(points[:, 0] - x, points[:, 1] - y)
    i = int(np.argmin(d))
    return i, float(d[i])


def nearest_edge(points: Points, x: float, y: float) -> tuple[int, float, tuple[float, float]]:
    """The closed polygon's edge nearest to ``(x, y)``: (index, distance, nearest point)."""
    a = points
    b = np.roll(points, -1, axis=0)
    ab = b - a
    length2 = np.maximum((ab**2).sum(axis=1), 1e-12)
    t = np.clip(((x - a[:, 0]) * ab[:, 0] + (y - a[:, 1]) * ab[:, 1]) / length2, 0.0, 1.0)
    near = a + t[:, None] * ab
    d = np.hypot(near[:, 0] - x, near[:, 1] - y)
    i = int(np.argmin(d))
    return i, float(d[i]), (float(near[i, 0]), float(near[i, 1]))


def hit_test(polygons: list[tuple[int, Points]], x: float, y: float, radius: float) -> Hit | None:
    """The topmost vertex within ``radius``, else edge within ``radius``, else polygon under
    ``(x, y)``; ``polygons`` are ``(shape index, crop points)`` in painting order."""
    best: Hit | None = None
    best_d = radius
    for shape, pts in reversed(polygons):
        i, d = nearest_vertex(pts, x, y)
        if d <= best_d:
            best, best_d = Hit("vertex", shape, i, (float(pts[i, 0]), float(pts[i, 1]))), d
    if best is not None:
        return best
    best_d = radius
    for shape, pts in reversed(polygons):
        i, d, near = nearest_edge(pts, x, y)
        if d <= best_d:
            best, best_d = Hit("edge", shape, i, near), d
    if best is not None:
        return best
    for shape, pts in reversed(polygons):
        if cv2.pointPolygonTest(pts.astype(np.float32).reshape(-1, 1, 2), (float(x), float(y)), False) >= 0:
            return Hit("inside", shape, -1, (float(x), float(y)))
    return None


# ---------------------------------------------------------------------- brush stamps
Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)


def union(a: Rect | None, b: Rect | None) -> Rect | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def clip_rect(rect: Rect | None, width: int, height: int) -> Rect | None:
    if rect is None:
        return None
    x0, y0 = max(rect[0], 0), max(rect[1], 0)
    x1, y1 = min(rect[2], width), min(rect[3], height)
    return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1, y1)


class StrokeCoverage:
    """One brush stroke drawn incrementally: its coverage is kept at ``supersample`` times
    the raster's resolution and composited over the raster as it was at the press.

    The stroke's geometry is drawn exactly as :func:`engine.masks.raster.draw` draws a
    stroke shape (same thickness, caps and sub-pixel grid), so what the user sees while
    painting is what the committed label gives. Each :meth:`add` touches only the
    segment's rectangle, so a move costs the same whatever the size of the mask.

    Attributes
    ----------
    base : the raster before the stroke (what :meth:`restore` puts back on abort).
    """

    def __init__(self, raster: np.ndarray, value: int, *, supersample: int = 4) -> None:
        self.base = raster.copy()
        self.value = int(value)
        self.k = int(supersample)
        h, w = raster.shape
        self._hi = np.zeros((h * self.k, w * self.k), np.uint8)

    def add(self, raster: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], radius: float) -> Rect | None:
        """Draw the round-capped segment ``p0 -> p1`` (raster pixels) into ``raster``;
        returns the rectangle it changed (clipped), for a partial repaint."""
        k = self.k
        r = max(float(radius), 0.5 / k)
        pts = [(int(round(((x + 0.5) * k - 0.5) * _ONE)), int(round(((y + 0.5) * k - 0.5) * _ONE)))
               for x, y in (p0, p1)]
        if pts[0] != pts[1]:
            cv2.line(self._hi, pts[0], pts[1], 255, thickness=max(1, int(round(2.0 * r * k))),
                     lineType=cv2.LINE_AA, shift=SHIFT)
        r_fixed = max(int(round(r * k * _ONE)), _ONE // 2)
        for pt in pts:
            cv2.circle(self._hi, pt, r_fixed, 255, thickness=-1, lineType=cv2.LINE_AA, shift=SHIFT)
        pad = r + 2.0
        (x0, y0), (x1, y1) = p0, p1
        box = clip_rect((int(math.floor(min(x0, x1) - pad)), int(math.floor(min(y0, y1) - pad)),
                         int(math.ceil(max(x0, x1) + pad)) + 1, int(math.ceil(max(y0, y1) + pad)) + 1),
                        raster.shape[1], raster.shape[0])
        if box is None:
            return None
        bx0, by0, bx1, by1 = box
        cover = cv2.resize(self._hi[by0 * k:by1 * k, bx0 * k:bx1 * k], (bx1 - bx0, by1 - by0),
                           interpolation=cv2.INTER_AREA).astype(np.uint16)
        base = self.base[by0:by1, bx0:bx1].astype(np.uint16)
        if self.value:
            out = base + ((255 - base) * cover + 127) // 255
        else:
            out = base - (base * cover + 127) // 255
        raster[by0:by1, bx0:bx1] = out.astype(np.uint8)
        return box

    def restore(self, raster: np.ndarray) -> None:
        raster[...] = self.base
