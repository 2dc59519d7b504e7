"""Colour transfer of the swapped face toward the dst face: rct, lct, mkl, idt, sot.

All functions take float32 RGB crops in [0, 1] of the same size and a mask of the same
height and width, and return the recoloured ``face``. **Statistics come only from
pixels inside the mask** (the mask's values weight them), and the resulting mapping is
applied to every pixel of the face, so the feathered edge is recoloured consistently.

DeepFaceLab's versions (``REFERENCE.md`` Part D 4.3) zero the pixels outside the mask
and still count them: a face covering 60 % of its crop gets means pulled 40 % of the way
to black, and the ``-m`` variants do the same on purpose. Here a pixel outside the mask
simply does not take part. The random methods (idt, sot) draw their rotations from a
fixed seed, so a render is the same every time and the preview matches it.

Maths (face ``x`` recoloured toward dst ``y``; ``mu``/``sigma``/``C`` weighted inside the mask):

- **rct** (Reinhard 2001) in CIE L*a*b*: ``x' = (x - mu_x) * sigma_y / sigma_x + mu_y`` per channel.
- **lct** (linear, PCA square roots): ``x' = C_y^1/2 C_x^-1/2 (x - mu_x) + mu_y`` in RGB.
- **mkl** (Pitie-Kokaram Monge-Kantorovich linear map): the symmetric ``T`` with
  ``T C_x T = C_y`` of least displacement, ``x' = T (x - mu_x) + mu_y``.
- **idt** (Pitie 2005): 20 random rotations, each matching the three 1-D marginals by
  quantile mapping.
- **sot** (sliced optimal transport): 10 steps, each moving pixels by the average of 30
  random directions' 1-D quantile displacements, times 3 (random unit directions in 3-D
  cover each axis a third of the time, so the plain average would take 3x the steps).
"""

from __future__ import annotations

from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from engine.merge.settings import ColorMode

Image = npt.NDArray[np.float32]
Weights = npt.NDArray[np.float32]

#: Fewer mask pixels than this and a transfer would be noise: the face is left as is.
MIN_PIXELS: Final = 16
#: Samples the distribution methods use (a regular subsample of the mask's pixels).
MAX_SAMPLES: Final = 2048
_QUANTILES: Final = np.linspace(0.0, 1.0, 129)
_EPS: Final = 1e-6
_SEED: Final = 1234
#: Colour lattice points per axis of the idt/sot lookup table.
_LUT: Final = 17


def _weights(mask: npt.ArrayLike, shape: tuple[int, ...]) -> Weights:
    raw = np.asarray(mask)
    w = raw.astype(np.float32) / 255.0 if raw.dtype == np.uint8 else raw.astype(np.float32)
    if w.shape != shape[:2]:
        raise ValueError(f"mask shape {w.shape} does not match the images {shape[:2]}")
    return np.clip(w, 0.0, 1.0).astype(np.float32)


def masked_stats(pixels: Image, weights: Weights) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Weighted mean ``(C,)`` and covariance ``(C, C)`` of ``(H, W, C)`` pixels."""
    x = pixels.reshape(-1, pixels.shape[-1]).astype(np.float64)
    w = weights.reshape(-1).astype(np.float64)
    total = w.sum()
    mu = (x * w[:, None]).sum(axis=0) / total
    d = x - mu
    cov = (d * w[:, None]).T @ d / total
    return mu, cov


def rgb_to_lab(rgb: Image) -> Image:
    """float RGB [0, 1] -> CIE L*a*b* (L 0..100, a/b about -128..127), D65, sRGB gamma."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2LAB)


def lab_to_rgb(lab: Image) -> Image:
    return cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32), cv2.COLOR_LAB2RGB)


def rct(face: Image, target: Image, mask: npt.ArrayLike) -> Image:
    """Reinhard transfer in L*a*b* with statistics inside the mask only."""
    w = _weights(mask, face.shape)
    if (w > 0.5).sum() < MIN_PIXELS:
        return face
    fl, tl = rgb_to_lab(face), rgb_to_lab(target)
    mf, cf = masked_stats(fl, w)
    mt, ct = masked_stats(tl, w)
    sf, st = np.sqrt(np.diag(cf)), np.sqrt(np.diag(ct))
    gain = (st / np.maximum(sf, _EPS)).astype(np.float32)
    out = (fl - mf.astype(np.float32)) * gain + mt.astype(np.float32)
    out[..., 0] = np.clip(out[..., 0], 0.0, 100.0)
    out[..., 1:] = np.clip(out[..., 1:], -127.0, 127.0)
    return np.clip(lab_to_rgb(out), 0.0, 1.0)


