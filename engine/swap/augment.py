"""Training augmentation on the device, a whole batch at a time, with ``grid_sample``.

DeepFaceLab prepares every sample on the CPU with OpenCV (``cv2.remap`` for the random
warp, ``warpAffine`` for the transform, in ``cpu_count//2`` processes per side): about
4 ms per 256 px sample per core, which starves a fast GPU (``REFERENCE.md`` Part F 5).
Here the face set already sits on the device as uint8, and a batch is built by

1. gathering the sampled faces (uint8) and converting them to float;
2. (optional) Reinhard colour transfer of src faces toward random dst faces;
3. building one sampling grid per sample that composes flip, affine and random warp,
   and sampling input and target in a single ``grid_sample`` call (masks in another);
4. (optional) HSV jitter of the src input;
5. (optional) degradations of the input, each on a quarter of the samples: Gaussian
   blur, JPEG compression (8x8 DCT quantisation with the standard tables, chroma
   subsampled) and downsampling (DeepFaceLab's random_blur / random_jpeg /
   random_downsample), so the model learns to restore sharp faces from poor footage.

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

from engine.swap.color import hsv_jitter, transfer

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
    random_blur: bool = False
    random_jpeg: bool = False
    random_downsample: bool = False


#: Share of the samples each degradation applies to (DeepFaceLab's 25 %).
DEGRADE_CHANCE = 0.25
#: Downsampling factors of random_downsample (one per sample, uniformly).
DOWN_FACTORS = (2, 3, 4)


class AugParams(NamedTuple):
    """The random draws of one batch (all tensors have the batch as first axis)."""

    theta: Tensor  # (B, 2, 3) output -> input affine, normalised coordinates
    warp: Tensor | None  # (B, 2, 9, 9) displacement knots, normalised units
    hsv: Tensor | None  # (B, 3) hue (turns), saturation and value shifts
    #: (B, 6): blur on, blur sigma (fraction of the side), JPEG on, JPEG quality,
    #: downsample on, downsample factor index; None when no degradation is enabled.
    degrade: Tensor | None = None

    def slice(self, sl: slice) -> AugParams:
        return AugParams(self.theta[sl], None if self.warp is None else self.warp[sl],
                         None if self.hsv is None else self.hsv[sl],
                         None if self.degrade is None else self.degrade[sl])


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
    degrade = None
    if spec.random_blur or spec.random_jpeg or spec.random_downsample:
        u = torch.rand(n, 6, generator=gen, device=device)
        on = u[:, 0::2] < DEGRADE_CHANCE
        on = on & torch.tensor([spec.random_blur, spec.random_jpeg, spec.random_downsample], device=device)
        degrade = torch.stack([on[:, 0].float(), 0.004 + 0.016 * u[:, 1], on[:, 1].float(), 15.0 + 75.0 * u[:, 3],
                               on[:, 2].float(), (u[:, 5] * len(DOWN_FACTORS)).floor().clamp_max(2)], dim=1)
    return AugParams(theta, warp, hsv, degrade)


class Batch(NamedTuple):
    """One identity's augmented batch, float in [0, 1]."""

    input: Tensor  # (B, 3, R, R): warped (what the model sees)
    target: Tensor  # (B, 3, R, R): unwarped (what it must produce)
    mask: Tensor  # (B, 1, R, R): face mask of the target
    eyes_mouth: Tensor  # (B, 1, R, R): eyes/mouth priority mask of the target


def to_float(images: Tensor) -> Tensor:
    return images.float().mul_(1.0 / 255.0)


def apply(images: Tensor, masks: Tensor, params: AugParams, *,
          ct_source: tuple[Tensor, Tensor] | None = None, mode: str = "bilinear", ct_mode: str = "rct",
          ct_directions: Tensor | None = None) -> Batch:
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
        img = transfer(ct_mode, img, msk[:, :1], to_float(ct_source[0]), to_float(ct_source[1])[:, :1],
                       ct_directions)
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
    if params.degrade is not None:
        inp = degrade(inp, params.degrade)
    return Batch(inp, target, m[:, :1], m[:, 1:2])


# ---------------------------------------------------------------------------- degradations
def _gaussian_rows(size: int, sigma: Tensor) -> Tensor:
    """``(B, size, size)`` row-normalised Gaussian blur operators, one sigma (pixels) per sample."""
    idx = torch.arange(size, dtype=torch.float32, device=sigma.device)
    d = (idx[:, None] - idx[None, :]).unsqueeze(0)
    w = torch.exp(-0.5 * (d / sigma.view(-1, 1, 1)) ** 2)
    return w / w.sum(dim=2, keepdim=True)


