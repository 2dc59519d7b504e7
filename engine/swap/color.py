"""Colour operations on batches of images on the training device (HSV jitter, Lab, RCT).

Images are float ``(B, 3, H, W)`` RGB in [0, 1]. Everything is batched torch code so
colour augmentation runs where the face set lives, never in a per-sample CPU loop.

Reinhard colour transfer (``rct``) here uses *masked* statistics: only pixels inside
the face mask count toward the means and deviations. DeepFaceLab zeroes the outside
pixels but still counts them (``REFERENCE.md`` Part D 4.3), which drags the statistics
toward black whenever the face covers less than the whole crop.
"""

from __future__ import annotations

import torch
from torch import Tensor

# sRGB (D65) <-> CIE XYZ
_RGB2XYZ = torch.tensor([[0.412453, 0.357580, 0.180423],
                         [0.212671, 0.715160, 0.072169],
                         [0.019334, 0.119193, 0.950227]])
_WHITE = torch.tensor([0.950456, 1.0, 1.088754])
_EPS = 1e-6


def rgb_to_hsv(rgb: Tensor) -> Tensor:
    """``(B, 3, H, W)`` RGB -> HSV, hue in turns [0, 1)."""
    r, g, b = rgb.unbind(1)
    maxc, argmax = rgb.max(dim=1)
    minc = rgb.min(dim=1).values
    delta = maxc - minc
    safe = torch.where(delta > _EPS, delta, torch.ones_like(delta))
    h = torch.where(argmax == 0, ((g - b) / safe) % 6.0,
                    torch.where(argmax == 1, (b - r) / safe + 2.0, (r - g) / safe + 4.0)) / 6.0
    h = torch.where(delta > _EPS, h, torch.zeros_like(h))
    s = torch.where(maxc > _EPS, delta / maxc.clamp_min(_EPS), torch.zeros_like(maxc))
    return torch.stack([h % 1.0, s, maxc], dim=1)


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    h, s, v = hsv.unbind(1)
    k = (torch.tensor([5.0, 3.0, 1.0], device=hsv.device, dtype=hsv.dtype).view(1, 3, 1, 1)
         + h.unsqueeze(1) * 6.0) % 6.0
    f = (torch.minimum(k, 4.0 - k)).clamp(0.0, 1.0)
    return v.unsqueeze(1) - (v * s).unsqueeze(1) * f


def hsv_jitter(rgb: Tensor, shifts: Tensor) -> Tensor:
    """Shift hue (turns), saturation and value per sample by ``shifts`` ``(B, 3)``."""
    hsv = rgb_to_hsv(rgb)
    h = (hsv[:, 0] + shifts[:, 0, None, None]) % 1.0
    s = (hsv[:, 1] + shifts[:, 1, None, None]).clamp(0.0, 1.0)
    v = (hsv[:, 2] + shifts[:, 2, None, None]).clamp(0.0, 1.0)
    return hsv_to_rgb(torch.stack([h, s, v], dim=1))


def _srgb_to_linear(x: Tensor) -> Tensor:
    return torch.where(x <= 0.04045, x / 12.92, ((x.clamp_min(0.0) + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x: Tensor) -> Tensor:
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(1e-8) ** (1 / 2.4) - 0.055)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB [0, 1] -> CIE Lab (L 0..100, a/b about -128..127)."""
    m = _RGB2XYZ.to(rgb)
    xyz = torch.einsum("ij,bjhw->bihw", m, _srgb_to_linear(rgb)) / _WHITE.to(rgb).view(1, 3, 1, 1)
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-8) ** (1 / 3), 7.787 * xyz + 16 / 116)
    fx, fy, fz = f.unbind(1)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=1)


def lab_to_rgb(lab: Tensor) -> Tensor:
    L, a, b = lab.unbind(1)
    fy = (L + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], dim=1)
    xyz = torch.where(f > 0.206893, f**3, (f - 16 / 116) / 7.787) * _WHITE.to(lab).view(1, 3, 1, 1)
    rgb = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(_RGB2XYZ).to(lab), xyz)
    return _linear_to_srgb(rgb).clamp(0.0, 1.0)


def masked_stats(x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Per-sample, per-channel mean and std of ``x`` over pixels where ``mask`` > 0.5;
    the whole image when a mask is (nearly) empty."""
    w = (mask > 0.5).to(x.dtype)
    count = w.sum(dim=(2, 3), keepdim=True)
    w = torch.where(count >= 16, w, torch.ones_like(w))
    count = w.sum(dim=(2, 3), keepdim=True)
    mean = (x * w).sum(dim=(2, 3), keepdim=True) / count
    var = ((x - mean).square() * w).sum(dim=(2, 3), keepdim=True) / count
    return mean, var.clamp_min(1e-6).sqrt()


def rct(target: Tensor, target_mask: Tensor, source: Tensor, source_mask: Tensor) -> Tensor:
    """Reinhard transfer in Lab: give ``target`` the face colour statistics of ``source``."""
    lab_t = rgb_to_lab(target)
    lab_s = rgb_to_lab(source)
    mt, st = masked_stats(lab_t, target_mask)
    ms, ss = masked_stats(lab_s, source_mask)
    out = (lab_t - mt) * (ss / st) + ms
    lo = torch.tensor([0.0, -127.0, -127.0], device=out.device, dtype=out.dtype).view(1, 3, 1, 1)
    hi = torch.tensor([100.0, 127.0, 127.0], device=out.device, dtype=out.dtype).view(1, 3, 1, 1)
    return lab_to_rgb(torch.maximum(torch.minimum(out, hi), lo))