def _sym_sqrt(cov: npt.NDArray[np.float64], inverse: bool = False) -> npt.NDArray[np.float64]:
    """Symmetric square root (or its inverse); eigenvalues are floored at a millionth of
    the mean one, so a flat channel (a grey face) does not blow up the inverse."""
    sym = 0.5 * (cov + cov.T)
    vals, vecs = np.linalg.eigh(sym)
    floor = 1e-6 * max(float(np.trace(sym)) / len(sym), 1e-12)
    vals = np.maximum(vals, floor)
    d = vals ** (-0.5 if inverse else 0.5)
    return (vecs * d) @ vecs.T


def _affine(face: Image, matrix: npt.NDArray[np.float64], mu_from: npt.NDArray[np.float64],
            mu_to: npt.NDArray[np.float64]) -> Image:
    x = face.reshape(-1, 3) - mu_from.astype(np.float32)
    out = x @ matrix.T.astype(np.float32) + mu_to.astype(np.float32)
    return np.clip(out.reshape(face.shape), 0.0, 1.0).astype(np.float32)


def lct(face: Image, target: Image, mask: npt.ArrayLike) -> Image:
    """Linear colour transfer through the covariances' symmetric square roots (RGB)."""
    w = _weights(mask, face.shape)
    if (w > 0.5).sum() < MIN_PIXELS:
        return face
    mf, cf = masked_stats(face, w)
    mt, ct = masked_stats(target, w)
    return _affine(face, _sym_sqrt(ct) @ _sym_sqrt(cf, inverse=True), mf, mt)


def mkl(face: Image, target: Image, mask: npt.ArrayLike) -> Image:
    """Monge-Kantorovich linear transfer: the least-displacement linear map between the
    two Gaussians (symmetric ``T`` with ``T C_face T = C_dst``)."""
    w = _weights(mask, face.shape)
    if (w > 0.5).sum() < MIN_PIXELS:
        return face
    mf, cf = masked_stats(face, w)
    mt, ct = masked_stats(target, w)
    a_half, a_inv_half = _sym_sqrt(cf), _sym_sqrt(cf, inverse=True)
    t = a_inv_half @ _sym_sqrt(a_half @ ct @ a_half) @ a_inv_half
    return _affine(face, t, mf, mt)


