"""Reconstruction losses of the swap model: masked DSSIM at two scales, MSE, eyes/mouth
priority and the learned-mask loss.

What we keep from SAEHD (``REFERENCE.md`` Part C 1.4): the blurred training mask with its
clip-and-double soft edge, DSSIM + MSE on the masked faces, the eyes/mouth L1 term, the
mask MSE, and DeepFaceLab's default weights. What we fix:

- SAEHD's "two scales" are one: its Gaussian window keeps sigma = 1.5 whatever the
  window size. Here the scales differ for real: a fine sigma (1.5 px, the classic SSIM
  window; wider above 256 px) for texture and a coarse sigma four times larger for
  the shape of features (eyes, mouth, jaw line).
- Gaussian blurs are products with a banded ``(n, n)`` matrix per axis instead of
  depthwise convolutions: one batched GEMM per axis, fast on CPU (MKL) and GPU alike,
  with rows normalised at the borders (a normalised convolution) so the edges of the
  crop are neither dropped (VALID) nor darkened (zero padding).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from engine.swap.config import LossWeights

_C1 = 0.01**2
_C2 = 0.03**2


def gaussian_matrix(n: int, sigma: float, *, device: torch.device | None = None) -> Tensor:
    """The ``(n, n)`` row-normalised Gaussian blur operator with truncation at 3 sigma."""
    idx = torch.arange(n, dtype=torch.float32, device=device)
    d = idx[:, None] - idx[None, :]
    w = torch.exp(-0.5 * (d / sigma) ** 2) * (d.abs() <= math.ceil(3 * sigma))
    return w / w.sum(dim=1, keepdim=True)


def blur(x: Tensor, g: Tensor) -> Tensor:
    """Separable blur of ``(..., H, W)`` by the ``(H, H)`` operator ``g`` on both axes."""
    return g @ x @ g.T


def fine_sigma(resolution: int) -> float:
    return max(1.5, resolution / 170.0)


class LossParts(NamedTuple):
    """One identity's loss (``total``, what is optimised) and its parts, for the log."""

    total: Tensor
    dssim: Tensor
    mse: Tensor
    mask: Tensor


