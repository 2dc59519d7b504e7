"""The merge mask: sources multiplied, eroded or dilated and feathered at sub-pixel
precision, optionally smoothed over time.

Masks here are float32 in [0, 1] in the model's crop (``r x r``). :func:`refine` works in
a ``k``-times supersampled copy (``k = 4`` as in DeepFaceLab, fewer for big crops, so the
copy stays within 1024 px), which is also what is warped back into the frame: a face
enlarged four-fold on screen still gets a smooth edge.

Two improvements over DeepFaceLab's morphology (``REFERENCE.md`` Part D 4.2, steps 6-9):

- **Erosion by distance, not by a kernel.** The mask's signed distance field (two exact
  Euclidean distance transforms) is thresholded at the erode distance. Any amount, also
  a fraction of a pixel, costs the same, the result is exactly round-cornered, and
  erode 400 does not mean a 400 px ellipse kernel slid over a 2048 px image.
- **Large blurs at reduced resolution.** A Gaussian of sigma ``s`` is band-limited, so it
  is computed on a copy reduced until sigma is ~4 px, and enlarged bilinearly: the same
  result within 1/255 at a fraction of the cost.

Temporal smoothing (:func:`temporal_blend`) averages a face's raw mask with those of the
same track's neighbouring frames in the aligned crop, where the head's motion is already
taken out, so a mask that flickers between frames settles while one that moves with the
head stays put.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from engine.merge.settings import MaskSource

FloatMask = npt.NDArray[np.float32]

#: Largest supersampled mask side; bigger crops supersample less.
MAX_FINE: Final = 1024
#: A Gaussian's 10-90 % edge width is 2.563 sigma: ``blur`` is that width.
_WIDTH_PER_SIGMA: Final = 2.563
#: Sigma (in pixels) above which blurring happens on a reduced copy.
_DIRECT_SIGMA: Final = 4.0
#: Mask values below this are exactly 0 (as in DeepFaceLab): no faint halo far out.
CUTOFF: Final = 1.0 / 255.0


def supersample_factor(size: int) -> int:
    """4, or less for crops whose 4x copy would exceed ``MAX_FINE`` (at least 1)."""
    return int(max(1, min(4, MAX_FINE // max(int(size), 1))))


def combine(sources: Mapping[MaskSource, npt.ArrayLike], names: Sequence[MaskSource], size: int) -> FloatMask:
    """The product of the named sources (each float [0, 1] or uint8) as float32 ``size x size``."""
    out = np.ones((size, size), np.float32)
    for name in names:
        if name == "full":
            continue
        src = np.asarray(sources[name])
        m = src.astype(np.float32) / 255.0 if src.dtype == np.uint8 else src.astype(np.float32)
        if m.shape != (size, size):
            raise ValueError(f"mask source {name} is {m.shape}, expected ({size}, {size})")
        out *= m
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class RefinedMask:
    """A processed mask.

    Attributes
    ----------
    fine : the feathered mask in the ``k``-times supersampled crop (``(r*k, r*k)``).
    factor : ``k``.
    core : the eroded, not yet feathered mask at crop size, as booleans: the pixels that
        are certainly face, which colour statistics are taken from.
    """

    fine: FloatMask
    factor: int
    core: npt.NDArray[np.bool_]

    def at_crop(self) -> FloatMask:
        """The feathered mask at crop size (area average of the fine one)."""
        r = self.fine.shape[0] // self.factor
        if self.factor == 1:
            return self.fine
        return cv2.resize(self.fine, (r, r), interpolation=cv2.INTER_AREA)


def _signed_distance(inside: npt.NDArray[np.bool_]) -> FloatMask:
    """Distance to the mask's edge in pixels, positive inside, edge halfway between pixels."""
    d_in = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d_out = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(inside, d_in - 0.5, 0.5 - d_out).astype(np.float32)


def gaussian(mask: FloatMask, sigma: float) -> FloatMask:
    """Gaussian blur; sigmas over ~4 px run on a reduced copy (see the module docs)."""
    if sigma <= 0.0:
        return mask
    h, w = mask.shape
    f = int(sigma // _DIRECT_SIGMA)
    if f < 2:
        return cv2.GaussianBlur(mask, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    small = cv2.resize(mask, (max(1, round(w / f)), max(1, round(h / f))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f, borderType=cv2.BORDER_CONSTANT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def refine(mask: npt.ArrayLike, *, erode: float, blur: float, factor: int | None = None) -> RefinedMask:
    """Erode/dilate by ``erode`` and feather by ``blur`` (both % of the crop side).

    Steps: enlarge to the supersampled crop (bilinear, pixel centres kept); with an
    erode, re-threshold the signed distance at that depth (a one-sub-pixel ramp keeps
    the edge anti-aliased); clear a border of three sigmas so the feather reaches zero
    inside the crop (no seam at the crop's edge); blur; cut values below 1/255.
    """
    m0 = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
    r = m0.shape[0]
    k = supersample_factor(r) if factor is None else int(factor)
    big = r * k
    m = m0 if k == 1 else cv2.resize(m0, (big, big), interpolation=cv2.INTER_LINEAR)
    if erode != 0.0:
        sdf = _signed_distance(m >= 0.5)
        m = np.clip(sdf - np.float32(erode / 100.0 * big) + 0.5, 0.0, 1.0)
    core_fine = m if k == 1 else cv2.resize(m, (r, r), interpolation=cv2.INTER_AREA)
    core = core_fine >= 0.5
    sigma = blur / 100.0 * big / _WIDTH_PER_SIGMA
    if sigma > 0.0:
        border = min(int(np.ceil(3.0 * sigma)) + 1, big // 2)
        m = m.copy() if m is m0 else m
        m[:border] = 0.0
        m[-border:] = 0.0
        m[:, :border] = 0.0
        m[:, -border:] = 0.0
        m = gaussian(m, sigma)
    m = np.clip(m, 0.0, 1.0)
    m[m < CUTOFF] = 0.0
    return RefinedMask(np.ascontiguousarray(m, dtype=np.float32), k, core)


def temporal_blend(current: FloatMask, neighbours: Sequence[tuple[int, FloatMask]], radius: int) -> FloatMask:
    """The current raw mask averaged with its track neighbours' (each ``(frame offset,
    mask)`` within ``radius`` frames; missing ones are simply absent and the weights
    renormalise). Weights fall off linearly with distance, ``radius + 1 - |offset|``
    (1-2-1 for radius 1).

    The masks are averaged in their own crops, with no warping: each crop is aligned to
    its face, so the same crop pixel is the same place on the face in every frame and
    the head's motion is already taken out (warping through the frame would instead
    hold the mask still while the head moves on).
    """
    if radius <= 0 or not neighbours:
        return current
    total = np.float32(radius + 1)
    acc = current * total
    for offset, other in neighbours:
        if offset == 0 or abs(offset) > radius:
            continue
        w = np.float32(radius + 1 - abs(offset))
        acc += w * other
        total += w
    return np.clip(acc / total, 0.0, 1.0).astype(np.float32)