def _samples(img: Image, w: Weights) -> npt.NDArray[np.float64]:
    """Pixels with weight over half, regularly subsampled to at most ``MAX_SAMPLES``."""
    pts = img.reshape(-1, 3)[w.reshape(-1) > 0.5].astype(np.float64)
    step = max(1, len(pts) // MAX_SAMPLES)
    return pts[::step]


def _random_rotation(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _quantiles(samples: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The ``_QUANTILES`` of each column (nearest rank: a sort and a gather, which is
    several times faster than ``np.quantile`` and as good at these sample counts)."""
    ordered = np.sort(samples, axis=0)
    return ordered[np.round(_QUANTILES * (len(ordered) - 1)).astype(np.intp)]


def _match_1d(values: npt.NDArray[np.float64], src: npt.NDArray[np.float64],
              dst: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Per column: map ``values`` through the quantile map from ``src``'s to ``dst``'s
    distribution (columns are directions; ``src``/``dst`` are sample projections)."""
    qs = _quantiles(src)
    qd = _quantiles(dst)
    out = np.empty_like(values)
    for k in range(values.shape[1]):
        xs, ys = qs[:, k], qd[:, k]
        # A flat stretch of quantiles (many equal values) would make interp ill-defined.
        xs = xs + np.arange(len(xs)) * 1e-9
        out[:, k] = np.interp(values[:, k], xs, ys)
    return out


def _lattice() -> npt.NDArray[np.float64]:
    axis = np.linspace(0.0, 1.0, _LUT)
    r, g, b = np.meshgrid(axis, axis, axis, indexing="ij")
    return np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)


def apply_lut(image: Image, lut: npt.NDArray[np.float64]) -> Image:
    """Trilinear lookup of RGB ``image`` in a ``(n, n, n, 3)`` colour table over [0, 1]^3."""
    n = lut.shape[0]
    c = np.clip(image.reshape(-1, 3).astype(np.float64), 0.0, 1.0) * (n - 1)
    i0 = np.minimum(c.astype(np.intp), n - 2)
    f = c - i0
    out = np.zeros_like(c)
    for dx in (0, 1):
        wx = f[:, 0] if dx else 1.0 - f[:, 0]
        for dy in (0, 1):
            wy = wx * (f[:, 1] if dy else 1.0 - f[:, 1])
            for dz in (0, 1):
                w = wy * (f[:, 2] if dz else 1.0 - f[:, 2])
                out += w[:, None] * lut[i0[:, 0] + dx, i0[:, 1] + dy, i0[:, 2] + dz]
    return np.clip(out.reshape(image.shape), 0.0, 1.0).astype(np.float32)


def _transport(face: Image, target: Image, mask: npt.ArrayLike, step: Any, iterations: int) -> Image:
    """Run a sample-based transport (``step(rng, points, samples, target_samples)``
    -> moved points and samples) on the mask's samples and, as passengers, a colour
    lattice; then apply the lattice as a lookup table to every pixel of the face.

    Moving a 17^3 lattice instead of every pixel makes the cost independent of the crop
    size (a 512 px crop has 262,144 pixels) and gives every pixel a smooth map."""
    w = _weights(mask, face.shape)
    if (w > 0.5).sum() < MIN_PIXELS:
        return face
    rng = np.random.default_rng(_SEED)
    xs, ys = _samples(face, w), _samples(target, w)
    grid = _lattice()
    for _ in range(iterations):
        grid, xs = step(rng, grid, xs, ys)
    return apply_lut(face, grid.reshape(_LUT, _LUT, _LUT, 3))


def _idt_step(rng: np.random.Generator, grid: npt.NDArray[np.float64], xs: npt.NDArray[np.float64],
              ys: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    rot = _random_rotation(rng)
    pg, pxs, pys = grid @ rot, xs @ rot, ys @ rot
    return grid + (_match_1d(pg, pxs, pys) - pg) @ rot.T, xs + (_match_1d(pxs, pxs, pys) - pxs) @ rot.T


def idt(face: Image, target: Image, mask: npt.ArrayLike, *, iterations: int = 20) -> Image:
    """Iterative distribution transfer: full 3-D distribution matching, masked samples."""
    return _transport(face, target, mask, _idt_step, iterations)


def sot(face: Image, target: Image, mask: npt.ArrayLike, *, steps: int = 10, directions: int = 30) -> Image:
    """Sliced optimal transport: each step averages the 1-D transport of random directions."""

    def step(rng: np.random.Generator, grid: npt.NDArray[np.float64], xs: npt.NDArray[np.float64],
             ys: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        dirs = rng.standard_normal((3, directions))
        dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
        pg, pxs, pys = grid @ dirs, xs @ dirs, ys @ dirs
        k = 3.0 / directions
        return grid + (_match_1d(pg, pxs, pys) - pg) @ dirs.T * k, xs + (_match_1d(pxs, pxs, pys) - pxs) @ dirs.T * k

    return _transport(face, target, mask, step, steps)


_METHODS: Final = {"rct": rct, "lct": lct, "mkl": mkl, "idt": idt, "sot": sot}


def transfer(mode: ColorMode, face: Image, target: Image, mask: npt.ArrayLike) -> Image:
    """``face`` recoloured toward ``target`` by ``mode`` (``none`` returns it unchanged)."""
    if mode == "none":
        return face
    if face.shape != target.shape or face.ndim != 3 or face.shape[2] != 3:
        raise ValueError(f"colour transfer needs two RGB images of one size, got {face.shape} and {target.shape}")
    return _METHODS[mode](face.astype(np.float32, copy=False), target.astype(np.float32, copy=False), mask)
