"""XSeg training data: keyframes as tensors, and augmentation on the training device.

The face set is small (tens to a few thousand keyframes) and is held whole as uint8
tensors on the device; every batch is augmented there with ``grid_sample`` and tensor
arithmetic. There is no per-sample CPU pipeline: DeepFaceLab's CPU augmentation is what
leaves GPUs idle (REFERENCE.md Part F 5), and on a CPU-only machine the same ops are
vectorised over the batch.

Augmentation (the strength XSeg needs to generalise from a few labelled frames, after
REFERENCE.md B 2.4, done our way):

- **background swap**: in half the samples, everything outside the (feathered) mask is
  replaced by another sample's crop, turned by up to 180 degrees and flipped, so the model
  learns the face, not the set or the studio wall behind it;
- **geometry**: flip, rotation, scale and shift, plus a smooth elastic warp (a coarse
  random displacement grid upsampled bicubically), in one sampling grid for image and
  mask alike;
- **colour**: brightness, contrast, saturation, per-channel gain and gamma;
- **degradation**: gaussian blur, sharpening, downscale-upscale and noise, each in a
  quarter of the samples, as real footage is softer and noisier than keyframes look.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.masks.crops import CropReader
from engine.masks.raster import Mask, rasterize
from engine.masks.repo import crop_matrix
from engine.masks.shapes import LabelMask
from engine.project.models import Face
from engine.project.store import ProjectStore


@dataclass(frozen=True, eq=False)
class Samples:
    """Training samples held as tensors: ``images`` uint8 ``(N, 3, S, S)``, ``masks`` uint8
    ``(N, 1, S, S)`` (0..255), ``weights`` float32 ``(N,)`` loss weights (1 for keyframes,
    the confidence for propagated masks)."""

    face_ids: tuple[int, ...]
    images: torch.Tensor
    masks: torch.Tensor
    weights: torch.Tensor

    def __len__(self) -> int:
        return len(self.face_ids)

    def head(self, n: int) -> Samples:
        return Samples(self.face_ids[:n], self.images[:n], self.masks[:n], self.weights[:n])

    def to(self, device: torch.device | str) -> Samples:
        return Samples(self.face_ids, self.images.to(device), self.masks.to(device), self.weights.to(device))

    @staticmethod
    def concat(parts: Sequence[Samples]) -> Samples:
        parts = [p for p in parts if len(p)]
        if not parts:
            raise ValueError("no samples")
        return Samples(tuple(i for p in parts for i in p.face_ids), torch.cat([p.images for p in parts]),
                       torch.cat([p.masks for p in parts]), torch.cat([p.weights for p in parts]))


def build_samples(
    store: ProjectStore,
    faces: Sequence[Face],
    masks: dict[int, LabelMask | Mask],
    *,
    face_type: str,
    size: int,
    weights: dict[int, float] | None = None,
) -> Samples:
    """Crops of ``faces`` with their masks: a :class:`LabelMask` (rasterised into the crop)
    or a ready ``(size, size)`` uint8 mask in that crop."""
    ids, imgs, ms, ws = [], [], [], []
    with CropReader(store, face_type, size) as reader:
        for face, crop in reader.read(faces):
            m = masks[face.id]
            if isinstance(m, LabelMask):
                m = rasterize(m, crop_matrix(face, face_type, size), size)
            ids.append(face.id)
            imgs.append(torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))))
            ms.append(torch.from_numpy(np.ascontiguousarray(m))[None])
            ws.append(1.0 if weights is None else float(weights.get(face.id, 1.0)))
    if not ids:
        empty = torch.zeros((0, 3, size, size), dtype=torch.uint8)
        return Samples((), empty, torch.zeros((0, 1, size, size), dtype=torch.uint8), torch.zeros(0))
    return Samples(tuple(ids), torch.stack(imgs), torch.stack(ms), torch.tensor(ws, dtype=torch.float32))


# ---------------------------------------------------------------------- augmentation
@dataclass(frozen=True)
class AugmentSettings:
    """Strength of each augmentation (0 or False turns one off)."""

    flip: bool = True
    rotate_deg: float = 12.0
    scale: float = 0.06
    shift: float = 0.06
    elastic: float = 0.025
    background: float = 0.5
    color: float = 1.0
    degrade: float = 0.25


def _uniform(g: torch.Generator, n: int, lo: float, hi: float, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) * (hi - lo) + lo


def _chance(g: torch.Generator, n: int, p: float, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) < p


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(2.5 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def _affine(g: torch.Generator, n: int, s: AugmentSettings, device: torch.device, *,
            rotate_deg: float | None = None) -> torch.Tensor:
    """Per-sample 2x3 matrices for ``affine_grid`` (output -> input, normalised coords)."""
    rot = math.radians(s.rotate_deg if rotate_deg is None else rotate_deg)
    angle = _uniform(g, n, -rot, rot, device)
    scale = 1.0 + _uniform(g, n, -s.scale, s.scale, device)
    flip = torch.where(_chance(g, n, 0.5, device), -1.0, 1.0) if s.flip else torch.ones(n, device=device)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = cos * flip
    theta[:, 0, 1] = -sin
    theta[:, 1, 0] = sin * flip
    theta[:, 1, 1] = cos
    theta[:, :, 2] = _uniform(g, 2 * n, -2 * s.shift, 2 * s.shift, device).view(n, 2)
    return theta


def _warp(
    g: torch.Generator, images: torch.Tensor, masks: torch.Tensor, s: AugmentSettings
) -> tuple[torch.Tensor, torch.Tensor]:
    n, _, h, w = images.shape
    device = images.device
    grid = F.affine_grid(_affine(g, n, s, device), [n, 1, h, w], align_corners=False)
    if s.elastic > 0:
        coarse = torch.randn(n, 2, 5, 5, generator=g, device=device) * s.elastic
        coarse[:, :, [0, -1], :] *= 0.5
        coarse[:, :, :, [0, -1]] *= 0.5
        disp = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)
        grid = grid + disp.permute(0, 2, 3, 1)
    both = torch.cat([images, masks], dim=1)
    out = F.grid_sample(both, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[:, :3], out[:, 3:]


def _swap_background(g: torch.Generator, images: torch.Tensor, masks: torch.Tensor, s: AugmentSettings) -> torch.Tensor:
    n = images.shape[0]
    if n < 2:
        return images
    idx = torch.nonzero(_chance(g, n, s.background, images.device)).flatten()
    if idx.numel() == 0:
        return images
    # Each chosen sample takes the next sample's crop (never its own) as background.
    partner = (idx + 1 + torch.randint(n - 1, idx.shape, generator=g, device=images.device)) % n
    k = idx.numel()
    theta = _affine(g, k, AugmentSettings(flip=True, rotate_deg=180.0, scale=0.15, shift=0.15), images.device)
    grid = F.affine_grid(theta, [k, *images.shape[1:]], align_corners=False)
    other = F.grid_sample(images[partner], grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    other = _jitter_color(g, other, 0.6)
    keep = _gaussian_blur(masks[idx], max(images.shape[-1] / 128.0, 0.75))
    out = images.clone()
    out[idx] = images[idx] * keep + other * (1.0 - keep)
    return out


def _jitter_color(g: torch.Generator, x: torch.Tensor, strength: float) -> torch.Tensor:
    n, device = x.shape[0], x.device
    if strength <= 0:
        return x
    grey = x.mean(dim=1, keepdim=True)
    sat = _uniform(g, n, 1 - 0.4 * strength, 1 + 0.4 * strength, device).view(n, 1, 1, 1)
    x = grey + (x - grey) * sat
    gain = _uniform(g, 3 * n, 1 - 0.1 * strength, 1 + 0.1 * strength, device).view(n, 3, 1, 1)
    contrast = _uniform(g, n, 1 - 0.3 * strength, 1 + 0.3 * strength, device).view(n, 1, 1, 1)
    bright = _uniform(g, n, -0.12 * strength, 0.12 * strength, device).view(n, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean) * gain + bright
    gamma = torch.exp(_uniform(g, n, -0.35 * strength, 0.35 * strength, device)).view(n, 1, 1, 1)
    return x.clamp(0.0, 1.0).pow(gamma)


def _on_some(g: torch.Generator, x: torch.Tensor, p: float, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``fn`` applied to a random ``p`` share of the batch (computed on those samples only)."""
    idx = torch.nonzero(_chance(g, x.shape[0], p, x.device)).flatten()
    if idx.numel() == 0:
        return x
    out = x.clone()
    out[idx] = fn(x[idx])
    return out


