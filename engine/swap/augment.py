"""Training augmentation on the device, a whole batch at a time, with ``grid_sample``.

DeepFaceLab prepares every sample on the CPU with OpenCV (``cv2.remap`` for the random
warp, ``warpAffine`` for the transform, in ``cpu_count//2`` processes per side): about
4 ms per 256 px sample per core, which starves a fast GPU (``REFERENCE.md`` Part F 5).
Here the face set already sits on the device as uint8, and a batch is built by

1. gathering the sampled faces (uint8) and converting them to float;
2. (optional) Reinhard colour transfer of src faces toward random dst faces;
3. building one sampling grid per sample that composes flip, affine and random warp,
   and sampling input and target in a single ``grid_sample`` call (masks in another);
4. (optional) HSV jitter of the src input.

The random parameters are drawn separately from their application
(:func:`draw_params` / :func:`apply`): under DDP every rank draws the parameters of the
*global* batch from the same generator and applies only its own slice, so a run on N
devices sees exactly the batches a run on one device sees.

Geometry follows DeepFaceLab's ``gen_warp_params`` (Part C 2): rotation +-10 deg, scale
0.87-1.15, shift +-5 %, flip; a random warp on a grid of 2, 4 or 8 cells whose inner
knots move by a truncated normal (+-2.5 sigma) times 0.24 cell, interpolated bilinearly,
applied before the affine transform. The target gets the same affine and flip but no
warp, so the model learns to undo the warp (its "what a face looks like" prior).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from engine.swap.color import hsv_jitter, rct

WARP_CELLS = (2, 4, 8)
_KNOTS = 9  # every grid of WARP_CELLS is represented exactly on a 9x9 knot lattice
_TRUNC = 2.5


@dataclass(frozen=True)
class AugmentSpec:
    """One identity's augmentation settings (from :class:`~engine.swap.config.TrainConfig`)."""

    random_warp: bool = True
    flip: float = 0.0
    rotation_deg: float = 10.0
    scale_min: float = 0.87
    scale_max: float = 1.15
    shift: float = 0.05
    hsv_power: float = 0.0


class AugParams(NamedTuple):
    """The random draws of one batch (all tensors have the batch as first axis)."""

    theta: Tensor  # (B, 2, 3) output -> input affine, normalised coordinates
    warp: Tensor | None  # (B, 2, 9, 9) displacement knots, normalised units
    hsv: Tensor | None  # (B, 3) hue (turns), saturation and value shifts

    def slice(self, sl: slice) -> AugParams:
        return AugParams(self.theta[sl], None if self.warp is None else self.warp[sl],
                         None if self.hsv is None else self.hsv[sl])


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator, device: torch.device) -> Tensor:
    return torch.rand(n, generator=gen, device=device) * (hi - lo) + lo


def _truncated_normal(shape: tuple[int, ...], gen: torch.Generator, device: torch.device) -> Tensor:
    """Standard normal truncated to +-2.5 sigma, by inverting the CDF (no rejection loop)."""
    lo = 0.5 * (1.0 + math.erf(-_TRUNC / math.sqrt(2.0)))
    u = torch.rand(shape, generator=gen, device=device) * (1.0 - 2.0 * lo) + lo
    return math.sqrt(2.0) * torch.erfinv(2.0 * u - 1.0)


def draw_warp(n: int, gen: torch.Generator, device: torch.device) -> Tensor:
    """Random-warp displacement knots ``(n, 2, 9, 9)``; each sample picks 2, 4 or 8 cells.

    A coarser grid is upsampled to the 9x9 lattice bilinearly: since its knots lie on
    the lattice, bilinear interpolation of the lattice reproduces it exactly.
    """
    choice = torch.randint(len(WARP_CELLS), (n,), generator=gen, device=device)
    out = torch.zeros(n, 2, _KNOTS, _KNOTS, device=device)
    for i, cells in enumerate(WARP_CELLS):
        knots = _truncated_normal((n, 2, cells + 1, cells + 1), gen, device) / _TRUNC * 0.24 * (2.0 / cells)
        knots[:, :, 0, :] = 0.0  # the border stays put
        knots[:, :, -1, :] = 0.0
        knots[:, :, :, 0] = 0.0
        knots[:, :, :, -1] = 0.0
        up = F.interpolate(knots, size=(_KNOTS, _KNOTS), mode="bilinear", align_corners=True)
        out = torch.where((choice == i).view(n, 1, 1, 1), up, out)
    return out


