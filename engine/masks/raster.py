"""Label masks to pixels, and masks from one crop to another.

Everything here follows one convention: masks are uint8 ``(S, S)`` images, 0 outside and
255 inside (soft values in between where a mask is resampled), and pixel centres sit on
integer coordinates, as in :mod:`engine.faces.align`. Rasterising goes through the
crop's 2x3 alignment (frame -> crop), so one label mask gives consistent masks in every
face type and size of its face: the crop of a ``full`` face and the crop of a ``whole``
face show the same outline, each at its own scale.

Shapes are drawn at sub-pixel precision (OpenCV fixed point, 1/16 px, on a 4x
supersampled canvas), so a vertex at x = 10.4 is drawn at 10.4 and not rounded to 10, and
each pixel ends up holding how much of it the mask covers. The outline of a mask
rasterised into a 128 px crop and one rasterised into a 512 px crop agree to a fraction
of a pixel, and raster -> polygons -> raster gives back the same pixels.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from engine.faces.align import invert_alignment
from engine.masks.shapes import LabelMask, similarity_scale

Mask = npt.NDArray[np.uint8]

#: Fixed-point bits for cv2 drawing: coordinates in 1/16 px.
SHIFT: Final = 4
_ONE: Final = 1 << SHIFT
#: Sub-pixels per pixel side when drawing (see :func:`draw`).
SUPERSAMPLE: Final = 4
IDENTITY: Final = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _fixed(points: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
    # Clamp far-off points: cv2 works in int32 fixed point, and a shape far outside the
    # crop (a label of a big face rasterised into a thumbnail) must not overflow.
    limit = float(2**31 // _ONE // 64)
    return np.round(np.clip(points, -limit, limit) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def draw(
    label: LabelMask, matrix: npt.ArrayLike, shape: tuple[int, int], *, supersample: int = SUPERSAMPLE
) -> Mask:
    """Rasterise ``label`` (frame px) through ``matrix`` into an ``(h, w)`` uint8 image.

    Shapes are painted in order: include with 255, exclude with 0. Stroke widths scale with
    the alignment, so a 10 px brush on the frame is a 5 px brush in a half-size crop.

    Drawing happens at ``supersample`` times the resolution with anti-aliased edges and is
    area-averaged down, so each pixel holds how much of it the mask covers: edges are
    soft, a pixel counts as inside when at least half of it is covered, and moving a shape
    by a third of a pixel moves its mask by a third of a pixel. (OpenCV's plain fill is
    inclusive, painting every pixel an edge touches, which would grow a mask by up to a
    pixel at every rasterisation.) Only the bounding box of the include shapes is drawn,
    so rasterising into a 4K frame costs what the face's area costs.
    """
    h, w = shape
    out = np.zeros((h, w), np.uint8)
    mat = np.asarray(matrix, dtype=np.float64)[:2]
    scale = similarity_scale(mat)
    moved = [(s, s.points @ mat[:, :2].T + mat[:, 2], s.radius * scale) for s in label.shapes]
    boxes = [(p.min(axis=0) - r, p.max(axis=0) + r) for s, p, r in moved if s.kind == "include"]
    if not boxes:
        return out
    x0 = max(int(np.floor(min(b[0][0] for b in boxes))) - 1, 0)
    y0 = max(int(np.floor(min(b[0][1] for b in boxes))) - 1, 0)
    x1 = min(int(np.ceil(max(b[1][0] for b in boxes))) + 2, w)
    y1 = min(int(np.ceil(max(b[1][1] for b in boxes))) + 2, h)
    if x1 <= x0 or y1 <= y0:
        return out
    k = max(int(supersample), 1)
    big = np.zeros(((y1 - y0) * k, (x1 - x0) * k), np.uint8)
    origin = np.array([x0, y0], dtype=np.float64)
    for s, pts, radius in moved:
        value = 255 if s.kind == "include" else 0
        # Pixel (u, v) of the region covers [u - 0.5, u + 0.5]; its k x k sub-pixels have
        # centres at k * (u + 0.5) - 0.5 + j.
        fixed = _fixed((pts - origin + 0.5) * k - 0.5)
        if s.type == "polygon":
            cv2.fillPoly(big, [fixed], value, lineType=cv2.LINE_AA, shift=SHIFT)
            continue
        if len(pts) > 1:
            thickness = max(1, int(round(2.0 * radius * k)))
            cv2.polylines(big, [fixed], False, value, thickness=thickness, lineType=cv2.LINE_AA, shift=SHIFT)
        # Round caps and joints of exactly the radius, whatever the line drawing did.
        r_fixed = max(int(round(radius * k * _ONE)), _ONE // 2)
        for x, y in fixed.reshape(-1, 2):
            cv2.circle(big, (int(x), int(y)), r_fixed, value, thickness=-1, lineType=cv2.LINE_AA, shift=SHIFT)
    if k > 1:
        big = cv2.resize(big, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    out[y0:y1, x0:x1] = big
    return out


def rasterize(label: LabelMask, matrix: npt.ArrayLike, size: int) -> Mask:
    """The label mask in a ``size x size`` crop whose frame -> crop alignment is ``matrix``."""
    return draw(label, matrix, (size, size))


def rasterize_frame(label: LabelMask, frame_shape: tuple[int, ...]) -> Mask:
    """The label mask over a whole frame of ``frame_shape`` (``(h, w)`` or ``(h, w, 3)``)."""
    return draw(label, IDENTITY, (int(frame_shape[0]), int(frame_shape[1])))


def crop_to_crop(src_matrix: npt.ArrayLike, dst_matrix: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The 2x3 map from pixels of one crop of a frame to pixels of another crop of it."""
    inv = np.vstack([invert_alignment(src_matrix), [0.0, 0.0, 1.0]])
    dst = np.vstack([np.asarray(dst_matrix, dtype=np.float64)[:2], [0.0, 0.0, 1.0]])
    return (dst @ inv)[:2].copy()


def warp_mask(
    mask: Mask,
    src_matrix: npt.ArrayLike,
    dst_matrix: npt.ArrayLike,
    size: int | tuple[int, int],
    *,
    interpolation: int = cv2.INTER_LINEAR,
) -> Mask:
    """A mask held in crop coordinates of ``src_matrix`` (frame -> that crop), resampled
    into the crop of ``dst_matrix`` (another face type or size, or the frame itself with
    the identity). Outside the source crop the result is 0: nothing is known there."""
    w, h = (size, size) if isinstance(size, int) else (size[1], size[0])
    m = crop_to_crop(src_matrix, dst_matrix)
    return cv2.warpAffine(mask, m, (w, h), flags=interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def binary(mask: npt.ArrayLike, threshold: float = 127.5) -> npt.NDArray[np.bool_]:
    """A uint8 mask (or a float one in [0, 1]) as booleans."""
    arr = np.asarray(mask)
    if arr.dtype.kind == "f":
        return arr >= threshold / 255.0
    return arr > threshold


def iou(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Intersection over union of two masks (thresholded at half); 1.0 when both are empty."""
    ba, bb = binary(a), binary(b)
    union = np.logical_or(ba, bb).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(ba, bb).sum() / union)
