"""Losses, on-device augmentation, colour transfer and sampling."""

from __future__ import annotations

import time
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from engine.swap import augment
from engine.swap.color import hsv_jitter, masked_stats, rct, rgb_to_lab
from engine.swap.config import LossWeights, get_preset
from engine.swap.dataset import Sampler
from engine.swap.losses import SwapLoss, blur, gaussian_matrix
from engine.swap.trainer import Trainer


def _faces(n: int = 4, size: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(n, 3, size // 4, size // 4, generator=g), size=(size, size), mode="bilinear")


def test_dssim_is_zero_for_equal_images_and_its_two_scales_differ() -> None:
    loss = SwapLoss(64, LossWeights())
    x = _faces()
    assert float(loss.dssim(x, x, loss.g_fine)) == pytest.approx(0.0, abs=1e-6)
    noisy = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    fine, coarse = float(loss.dssim(noisy, x, loss.g_fine)), float(loss.dssim(noisy, x, loss.g_coarse))
    assert fine > 0.02 and coarse > 0.0
    # Pixel noise is a fine-scale error: the coarse scale, which averages it out, sees much less of it.
    assert coarse < 0.6 * fine
    shifted = torch.roll(x, shifts=3, dims=3)  # a structural error is seen at both scales
    assert float(loss.dssim(shifted, x, loss.g_coarse)) > 0.02


def test_gaussian_operator_keeps_flat_images_flat_up_to_the_borders() -> None:
    g = gaussian_matrix(64, 4.5)
    flat = torch.full((1, 1, 64, 64), 0.7)
    assert torch.allclose(blur(flat, g), flat, atol=1e-6)  # row-normalised: no dark borders


def test_masked_loss_ignores_the_background_and_parts_add_up() -> None:
    w = LossWeights(dssim=10, mse=10, mask=10, eyes_mouth=300)
    loss = SwapLoss(64, w, masked=True, eyes_mouth=True)
    target = _faces(2)
    mask = torch.zeros(2, 1, 64, 64)
    mask[..., 16:48, 16:48] = 1
    pred = target.clone()
    pred[..., :4, :] = 1 - pred[..., :4, :]  # wrong only far outside the face
    parts = loss(pred, mask, target, mask, torch.zeros_like(mask))
    assert float(parts.total) == pytest.approx(0.0, abs=1e-4)
    bad = loss(torch.zeros_like(target), torch.zeros_like(mask), target, mask, mask)
    expected = 10 * bad.dssim + 10 * bad.mse + 10 * bad.mask
    assert float(bad.total) > float(expected)  # the eyes/mouth term comes on top


def test_identity_augmentation_returns_the_faces_unchanged() -> None:
    imgs = (_faces(3) * 255).round().to(torch.uint8)
    masks = torch.zeros(3, 2, 64, 64, dtype=torch.uint8)
    masks[:, 0, 10:50, 10:50] = 255
    spec = augment.AugmentSpec(random_warp=False, flip=0.0, rotation_deg=0, scale_min=1, scale_max=1, shift=0)
    params = augment.draw_params(spec, 3, torch.Generator().manual_seed(0), torch.device("cpu"))
    b = augment.apply(imgs, masks, params)
    assert torch.allclose(b.target, imgs.float() / 255, atol=1e-5)
    assert torch.equal(b.input, b.target)
    assert torch.allclose(b.mask, masks[:, :1].float() / 255, atol=1e-5)


def test_flip_and_warp_geometry() -> None:
    imgs = (_faces(8) * 255).round().to(torch.uint8)
    masks = torch.zeros(8, 2, 64, 64, dtype=torch.uint8)
    flip = augment.AugmentSpec(random_warp=False, flip=1.0, rotation_deg=0, scale_min=1, scale_max=1, shift=0)
    b = augment.apply(imgs, masks, augment.draw_params(flip, 8, torch.Generator().manual_seed(0), torch.device("cpu")))
    assert torch.allclose(b.target, torch.flip(imgs.float() / 255, dims=[3]), atol=1e-5)
    warp = augment.AugmentSpec(random_warp=True, flip=0.0, rotation_deg=0, scale_min=1, scale_max=1, shift=0)
    p = augment.draw_params(warp, 8, torch.Generator().manual_seed(1), torch.device("cpu"))
    assert p.warp is not None and p.warp.shape == (8, 2, 9, 9)
    assert p.warp[:, :, 0].abs().max() == 0 and p.warp[:, :, :, -1].abs().max() == 0  # border knots fixed
    # Inner knots move by at most 0.24 of a cell (2/cells in normalised units).
    assert 0 < float(p.warp.abs().max()) <= 0.24 * 2 / 2 + 1e-6
    b = augment.apply(imgs, masks, p)
    assert torch.allclose(b.target, imgs.float() / 255, atol=1e-5)  # targets are never warped
    assert not torch.allclose(b.input, b.target, atol=1e-3)


def test_global_batch_parameters_sliced_equal_what_each_rank_applies() -> None:
    spec = augment.AugmentSpec(flip=0.4, hsv_power=0.2)
    p = augment.draw_params(spec, 8, torch.Generator().manual_seed(3), torch.device("cpu"))
    half = p.slice(slice(4, 8))
    assert torch.equal(half.theta, p.theta[4:]) and half.warp is not None and torch.equal(half.warp, p.warp[4:])


def test_rct_gives_the_masked_face_the_source_statistics() -> None:
    target, source = _faces(2, seed=1) * 0.5, _faces(2, seed=2) * 0.5 + 0.4
    mask = torch.zeros(2, 1, 64, 64)
    mask[..., 8:56, 8:56] = 1
    out = rct(target, mask, source, mask)
    m_out, s_out = masked_stats(rgb_to_lab(out), mask)
    m_src, s_src = masked_stats(rgb_to_lab(source), mask)
    assert torch.allclose(m_out, m_src, atol=1.5) and torch.allclose(s_out, s_src, rtol=0.15, atol=0.5)


def test_hsv_jitter_with_zero_shift_is_the_identity() -> None:
    x = _faces(2)
    assert torch.allclose(hsv_jitter(x, torch.zeros(2, 3)), x, atol=1e-5)


def test_sampler_epochs_cover_every_face_and_uniform_yaw_balances_poses() -> None:
    yaw = torch.cat([torch.zeros(90), torch.full((10,), 45.0)])  # 90 frontal, 10 profile
    s = Sampler(yaw, seed=1)
    g = torch.Generator().manual_seed(0)
    first = s.draw(100, g)
    assert sorted(first.tolist()) == list(range(100))  # one epoch: every face once
    u = Sampler(yaw, seed=1, uniform_yaw=True, bins=32)
    drawn = u.draw(4000, g)
    profile_share = float((drawn >= 90).float().mean())
    assert u.bins_used == 2 and 0.45 < profile_share < 0.55  # 10 % of the faces, half of the samples


def test_batch_preparation_takes_under_a_tenth_of_a_step(make_face_set: Any) -> None:
    p = get_preset("fast-64")
    tr = Trainer(p.model, p.train, make_face_set(), make_face_set(seed=1), seed=0)
    tr.step()
    prep, total = [], []
    for _ in range(6):
        t0 = time.perf_counter()
        batches = tr.next_batches()
        t1 = time.perf_counter()
        tr.step(batches)
        prep.append(t1 - t0)
        total.append(time.perf_counter() - t0)
    prep.sort()
    total.sort()
    assert prep[3] / total[3] < 0.10, (prep, total)