def _degrade(g: torch.Generator, x: torch.Tensor, p: float) -> torch.Tensor:
    n, _, h, w = x.shape
    device = x.device
    if p <= 0:
        return x
    sigma = float(_uniform(g, 1, 0.6, 1.6, device)) * h / 128.0
    x = _on_some(g, x, p, lambda t: _gaussian_blur(t, sigma))
    amount = float(_uniform(g, 1, 0.3, 1.0, device))
    x = _on_some(g, x, p, lambda t: t + amount * (t - _gaussian_blur(t, 1.0)))
    factor = float(_uniform(g, 1, 0.35, 0.75, device))

    def resample(t: torch.Tensor) -> torch.Tensor:
        small = F.interpolate(t, scale_factor=factor, mode="bilinear", align_corners=False, antialias=True)
        return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)

    x = _on_some(g, x, p, resample)
    level = float(_uniform(g, 1, 0.005, 0.04, device))
    x = _on_some(g, x, p, lambda t: t + torch.randn(t.shape, generator=g, device=device) * level)
    return x.clamp(0.0, 1.0)


def augment(
    g: torch.Generator, images: torch.Tensor, masks: torch.Tensor, settings: AugmentSettings | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """An augmented batch: uint8 ``(B, 3, S, S)`` images and ``(B, 1, S, S)`` masks in,
    float images in [0, 1] and float masks in [0, 1] out (on the same device)."""
    s = settings or AugmentSettings()
    x = images.float().div_(255.0)
    m = masks.float().div_(255.0)
    if s.background > 0:
        x = _swap_background(g, x, m, s)
    x, m = _warp(g, x, m, s)
    x = _jitter_color(g, x, s.color)
    x = _degrade(g, x, s.degrade)
    return x, m.clamp_(0.0, 1.0)
