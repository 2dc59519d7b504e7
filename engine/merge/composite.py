"""Merging faces into a frame: the per-face pipeline in the crop, then the paste.

One face goes through two halves (``REFERENCE.md`` Part D 4.2 is the DeepFaceLab
original; the differences are noted):

1. **In the crop** (:func:`prepare_face`): the raw mask is eroded and feathered
   (:func:`engine.merge.masks.refine`); the swapped face is recoloured toward the dst
   crop with statistics from the eroded mask only (:mod:`engine.merge.color`) and
   optionally sharpened or softened.
2. **In the frame** (:func:`place`, :func:`blend`): the face (bicubic) and the
   supersampled mask (bilinear) are warped back through the inverse alignment, with the
   user's scale and offset, into the face's bounding box only (a small face in a 4K
   frame costs what its box costs); optionally seamless-cloned; then blended
   ``frame * (1 - a) + face * a`` with ``a = mask * opacity``.

Pixels where the mask is 0 are never written, so everything outside the merge mask
(and every frame without a face) is the input frame exactly. Several faces on one
frame are composited in the order given, each onto the result of the previous.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from engine.faces.align import crop_quad
from engine.merge.color import transfer
from engine.merge.masks import CUTOFF, FloatMask, RefinedMask, refine
from engine.merge.settings import MergeSettings

Matrix = npt.NDArray[np.float64]
Rgb = npt.NDArray[np.float32]

#: Pixels of margin around a face's box (the cubic kernel's reach, and seamless clone's border).
_MARGIN: Final = 3


@dataclass(frozen=True, eq=False)
class FaceLayer:
    """One face's inputs to a merge, in its crop (``r x r``).

    Attributes
    ----------
    face_id : the face's row id (None for faces that are not in the project).
    matrix : frame -> crop alignment the crop was made with.
    dst : the dst crop, float32 RGB [0, 1].
    swapped : the model's swapped face, float32 RGB [0, 1].
    mask : the raw mask (product of the sources, temporally blended), float32 [0, 1].
    """

    face_id: int | None
    matrix: Matrix
    dst: Rgb
    swapped: Rgb
    mask: FloatMask

    @property
    def size(self) -> int:
        return int(self.dst.shape[0])


@dataclass(frozen=True, eq=False)
class PreparedFace:
    """A face ready to paste: its final colours and mask in the crop, and where it goes."""

    layer: FaceLayer
    face: Rgb
    mask: RefinedMask
    paste: Matrix


@dataclass(frozen=True, eq=False)
class PlacedFace:
    """A face warped into the frame: ``rgb`` and ``alpha`` over ``box`` = (x0, y0, x1, y1)."""

    prepared: PreparedFace
    box: tuple[int, int, int, int]
    rgb: Rgb
    alpha: FloatMask


def _h(m: npt.ArrayLike) -> Matrix:
    return np.vstack([np.asarray(m, np.float64)[:2], [0.0, 0.0, 1.0]])


def paste_matrix(matrix: npt.ArrayLike, size: int, settings: MergeSettings) -> Matrix:
    """The frame -> crop matrix the face is pasted with: ``matrix`` with the face scaled
    by ``1 + face_scale/100`` about the crop centre and moved by the offsets (% of the
    crop, in the face's own axes, so they follow head roll)."""
    s = 1.0 + settings.face_scale / 100.0
    c = (size - 1) / 2.0
    ox, oy = settings.offset_x / 100.0 * size, settings.offset_y / 100.0 * size
    # out-crop -> crop: p = c + s (q - c) + o; its inverse composed with frame -> crop.
    t_inv = np.array([[1.0 / s, 0.0, c - (c + ox) / s], [0.0, 1.0 / s, c - (c + oy) / s], [0.0, 0.0, 1.0]])
    return (t_inv @ _h(matrix))[:2].copy()


def sharpen(face: Rgb, mode: str, amount: float) -> Rgb:
    """Unsharp masking ``face + a * (face - blur(face))`` with ``a = amount / 100``; the
    blur is a 3x3 box or a sigma-1 Gaussian. A negative amount moves toward the blur."""
    if mode == "none" or amount == 0.0:
        return face
    blurred = cv2.blur(face, (3, 3)) if mode == "box" else cv2.GaussianBlur(face, (0, 0), 1.0)
    a = np.float32(amount / 100.0)
    return np.clip(face + a * (face - blurred), 0.0, 1.0)


def prepare_face(layer: FaceLayer, settings: MergeSettings) -> PreparedFace:
    """Mask processing, colour transfer and sharpening in the crop (step 1 above)."""
    refined = refine(layer.mask, erode=settings.erode, blur=settings.blur)
    face = transfer(settings.color, layer.swapped, layer.dst, refined.core.astype(np.float32))
    face = sharpen(face, settings.sharpen, settings.sharpen_amount)
    return PreparedFace(layer, face.astype(np.float32, copy=False), refined,
                        paste_matrix(layer.matrix, layer.size, settings))


def scale_matrix(matrix: npt.ArrayLike, factor: float) -> Matrix:
    """A frame -> crop matrix for the same crop sampled ``factor`` times finer (pixel
    centres kept: ``u' + 0.5 = factor * (u + 0.5)``)."""
    k = float(factor)
    return (np.array([[k, 0.0, (k - 1.0) / 2.0], [0.0, k, (k - 1.0) / 2.0], [0.0, 0.0, 1.0]]) @ _h(matrix))[:2].copy()


def face_box(paste: npt.ArrayLike, size: int, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The frame box the pasted crop covers, with a small margin, clipped; None when off-frame."""
    quad = crop_quad(paste, size)
    h, w = int(frame_shape[0]), int(frame_shape[1])
    x0 = max(int(np.floor(quad[:, 0].min())) - _MARGIN, 0)
    y0 = max(int(np.floor(quad[:, 1].min())) - _MARGIN, 0)
    x1 = min(int(np.ceil(quad[:, 0].max())) + _MARGIN + 1, w)
    y1 = min(int(np.ceil(quad[:, 1].max())) + _MARGIN + 1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def place(prepared: PreparedFace, frame_shape: tuple[int, ...], opacity: float = 1.0) -> PlacedFace | None:
    """Warp the prepared face and its mask into its box of the frame (step 2 above)."""
    size = prepared.layer.size
    box = face_box(prepared.paste, size, frame_shape)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    # ROI pixel (u, v) is frame pixel (u + x0, v + y0).
    roi = (_h(prepared.paste) @ np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]]))[:2]
    dsize = (x1 - x0, y1 - y0)
    inverse = cv2.WARP_INVERSE_MAP
    rgb = cv2.warpAffine(prepared.face, roi, dsize, flags=cv2.INTER_CUBIC | inverse, borderMode=cv2.BORDER_REPLICATE)
    fine = scale_matrix(roi, prepared.mask.factor)
    alpha = cv2.warpAffine(prepared.mask.fine, fine, dsize, flags=cv2.INTER_LINEAR | inverse,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    alpha = np.clip(alpha, 0.0, 1.0)
    alpha[alpha < CUTOFF] = 0.0
    if opacity < 1.0:
        alpha *= np.float32(opacity)
    return PlacedFace(prepared, box, np.clip(rgb, 0.0, 1.0), alpha)


def _seamless(frame_roi: npt.NDArray[np.uint8], placed: PlacedFace) -> Rgb:
    """The face Poisson-cloned into the frame's box (OpenCV's normal clone), as float RGB.

    The clone region is where the mask is non-zero; its bounding box centre is given as
    the clone centre, so the face is not shifted (DeepFaceLab does the same to avoid
    jitter). The soft blend afterwards feathers the clone's edge as usual.
    """
    region = (placed.alpha > 0).astype(np.uint8) * 255
    region[:1] = region[-1:] = 0
    region[:, :1] = region[:, -1:] = 0
    if not region.any():
        return placed.rgb
    x, y, w, h = cv2.boundingRect(region)
    src = np.clip(placed.rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
    cloned = cv2.seamlessClone(src, np.ascontiguousarray(frame_roi), region, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    return cloned.astype(np.float32) / 255.0


def blend(frame: npt.NDArray[np.uint8], placed: PlacedFace, *, seamless: bool = False) -> PlacedFace:
    """Blend a placed face into ``frame`` (uint8 RGB, changed in place) and return the
    face as blended (after a seamless clone its colours are the clone's)."""
    x0, y0, x1, y1 = placed.box
    roi = frame[y0:y1, x0:x1]
    if seamless:
        placed = PlacedFace(placed.prepared, placed.box, _seamless(roi, placed), placed.alpha)
    touched = placed.alpha > 0
    if not touched.any():
        return placed
    a = placed.alpha[touched][:, None]
    old = roi[touched].astype(np.float32)
    new = old + (placed.rgb[touched] * 255.0 - old) * a
    roi[touched] = np.clip(new + 0.5, 0.0, 255.0).astype(np.uint8)
    return placed


@dataclass(frozen=True, eq=False)
class FrameMerge:
    """A merged frame: the image, the union of the faces' alphas, each face as placed, and
    the settings each placed face was merged with (merge keys and face overrides applied)."""

    image: npt.NDArray[np.uint8]
    alpha: FloatMask
    faces: tuple[PlacedFace, ...]
    settings: tuple[MergeSettings, ...] = ()


def merge_frame(frame: npt.ArrayLike, layers: Sequence[FaceLayer], settings: MergeSettings,
                per_layer: Sequence[MergeSettings] | None = None) -> FrameMerge:
    """Merge ``layers`` into a copy of ``frame`` (uint8 RGB), in order; ``per_layer``
    gives each layer its own settings (merge keys and face overrides), else all get ``settings``."""
    out = np.array(frame, dtype=np.uint8, copy=True)
    alpha = np.zeros(out.shape[:2], np.float32)
    placed_faces: list[PlacedFace] = []
    used: list[MergeSettings] = []
    for i, layer in enumerate(layers):
        s = settings if per_layer is None else per_layer[i]
        placed = place(prepare_face(layer, s), out.shape, s.opacity)
        if placed is None:
            continue
        placed = blend(out, placed, seamless=s.seamless)
        x0, y0, x1, y1 = placed.box
        np.maximum(alpha[y0:y1, x0:x1], placed.alpha, out=alpha[y0:y1, x0:x1])
        placed_faces.append(placed)
        used.append(s)
    return FrameMerge(out, alpha, tuple(placed_faces), tuple(used))