def random_blur(x: Tensor, on: Tensor, sigma_frac: Tensor) -> Tensor:
    """Separable Gaussian blur of the samples where ``on`` (sigma a fraction of the side)."""
    size = x.shape[-1]
    g = _gaussian_rows(size, (sigma_frac * size).clamp_min(0.5)).unsqueeze(1)
    blurred = g @ x @ g.transpose(-1, -2)
    return torch.where(on.view(-1, 1, 1, 1), blurred, x)


def random_downsample(x: Tensor, on: Tensor, factor_index: Tensor) -> Tensor:
    """Shrink by 2, 3 or 4 (area average) and scale back up (bilinear) where ``on``."""
    size = x.shape[-1]
    out = x
    for i, f in enumerate(DOWN_FACTORS):
        small = F.interpolate(x, size=(max(1, size // f),) * 2, mode="area")
        back = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
        out = torch.where((on & (factor_index == i)).view(-1, 1, 1, 1), back, out)
    return out


_LUMA_Q = torch.tensor([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], dtype=torch.float32)
_CHROMA_Q = torch.full((8, 8), 99.0)
_CHROMA_Q[:4, :4] = torch.tensor([[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]])


def _dct_matrix(device: torch.device) -> Tensor:
    k = torch.arange(8, dtype=torch.float32, device=device)
    m = torch.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    m[0] /= math.sqrt(2)
    return m


def jpeg(x: Tensor, quality: Tensor) -> Tensor:
    """JPEG compression of ``(B, 3, H, W)`` in [0, 1] (sides multiples of 16) at
    ``quality`` (1-100, per sample): YCbCr, 4:2:0 chroma, 8x8 DCT quantised with the
    standard tables scaled as libjpeg scales them. Only the entropy coding, which is
    lossless, is left out."""
    b, _, h, w = x.shape
    r, g, bl = (x * 255.0).unbind(1)
    y = 0.299 * r + 0.587 * g + 0.114 * bl
    cb = -0.168736 * r - 0.331264 * g + 0.5 * bl
    cr = 0.5 * r - 0.418688 * g - 0.081312 * bl
    q = quality.clamp(1, 100)
    scale = torch.where(q < 50, 5000.0 / q, 200.0 - 2.0 * q).view(b, 1, 1, 1, 1) / 100.0
    dct = _dct_matrix(x.device)

    def code(plane: Tensor, table: Tensor) -> Tensor:
        ph, pw = plane.shape[-2:]
        blocks = (plane - 128.0).reshape(b, ph // 8, 8, pw // 8, 8).permute(0, 1, 3, 2, 4)
        coef = dct @ blocks @ dct.T
        qt = (table.to(x.device) * scale).floor().clamp(1.0, 255.0)
        coef = torch.round(coef / qt) * qt
        return (dct.T @ coef @ dct).permute(0, 1, 3, 2, 4).reshape(b, ph, pw) + 128.0

    y = code(y, _LUMA_Q)
    chroma = F.avg_pool2d(torch.stack([cb, cr], dim=1), 2)
    cb_s = code(chroma[:, 0] + 128.0, _CHROMA_Q) - 128.0
    cr_s = code(chroma[:, 1] + 128.0, _CHROMA_Q) - 128.0
    up = F.interpolate(torch.stack([cb_s, cr_s], dim=1), size=(h, w), mode="bilinear", align_corners=False)
    cb, cr = up[:, 0], up[:, 1]
    rgb = torch.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], dim=1)
    return (rgb / 255.0).clamp(0.0, 1.0)


def degrade(x: Tensor, p: Tensor) -> Tensor:
    """The degradations of :func:`draw_params` (``p`` ``(B, 6)``), on the model's input only."""
    on_blur, on_jpeg, on_down = p[:, 0] > 0.5, p[:, 2] > 0.5, p[:, 4] > 0.5
    x = x.float()
    if bool(on_blur.any()):
        x = random_blur(x, on_blur, p[:, 1])
    if bool(on_down.any()):
        x = random_downsample(x, on_down, p[:, 5].long())
    if bool(on_jpeg.any()):
        x = torch.where(on_jpeg.view(-1, 1, 1, 1), jpeg(x, p[:, 3]), x)
    return x
