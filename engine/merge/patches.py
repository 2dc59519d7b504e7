"""RGBA face patches for compositing in After Effects or Nuke.

Instead of merged frames, a render can write each face as an aligned RGBA patch: the
final swapped face (colour-transferred, sharpened) with the merge mask (feathered, times
the opacity) as straight alpha, 16 bits per channel, plus the matrix that places it on
the frame. A compositor then owns the last step, and can re-grade the face, re-time the
mask or track it differently without re-rendering.

Convention: pixel centres sit on integer coordinates (as everywhere in Facesmith) and a
matrix maps ``(x, y, 1)``; ``patch_to_frame`` takes patch pixels to frame pixels.
``corners`` are the patch's outer corners (top-left, top-right, bottom-right,
bottom-left) on the frame, ready for a corner pin. :func:`composite_patch` is the
reference "over": warping the patch by ``patch_to_frame`` and blending reproduces the
merged frame (up to resampling).

A patch is sampled as finely as the face is on screen (up to the mask's supersampling),
so a face enlarged on the frame is not upscaled twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from engine.faces.align import crop_quad, invert_alignment
from engine.merge.composite import PlacedFace, scale_matrix

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Patch:
    """An aligned RGBA patch (``uint16 (P, P, 4)``, straight alpha) and its placement."""

    rgba: npt.NDArray[np.uint16]
    from_frame: Matrix
    to_frame: Matrix

    @property
    def size(self) -> int:
        return int(self.rgba.shape[0])

    def sidecar(self) -> dict[str, Any]:
        """The patch's placement as JSON values (matrices row by row)."""
        return {
            "size": self.size,
            "patch_to_frame": np.round(self.to_frame, 9).tolist(),
            "frame_to_patch": np.round(self.from_frame, 9).tolist(),
            "corners": np.round(crop_quad(self.from_frame, self.size), 4).tolist(),
        }


def patch_factor(placed: PlacedFace) -> int:
    """How many patch pixels per crop pixel: the face's on-screen enlargement, rounded up,
    between 1 and the mask's supersampling."""
    paste = placed.prepared.paste
    crop_per_frame = math.sqrt(abs(float(np.linalg.det(paste[:, :2]))))
    k = math.ceil(1.0 / max(crop_per_frame, 1e-9) - 1e-6)
    return int(min(max(k, 1), placed.prepared.mask.factor))


def face_patch(placed: PlacedFace, *, seamless: bool = False, opacity: float = 1.0) -> Patch:
    """The RGBA patch of a face as merged (after a seamless clone, with its colours)."""
    prepared = placed.prepared
    k = patch_factor(placed)
    size = prepared.layer.size * k
    from_frame = scale_matrix(prepared.paste, k)
    if seamless:
        x0, y0 = placed.box[:2]
        shift = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
        roi_to_patch = (np.vstack([from_frame, [0.0, 0.0, 1.0]]) @ shift)[:2]
        rgb = cv2.warpAffine(placed.rgb, roi_to_patch, (size, size), flags=cv2.INTER_CUBIC,
                             borderMode=cv2.BORDER_REPLICATE)
    elif k > 1:
        rgb = cv2.resize(prepared.face, (size, size), interpolation=cv2.INTER_CUBIC)
    else:
        rgb = prepared.face
    fine = prepared.mask.fine
    alpha = fine if fine.shape[0] == size else cv2.resize(fine, (size, size), interpolation=cv2.INTER_AREA)
    rgba = np.dstack([np.clip(rgb, 0.0, 1.0), np.clip(alpha * np.float32(opacity), 0.0, 1.0)])
    data = (rgba * 65535.0 + 0.5).astype(np.uint16)
    return Patch(data, from_frame, invert_alignment(from_frame))


def composite_patch(frame: npt.ArrayLike, rgba: npt.ArrayLike, patch_to_frame: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """``rgba`` (uint16 or float [0, 1], straight alpha) placed by ``patch_to_frame`` over
    ``frame`` (uint8 RGB): the compositor's "over", for checks and as documentation."""
    base = np.asarray(frame, dtype=np.uint8)
    src = np.asarray(rgba)
    patch = src.astype(np.float32) / 65535.0 if src.dtype == np.uint16 else src.astype(np.float32)
    h, w = base.shape[:2]
    moved = cv2.warpAffine(patch, np.asarray(patch_to_frame, np.float64)[:2], (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0.0, 0.0, 0.0, 0.0))
    a = moved[..., 3:4]
    out = base.astype(np.float32) * (1.0 - a) + moved[..., :3] * 255.0 * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
