"""Configurations, presets and the two layouts: shapes, options, sizes, FLOPs."""

from __future__ import annotations

import itertools

import pytest
import torch

from engine.errors import JobError
from engine.jobs.registry import validate_params
from engine.swap.archs import build_model, parameter_count
from engine.swap.config import PRESETS, ModelConfig, SwapConfigError, TrainConfig, parse_arch
from engine.swap.request import TrainRequest, check_model


def test_arch_strings_parse_to_canonical_options() -> None:
    assert parse_arch("liae-ud") == ("liae", "ud")
    assert parse_arch("DF-tdu") == ("df", "udt")
    assert parse_arch("df") == ("df", "")
    for bad in ("dfx-ud", "liae-uz", "df-uu"):
        with pytest.raises(SwapConfigError):
            parse_arch(bad)


def test_model_config_checks_resolution_and_dims() -> None:
    assert ModelConfig("df", "u", 80).resolution == 80  # multiple of 16 without d/t
    with pytest.raises(SwapConfigError, match="multiple of 32"):
        ModelConfig("df", "ud", 80)
    with pytest.raises(SwapConfigError, match="64-512"):
        ModelConfig("liae", "ud", 576)
    with pytest.raises(SwapConfigError, match="e_dims"):
        ModelConfig(e_dims=63)
    assert ModelConfig(d_dims=64, d_mask_dims=0).d_mask_dims == 22  # DeepFaceLab's d_dims//3, even


def test_train_config_overrides_and_refusals() -> None:
    cfg = TrainConfig().updated({"lr": 1e-4, "loss": {"mse": 5}})
    assert cfg.lr == 1e-4 and cfg.loss.mse == 5.0 and cfg.loss.dssim == 10.0
    with pytest.raises(SwapConfigError, match="unknown training setting"):
        TrainConfig().updated({"learning_rate": 1})
    with pytest.raises(SwapConfigError, match="hsv_power"):
        TrainConfig(hsv_power=0.9)
    pre = TrainConfig(pretrain=True, random_warp=True).effective()
    assert not pre.random_warp and pre.uniform_yaw and pre.flip_src > 0


def test_presets_are_valid_and_the_defaults_match_deepfacelab() -> None:
    assert set(PRESETS) >= {"fast-64", "dfl-128", "dfl-256"}
    dfl = PRESETS["dfl-128"]
    assert dfl.model == ModelConfig("liae", "ud", 128, "full", 256, 64, 64, 22)
    assert dfl.train.optimizer == "adabelief" and dfl.train.lr == 5e-5 and dfl.train.batch_size == 8
    assert PRESETS["dfl-256"].model.resolution == 256


def test_job_parameters_are_checked_when_queued() -> None:
    ok = validate_params("train_swap", {"preset": "fast-64", "arch": "liae-ud", "iterations": 5})
    assert ok["arch"] == "liae-ud"
    for bad in ({"arch": "xyz"}, {"resolution": 100}, {"preset": "nope"}, {"devices": 3},
                {"train": {"colour": 1}}):
        with pytest.raises(JobError):
            validate_params("train_swap", bad)


def test_a_request_for_another_shape_than_the_model_is_refused() -> None:
    model = ModelConfig("df", "ud", 64, "full", 64, 16, 16, 8)
    check_model(3, model, TrainRequest(resolution=64).shape_overrides())  # same: fine
    with pytest.raises(SwapConfigError, match=r"model 3 is a df-ud 64 px full face.*resolution 128"):
        check_model(3, model, TrainRequest(resolution=128).shape_overrides())
    with pytest.raises(SwapConfigError, match="face_type 'whole'"):
        check_model(3, model, TrainRequest(face_type="wf").shape_overrides())


@pytest.mark.parametrize(("arch", "opts"), [(a, "".join(o)) for a in ("df", "liae")
                                            for o in itertools.chain.from_iterable(
                                                itertools.combinations("udt", k) for k in range(4))])
def test_every_layout_and_option_gives_full_resolution_outputs(arch: str, opts: str) -> None:
    cfg = ModelConfig(arch, opts, 64, "full", ae_dims=32, e_dims=8, d_dims=8, d_mask_dims=8)
    net = build_model(cfg)
    x = torch.rand(2, 3, 64, 64)
    out = net(x, x[:1])
    assert out.src.shape == (2, 3, 64, 64) and out.src_mask.shape == (2, 1, 64, 64)
    assert out.dst.shape == (1, 3, 64, 64) and out.dst_mask.shape == (1, 1, 64, 64)
    with torch.no_grad():
        sw = net.swap(x)
    assert sw.swapped.shape == (2, 3, 64, 64) and sw.mask_dst.shape == sw.mask_src.shape == (2, 1, 64, 64)
    assert 0.0 <= float(sw.swapped.min()) and float(sw.swapped.max()) <= 1.0


def test_parameter_counts_match_the_deepfacelab_reference() -> None:
    # REFERENCE.md Part C 1.3: liae-ud 128 about 82M, df-ud 128 about 55M.
    assert parameter_count(build_model(PRESETS["dfl-128"].model)) == pytest.approx(82e6, rel=0.02)
    assert parameter_count(build_model(PRESETS["df-128"].model)) == pytest.approx(55e6, rel=0.02)


def test_reset_inters_changes_only_the_inter_layers() -> None:
    net = build_model(ModelConfig("liae", "ud", 64, "full", 32, 8, 8, 8))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.reset_inters()
    changed = {k for k, v in net.state_dict().items() if not torch.equal(v, before[k]) and v.abs().sum() > 0}
    assert changed and all(k.startswith(("inter_AB.", "inter_B.")) for k in changed)
