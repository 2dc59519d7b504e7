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


# ---------------------------------------------------------------------------- lct, mkl, idt, sot
# DeepFaceLab's other training colour transfers (``REFERENCE.md`` Part D 4.3), batched on
# the device. Statistics are taken over the whole crop, as DeepFaceLab does for these
# modes; both sides are the model's resolution, so the pixel counts match (the sorting
# modes need that).
def _flat(x: Tensor) -> Tensor:
    return x.flatten(2)  # (B, 3, N)


def _cov(x: Tensor) -> tuple[Tensor, Tensor]:
    """Per-sample mean ``(B, 3, 1)`` and covariance ``(B, 3, 3)`` (+1e-5 I) of ``(B, 3, N)``."""
    mu = x.mean(dim=2, keepdim=True)
    d = x - mu
    cov = d @ d.transpose(1, 2) / x.shape[2]
    return mu, cov + 1e-5 * torch.eye(3, device=x.device, dtype=x.dtype)


def _sym_pow(c: Tensor, power: float) -> Tensor:
    """``c ** power`` of symmetric positive-definite ``(B, 3, 3)`` matrices."""
    w, u = torch.linalg.eigh(c)
    return u @ torch.diag_embed(w.clamp_min(1e-10) ** power) @ u.transpose(1, 2)


def lct(target: Tensor, source: Tensor) -> Tensor:
    """Linear (PCA) colour transfer: ``Qs Qt^-1 (t - mu_t) + mu_s`` with ``Q = C^(1/2)``."""
    t, s = _flat(target.float()), _flat(source.float())
    mt, ct = _cov(t)
    ms, cs = _cov(s)
    out = _sym_pow(cs, 0.5) @ _sym_pow(ct, -0.5) @ (t - mt) + ms
    return out.view_as(target).clamp(0.0, 1.0)


def mkl(target: Tensor, source: Tensor) -> Tensor:
    """Monge-Kantorovich linear colour transfer (Pitie and Kokaram 2007)."""
    t, s = _flat(target.float()), _flat(source.float())
    mt, a = _cov(t)
    ms, b = _cov(s)
    wa, ua = torch.linalg.eigh(a)
    da = torch.diag_embed(wa.clamp_min(1e-10).sqrt())
    da_inv = torch.diag_embed(wa.clamp_min(1e-10).rsqrt())
    c = da @ ua.transpose(1, 2) @ b @ ua @ da
    wc, uc = torch.linalg.eigh(c)
    dc = torch.diag_embed(wc.clamp_min(1e-10).sqrt())
    tm = ua @ da_inv @ uc @ dc @ uc.transpose(1, 2) @ da_inv @ ua.transpose(1, 2)
    out = tm @ (t - mt) + ms  # T is symmetric, so x T and T x agree
    return out.view_as(target).clamp(0.0, 1.0)


def random_rotations(steps: int, k: int, gen: torch.Generator, device: torch.device) -> Tensor:
    """``(steps, k, 3)`` unit directions: orthonormal triples when ``k == 3`` (idt), else
    independent random directions (sot)."""
    g = torch.randn(steps, 3, 3 if k == 3 else k, generator=gen, device=device)
    if k == 3:
        q, r = torch.linalg.qr(g)
        return (q * torch.sign(torch.diagonal(r, dim1=1, dim2=2)).unsqueeze(1)).transpose(1, 2)
    return torch.nn.functional.normalize(g.transpose(1, 2), dim=2)


def _match_along(x: Tensor, s: Tensor, dirs: Tensor) -> Tensor:
    """Displacement of ``x`` ``(B, 3, N)`` that gives its projections on ``dirs`` ``(k, 3)``
    the sorted values of ``s``'s projections (exact 1-D optimal transport per direction),
    averaged over the directions and mapped back to colour space."""
    px = dirs @ x  # (B, k, N)
    ps = dirs @ s
    sx, ix = px.sort(dim=2)
    ss, _ = ps.sort(dim=2)
    disp = torch.empty_like(px).scatter_(2, ix, ss - sx)
    return dirs.T @ disp


def idt(target: Tensor, source: Tensor, rotations: Tensor) -> Tensor:
    """Iterative distribution transfer (Pitie 2005): match the 1-D distributions along the
    axes of each random rotation ``(steps, 3, 3)`` in turn."""
    x, s = _flat(target.float()).clone(), _flat(source.float())
    for rot in rotations:
        x = x + _match_along(x, s, rot)
    return x.view_as(target).clamp(0.0, 1.0)


def sot(target: Tensor, source: Tensor, directions: Tensor) -> Tensor:
    """Sliced optimal transport: each step moves the pixels by the average 1-D transport
    along a handful of random directions ``(steps, k, 3)`` (DeepFaceLab's bilateral
    regularisation of the update is left out: it needs a per-image CPU filter)."""
    x, s = _flat(target.float()).clone(), _flat(source.float())
    k = directions.shape[1]
    for dirs in directions:
        x = x + _match_along(x, s, dirs) / k
    return x.view_as(target).clamp(0.0, 1.0)


def transfer(mode: str, target: Tensor, target_mask: Tensor, source: Tensor, source_mask: Tensor,
             directions: Tensor | None = None) -> Tensor:
    """Colour transfer of ``target`` towards ``source`` by DeepFaceLab's ``ct_mode`` name."""
    if mode == "rct":
        return rct(target, target_mask, source, source_mask)
    if mode == "lct":
        return lct(target, source)
    if mode == "mkl":
        return mkl(target, source)
    if mode in ("idt", "sot"):
        if directions is None:
            raise ValueError(f"ct_mode {mode} needs random directions")
        return idt(target, source, directions) if mode == "idt" else sot(target, source, directions)
    raise ValueError(f"unknown colour transfer {mode!r}")


#: Random directions per mode: (steps, directions per step).
DIRECTIONS = {"idt": (10, 3), "sot": (10, 5)}
