"""Mask processing at sub-pixel precision, temporal mask smoothing, and colour transfer
with statistics inside the mask only (synthetic data: exact expectations)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from engine.merge import color
from engine.merge.masks import combine, gaussian, refine, supersample_factor, temporal_blend


def disk(size: int, radius: float, centre: tuple[float, float] | None = None, ss: int = 8) -> np.ndarray:
    """A disk with exact area coverage per pixel (supersampled ``ss`` x ``ss``)."""
    cx, cy = centre if centre is not None else ((size - 1) / 2, (size - 1) / 2)
    t = (np.arange(size * ss) + 0.5) / ss - 0.5
    x, y = np.meshgrid(t, t)
    inside = ((x - cx) ** 2 + (y - cy) ** 2 <= radius**2).astype(np.float32)
    return inside.reshape(size, ss, size, ss).mean(axis=(1, 3))


def radius_of(fine: np.ndarray, k: int) -> float:
    return math.sqrt(float(fine.sum()) / k**2 / math.pi)


@pytest.mark.parametrize("erode_px", [0.3, 0.7, 1.6, -0.45, -2.2])
def test_erode_and_dilate_are_exact_to_a_fraction_of_a_pixel(erode_px: float) -> None:
    size, r0 = 64, 20.0
    out = refine(disk(size, r0), erode=erode_px / size * 100.0, blur=0.0)
    assert out.factor == 4
    assert radius_of(out.fine, out.factor) == pytest.approx(r0 - erode_px, abs=0.08)
    # The core (the colour statistics' pixels) is the eroded disk at crop size.
    assert math.sqrt(out.core.sum() / math.pi) == pytest.approx(r0 - erode_px, abs=0.6)


def test_feathering_reaches_zero_inside_the_crop_and_keeps_the_edge() -> None:
    size = 64
    full = refine(np.ones((size, size), np.float32), erode=0.0, blur=10.0)
    fine = full.fine
    assert fine[0].max() == 0 and fine[-1].max() == 0 and fine[:, 0].max() == 0 and fine[:, -1].max() == 0
    assert fine[fine.shape[0] // 2, fine.shape[1] // 2] == pytest.approx(1.0, abs=1e-3)
    # A feathered disk keeps its half level close to the unblurred edge.
    soft = refine(disk(size, 18.0), erode=0.0, blur=8.0)
    k = soft.factor
    centre_row = soft.fine[soft.fine.shape[0] // 2]
    half = np.nonzero(centre_row >= 0.5)[0]
    width = (half[-1] - half[0] + 1) / k
    assert width == pytest.approx(36.0, abs=1.0)
    ramp = np.nonzero((centre_row > 0.1) & (centre_row < 0.9))[0]
    assert len(ramp) / 2 / k == pytest.approx(0.08 * size, rel=0.25)  # 10-90 % width = blur


def test_large_blurs_on_a_reduced_copy_match_a_direct_blur() -> None:
    m = np.zeros((512, 512), np.float32)
    m[100:400, 150:380] = 1.0
    for sigma in (3.0, 12.0, 40.0):
        direct = cv2.GaussianBlur(m, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
        assert np.abs(gaussian(m, sigma) - direct).max() < 1.5 / 255


def test_supersampling_stays_within_1024_and_sources_multiply() -> None:
    assert [supersample_factor(s) for s in (64, 128, 256, 320, 512, 1024)] == [4, 4, 4, 3, 2, 1]
    a = np.full((8, 8), 0.5, np.float32)
    b = np.full((8, 8), 255, np.uint8)
    b[0] = 0
    out = combine({"learned_dst": a, "hull": b}, ("hull", "learned_dst", "full"), 8)
    assert out[1:].min() == pytest.approx(0.5) and out[0].max() == 0


def test_temporal_smoothing_steadies_a_flickering_mask() -> None:
    size = 64
    big, small = disk(size, 18.0), disk(size, 14.0)
    out = temporal_blend(big, [(-1, small), (1, small)], 1)  # weights 1-2-1
    assert out.sum() == pytest.approx((2 * big.sum() + 2 * small.sum()) / 4, rel=1e-5)
    wide = temporal_blend(big, [(-2, small), (-1, big), (1, big), (2, small)], 2)  # weights 1-2-3-2-1
    assert wide.sum() == pytest.approx((7 * big.sum() + 2 * small.sum()) / 9, rel=1e-5)
    assert np.abs(temporal_blend(big, [(1, big)], 1) - big).max() < 1e-6  # a steady mask stays put
    assert temporal_blend(big, [], 2) is big


# ---------------------------------------------------------------------- colour
def _faces(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    size = 64
    face = np.clip(rng.normal([0.7, 0.55, 0.45], [0.05, 0.04, 0.04], (size, size, 3)), 0, 1).astype(np.float32)
    dst = np.clip(rng.normal([0.45, 0.35, 0.3], [0.1, 0.08, 0.07], (size, size, 3)), 0, 1).astype(np.float32)
    mask = np.zeros((size, size), np.float32)
    mask[16:48, 20:44] = 1.0
    # Outside the mask: background that must not count (a blue wall behind the dst face).
    dst[mask == 0] = [0.1, 0.3, 0.8]
    return face, dst, mask


def _lab_stats(img: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = color.rgb_to_lab(img)[inside]
    return lab.mean(axis=0), lab.std(axis=0)


def test_rct_matches_mean_and_deviation_inside_the_mask_only() -> None:
    face, dst, mask = _faces()
    inside = mask > 0.5
    out = color.transfer("rct", face, dst, mask)
    (mo, so), (md, sd) = _lab_stats(out, inside), _lab_stats(dst, inside)
    assert np.abs(mo - md).max() < 0.2 and np.abs(so - sd).max() < 0.2  # L*a*b* units; gamut clipping
    # What is outside the mask (the wall's colour) plays no part.
    dst2 = dst.copy()
    dst2[~inside] = [0.9, 0.1, 0.1]
    assert np.abs(color.transfer("rct", face, dst2, mask) - out).max() < 1e-5


@pytest.mark.parametrize("mode", ["lct", "mkl"])
def test_linear_transfers_match_the_masked_covariance(mode: str) -> None:
    face, dst, mask = _faces(1)
    inside = mask > 0.5
    out = color.transfer(mode, face, dst, mask)
    assert np.abs(out[inside].mean(0) - dst[inside].mean(0)).max() < 2e-3
    assert np.abs(np.cov(out[inside].T) - np.cov(dst[inside].T)).max() < 2e-4


@pytest.mark.parametrize("mode", ["idt", "sot"])
def test_distribution_transfers_move_the_face_onto_the_dst_distribution(mode: str) -> None:
    face, dst, mask = _faces(2)
    inside = mask > 0.5
    out = color.transfer(mode, face, dst, mask)
    before = np.abs(face[inside].mean(0) - dst[inside].mean(0)).max()
    assert np.abs(out[inside].mean(0) - dst[inside].mean(0)).max() < 0.05 * before
    assert np.abs(out[inside].std(0) - dst[inside].std(0)).max() < 0.01
    assert np.array_equal(out, color.transfer(mode, face, dst, mask))  # seeded: a render is repeatable


def test_none_and_tiny_masks_leave_the_face_alone() -> None:
    face, dst, mask = _faces()
    assert color.transfer("none", face, dst, mask) is face
    tiny = np.zeros_like(mask)
    tiny[0, :3] = 1
    for mode in ("rct", "lct", "mkl", "idt", "sot"):
        assert color.transfer(mode, face, dst, tiny) is face