def draw_params(spec: AugmentSpec, n: int, gen: torch.Generator, device: torch.device) -> AugParams:
    """Draw the augmentation of ``n`` samples from ``gen`` (always the same number of draws
    for the same spec, so generator streams stay aligned across runs and ranks)."""
    rot = _uniform(n, -spec.rotation_deg, spec.rotation_deg, gen, device) * (math.pi / 180.0)
    scale = _uniform(n, spec.scale_min, spec.scale_max, gen, device)
    # +-shift of the width is +-2*shift in normalised [-1, 1] units.
    t = (torch.rand(n, 2, generator=gen, device=device) * 2.0 - 1.0) * (2.0 * spec.shift)
    flip = torch.rand(n, generator=gen, device=device) < spec.flip
    fx = torch.where(flip, -1.0, 1.0)
    cos, sin = torch.cos(rot) / scale, torch.sin(rot) / scale
    # input = R^T (F p - t) / s, with F = diag(fx, 1)
    theta = torch.stack([
        torch.stack([cos * fx, sin, -(cos * t[:, 0] + sin * t[:, 1])], dim=1),
        torch.stack([-sin * fx, cos, -(-sin * t[:, 0] + cos * t[:, 1])], dim=1),
    ], dim=1)
    warp = draw_warp(n, gen, device) if spec.random_warp else None
    hsv = None
    if spec.hsv_power > 0:
        hsv = (torch.rand(n, 3, generator=gen, device=device) - 0.5) * spec.hsv_power
    return AugParams(theta, warp, hsv)


class Batch(NamedTuple):
    """One identity's augmented batch, float in [0, 1]."""

    input: Tensor  # (B, 3, R, R): warped (what the model sees)
    target: Tensor  # (B, 3, R, R): unwarped (what it must produce)
    mask: Tensor  # (B, 1, R, R): face mask of the target
    eyes_mouth: Tensor  # (B, 1, R, R): eyes/mouth priority mask of the target


def to_float(images: Tensor) -> Tensor:
    return images.float().mul_(1.0 / 255.0)


def apply(images: Tensor, masks: Tensor, params: AugParams, *,
          ct_source: tuple[Tensor, Tensor] | None = None, mode: str = "bilinear") -> Batch:
    """Augment a gathered batch.

    Parameters
    ----------
    images : ``(B, 3, R, R)`` uint8 faces; masks : ``(B, 2, R, R)`` uint8 (face, eyes/mouth).
    params : from :func:`draw_params` (sliced to this batch).
    ct_source : ``(images, masks)`` uint8 of the faces whose colours to transfer onto
        these (one per sample), or None.
    """
    img = to_float(images)
    msk = to_float(masks)
    if ct_source is not None:
        img = rct(img, msk[:, :1], to_float(ct_source[0]), to_float(ct_source[1])[:, :1])
    n, _, h, w = img.shape
    grid = F.affine_grid(params.theta, [n, 3, h, w], align_corners=False)
    if params.warp is not None:
        disp = F.grid_sample(params.warp, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        both = F.grid_sample(torch.cat([img, img]), torch.cat([grid + disp.permute(0, 2, 3, 1), grid]),
                             mode=mode, padding_mode="border", align_corners=False)
        inp, target = both[:n], both[n:]
    else:
        target = F.grid_sample(img, grid, mode=mode, padding_mode="border", align_corners=False)
        inp = target
    if mode == "bicubic":
        inp, target = inp.clamp(0.0, 1.0), target.clamp(0.0, 1.0)
    m = F.grid_sample(msk, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if params.hsv is not None:
        inp = hsv_jitter(inp, params.hsv)
    return Batch(inp, target, m[:, :1], m[:, 1:2])