class SwapLoss(nn.Module):
    """The per-identity training loss at one resolution.

    Parameters
    ----------
    resolution : the model's crop side.
    weights : the terms' weights.
    masked : multiply target and prediction by the blurred face mask (SAEHD's
        masked training), so the background costs nothing.
    eyes_mouth : add the eyes/mouth L1 term.
    """

    def __init__(self, resolution: int, weights: LossWeights, *, masked: bool = True,
                 eyes_mouth: bool = False) -> None:
        super().__init__()
        self.weights = weights
        self.masked = masked
        self.eyes_mouth = eyes_mouth
        s = fine_sigma(resolution)
        self.register_buffer("g_fine", gaussian_matrix(resolution, s), persistent=False)
        self.register_buffer("g_coarse", gaussian_matrix(resolution, 4.0 * s), persistent=False)
        self.register_buffer("g_mask", gaussian_matrix(resolution, max(1.0, resolution // 32)), persistent=False)

    def soft_mask(self, mask: Tensor) -> Tensor:
        """SAEHD's training mask: blurred, then clip to 0.5 and double (hard inside, a
        soft falloff outside the face's edge)."""
        return (blur(mask, self.g_mask).clamp(0.0, 0.5) * 2.0).detach()

    def dssim(self, x: Tensor, y: Tensor, g: Tensor) -> Tensor:
        """Mean structural dissimilarity ``(1 - SSIM) / 2`` with the blur ``g``."""
        n = x.shape[0]
        stats = blur(torch.cat([x, y, x * x, y * y, x * y]), g)
        mx, my, sxx, syy, sxy = stats.split(n)
        mx2, my2, mxy = mx * mx, my * my, mx * my
        num = (2 * mxy + _C1) * (2 * (sxy - mxy) + _C2)
        den = (mx2 + my2 + _C1) * ((sxx - mx2) + (syy - my2) + _C2)
        return (1.0 - (num / den).mean()) / 2.0

    def forward(self, pred: Tensor, pred_mask: Tensor, target: Tensor, target_mask: Tensor,
                eyes_mouth: Tensor | None = None) -> LossParts:
        pred = pred.float()
        pred_mask = pred_mask.float()
        w = self.weights
        t, p = target, pred
        if self.masked:
            m = self.soft_mask(target_mask)
            t, p = t * m, p * m
        dssim = 0.5 * (self.dssim(p, t, self.g_fine) + self.dssim(p, t, self.g_coarse))
        mse = (t - p).square().mean()
        mask_loss = (target_mask - pred_mask).square().mean()
        total = w.dssim * dssim + w.mse * mse + w.mask * mask_loss
        if self.eyes_mouth and eyes_mouth is not None and w.eyes_mouth:
            total = total + w.eyes_mouth * ((t - p) * eyes_mouth).abs().mean()
        return LossParts(total, dssim.detach(), mse.detach(), mask_loss.detach())


# ---------------------------------------------------------------------------- style terms
def style_loss(x: Tensor, y: Tensor) -> Tensor:
    """SAEHD's style distance: squared differences of the per-channel spatial means and
    standard deviations (``sqrt(var + 1e-5)``), summed over channels and divided by their
    count, averaged over the batch."""
    mx, my = x.mean(dim=(2, 3)), y.mean(dim=(2, 3))
    sx = (x.var(dim=(2, 3), unbiased=False) + 1e-5).sqrt()
    sy = (y.var(dim=(2, 3), unbiased=False) + 1e-5).sqrt()
    c = x.shape[1]
    return (((mx - my).square() + (sx - sy).square()).sum(dim=1) / c).mean()


class StyleTerms(nn.Module):
    """Face and background style power (SAEHD, ``REFERENCE.md`` Part C 1.4), on the swap
    prediction ``src decoder(dst code)``.

    - face style: ``10000 * (power/100)`` times the style distance of the blurred (radius res/8) masked swap and the blurred
      masked dst target: the swap takes dst's colours inside the face;
    - background style: ``10 * p * DSSIM + 10 * p * MSE`` (``p = power/100``) of the swap
      and the dst target outside the face. DeepFaceLab uses the *src* target mask here (a
      variable overwritten by mistake); the dst target's mask is the one that describes
      the dst face, so it is used.
    """

    def __init__(self, resolution: int, face_power: float, bg_power: float) -> None:
        super().__init__()
        self.face_power, self.bg_power = face_power / 100.0, bg_power / 100.0
        self.register_buffer("g_style", gaussian_matrix(resolution, max(1.0, resolution / 8 / 3)),
                             persistent=False)
        self.register_buffer("g_fine", gaussian_matrix(resolution, fine_sigma(resolution)), persistent=False)

    def forward(self, swapped: Tensor, target_dst: Tensor, soft_mask_dst: Tensor) -> Tensor:
        swapped = swapped.float()
        total = swapped.new_zeros(())
        m = soft_mask_dst.detach()
        if self.face_power > 0:
            a = blur(swapped * m, self.g_style)
            b = blur(target_dst * m, self.g_style).detach()
            total = total + 10_000.0 * self.face_power * style_loss(a, b)
        if self.bg_power > 0:
            inv = 1.0 - m
            p, t = swapped * inv, target_dst * inv
            stats = blur(torch.cat([p, t, p * p, t * t, p * t]), self.g_fine)
            n = p.shape[0]
            mx, my, sxx, syy, sxy = stats.split(n)
            num = (2 * mx * my + _C1) * (2 * (sxy - mx * my) + _C2)
            den = (mx * mx + my * my + _C1) * ((sxx - mx * mx) + (syy - my * my) + _C2)
            dssim = (1.0 - (num / den).mean()) / 2.0
            total = total + 10.0 * self.bg_power * dssim + 10.0 * self.bg_power * (p - t).square().mean()
        return total
