"""DeepFaceLab's SAEHD options: one tiny run each (64 px, small dims, CPU), the option kept
in the checkpoint and restored on resume, bad values refused; the CUDA code paths (bf16
autocast, channels_last, torch.compile) run on the CPU."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.swap import augment, checkpoint, color, options
from engine.swap.config import ModelConfig, SwapConfigError, TrainConfig, get_preset
from engine.swap.discriminators import PREFIXES, PatchDiscriminator, patch_depth
from engine.swap.trainer import Trainer

TINY_DF = ModelConfig("df", "ud", 64, "full", ae_dims=32, e_dims=8, d_dims=8, d_mask_dims=8)
TINY_LIAE = ModelConfig("liae", "ud", 64, "full", ae_dims=32, e_dims=8, d_dims=8, d_mask_dims=8)
BASE = get_preset("fast-64").train.updated({"batch_size": 4, "warmup": 0})

#: (option overrides, the stored values to check). One per SAEHD option.
CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"gan_power": 0.5, "gan_dims": 8}, {"gan_power": 0.5, "gan_dims": 8}),
    ({"true_face_power": 0.2}, {"true_face_power": 0.2}),
    ({"face_style_power": 10.0}, {"face_style_power": 10.0}),
    ({"bg_style_power": 10.0}, {"bg_style_power": 10.0}),
    ({"lr_dropout": "y"}, {"lr_dropout": "y"}),
    ({"lr_dropout": "cpu"}, {"lr_dropout": "cpu"}),
    ({"random_blur": "y"}, {"random_blur": True}),
    ({"random_jpeg": True}, {"random_jpeg": True}),
    ({"random_downsample": "true"}, {"random_downsample": True}),
    *[({"ct_mode": m}, {"ct_mode": m}) for m in ("rct", "lct", "mkl", "idt", "sot")],
    ({"random_flip": True}, {"flip_src": 0.4, "flip_dst": 0.4}),
    ({"uniform_yaw": True}, {"uniform_yaw": True}),
    ({"eyes_mouth_prio": True}, {"eyes_mouth_prio": True}),
    ({"masked_training": False}, {"masked_training": False}),
]


def _save(tr: Trainer, folder: Path) -> Path:
    return checkpoint.save(folder, weights=tr.weights(), state=tr.state(), optimizer=tr.optimizer_state(),
                           optimizers=tr.part_optimizers(), kept_in_backups=tr.kept_in_backups())


@pytest.mark.parametrize(("overrides", "stored"), CASES, ids=lambda v: ",".join(f"{k}={v[k]}" for k in v)
                         if isinstance(v, dict) else str(v))
def test_each_option_trains_and_is_restored_on_resume(tmp_path: Path, make_face_set: Any,
                                                      overrides: dict[str, Any], stored: dict[str, Any]) -> None:
    model = TINY_DF if "true_face_power" in overrides else TINY_LIAE
    cfg = BASE.updated(overrides)
    src, dst = make_face_set(12, 64, 1), make_face_set(12, 64, 2)
    tr = Trainer(model, cfg, src, dst, seed=3)
    for _ in range(2):
        losses = tr.step()
        assert math.isfinite(float(losses.src)) and math.isfinite(float(losses.dst))
        tr.iteration += 1
    path = _save(tr, tmp_path / "m")
    st = checkpoint.read_state(path)
    for k, v in stored.items():
        assert st["train_config"][k] == v, k
    # A resume rebuilds the trainer from the checkpoint's settings, as the session does.
    back = Trainer(model, TrainConfig.from_json(st["train_config"]), src, dst, seed=3)
    back.load(checkpoint.load(path))
    for k, v in stored.items():
        assert getattr(back.train_cfg, k) == v, k
    assert back.iteration == 2
    # The resumed step is the step the original trainer takes next (the same batch and draws).
    a, b = tr.step(), back.step()
    assert math.isfinite(float(b.src))
    assert float(b.src) == pytest.approx(float(a.src), rel=1e-4)


def test_gan_and_true_face_discriminators_learn_and_are_checkpointed(tmp_path: Path, make_face_set: Any) -> None:
    cfg = BASE.updated({"gan_power": 1.0, "gan_dims": 8, "true_face_power": 0.5})
    tr = Trainer(TINY_DF, cfg, make_face_set(12, 64, 1), make_face_set(12, 64, 2), seed=1)
    before = {k: v.clone() for k, v in tr.adversaries.weights().items()}
    tr.step()
    assert set(tr.d_losses) == {"gan_d", "code_d"} and all(math.isfinite(v) for v in tr.d_losses.values())
    after = tr.adversaries.weights()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the discriminators were trained
    path = _save(tr, tmp_path / "m")
    ckpt = checkpoint.load(path)
    assert {k.split(".", 1)[0] for k in ckpt.weights if k.startswith(PREFIXES)} == {"gan_d", "code_d"}
    assert set(ckpt.optimizers["discriminators"]) == {"gan_d", "code_d"} and "discriminators" not in ckpt.optimizer
    # The merge's model loader ignores the discriminators.
    from engine.swap.inference import SwapModel

    assert SwapModel.load(path).config == TINY_DF
    # Switching GAN power off keeps the discriminator's entries for later.
    off = Trainer(TINY_DF, cfg.updated({"gan_power": 0.0}), make_face_set(12, 64, 1), make_face_set(12, 64, 2), seed=1)
    off.load(ckpt)
    assert any(k.startswith("gan_d.") for k in off.weights())


def test_bad_option_values_are_refused_with_the_option_named() -> None:
    for bad, word in (({"gan_power": 7}, "gan_power"), ({"ct_mode": "xyz"}, "ct_mode"),
                      ({"lr_dropout": "maybe"}, "lr_dropout"), ({"random_blur": "sometimes"}, "random_blur"),
                      ({"face_style_power": -1}, "face_style_power")):
        with pytest.raises(SwapConfigError, match=word):
            BASE.updated(bad)
    with pytest.raises(SwapConfigError, match="true_face_power needs a df model"):
        options.check_for_model(TINY_LIAE, BASE.updated({"true_face_power": 0.1}))
    with pytest.raises(ValueError, match="true_face_power"):
        from engine.swap.request import TrainRequest

        TrainRequest(preset="dfl-128", train={"true_face_power": 0.1})


def test_pretraining_forces_deepfacelabs_pretrain_options() -> None:
    eff = BASE.updated({"pretrain": True, "gan_power": 1.0, "face_style_power": 5.0, "lr_dropout": "y"}).effective()
    assert (eff.gan_power, eff.face_style_power, eff.lr_dropout, eff.uniform_yaw) == (0.0, 0.0, "n", True)


def test_colour_transfers_move_statistics_towards_the_source() -> None:
    g = torch.Generator().manual_seed(0)
    t = torch.rand(3, 3, 32, 32, generator=g) * 0.5
    s = (torch.rand(3, 3, 32, 32, generator=g) * 0.3 + 0.6) * torch.tensor([1.0, 0.7, 0.4]).view(1, 3, 1, 1)
    m = torch.ones(3, 1, 32, 32)
    for mode in ("rct", "lct", "mkl", "idt", "sot"):
        dirs = color.random_rotations(*color.DIRECTIONS[mode], g, t.device) if mode in color.DIRECTIONS else None
        out = color.transfer(mode, t, m, s, m, dirs)
        before = (t.mean(dim=(2, 3)) - s.mean(dim=(2, 3))).abs().mean()
        after = (out.mean(dim=(2, 3)) - s.mean(dim=(2, 3))).abs().mean()
        assert out.shape == t.shape and after < 0.2 * before, mode


def test_degradations_change_only_the_chosen_samples() -> None:
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    on = torch.tensor([True, False, True, False])
    blurred = augment.random_blur(x, on, torch.full((4,), 0.02))
    assert torch.equal(blurred[1], x[1]) and not torch.equal(blurred[0], x[0])
    assert blurred[0].diff(dim=-1).abs().mean() < x[0].diff(dim=-1).abs().mean()  # smoother
    down = augment.random_downsample(x, on, torch.tensor([0, 1, 2, 0]))
    assert torch.equal(down[3], x[3]) and not torch.equal(down[2], x[2])
    low, high = augment.jpeg(x, torch.full((4,), 10.0)), augment.jpeg(x, torch.full((4,), 95.0))
    assert (high - x).abs().mean() < (low - x).abs().mean() < 0.5  # quality orders the error


def test_patch_discriminator_depth_fits_the_patch_size() -> None:
    assert patch_depth(128, 16) == 3  # receptive field 15
    assert patch_depth(256, 32) == 4  # 31
    d = PatchDiscriminator(64, 8, base=4)
    center, pixels = d(torch.rand(2, 3, 64, 64))
    assert pixels.shape == (2, 1, 64, 64) and center.shape[-1] < 64


def test_the_cuda_code_paths_run_on_the_cpu(make_face_set: Any) -> None:
    """bf16 autocast, channels_last and torch.compile, as on a GPU, with the same code."""
    cfg = BASE.updated({"gan_power": 0.1, "gan_dims": 4, "random_blur": True})
    tr = Trainer(TINY_LIAE, cfg, make_face_set(8, 64, 1), make_face_set(8, 64, 2), seed=2, gpu_paths=True)
    conv = next(p for p in tr.model.parameters() if p.dim() == 4 and p.shape[-1] > 1)
    assert tr.amp and conv.is_contiguous(memory_format=torch.channels_last)
    for _ in range(2):
        losses = tr.step()
        assert math.isfinite(float(losses.src)) and math.isfinite(float(losses.dst))
    bs, _ = tr.next_batches()
    assert bs.input.is_contiguous(memory_format=torch.channels_last)
    # torch.compile as on CUDA (network and optimiser step); the aot_eager backend traces the
    # same graphs without inductor's C++ code generation (3.5 minutes on the test machine).
    plain = Trainer(TINY_LIAE, BASE, make_face_set(8, 64, 1), make_face_set(8, 64, 2), seed=2, gpu_paths=True)
    compiled = Trainer(TINY_LIAE, BASE, make_face_set(8, 64, 1), make_face_set(8, 64, 2), seed=2, gpu_paths=True,
                       compile=True, compile_backend="aot_eager")
    assert compiled.net is not compiled.model  # really compiled
    a, b = plain.step(), compiled.step()
    assert math.isfinite(float(b.src))
    assert float(b.src) == pytest.approx(float(a.src), rel=2e-2)  # bf16: the same step, to bf16 precision
