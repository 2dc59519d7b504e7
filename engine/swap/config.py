"""Swap-model configuration: what a model *is* and how it is *trained*, plus presets.

Two frozen dataclasses, because they live different lives. :class:`ModelConfig` fixes
the weights' shapes (layout, options, resolution, face type, dims): it is written into
every checkpoint and a model can never change it. :class:`TrainConfig` is how the next
stretch of training runs (batch, optimiser, learning rate, losses, augmentation): a
user may change it between sessions of the same model, as DeepFaceLab asks "override
model settings?" when a model is continued.

Architectures are named as DeepFaceLab users know them: ``df`` or ``liae`` plus option
letters, ``liae-ud``, ``df-udt`` (``REFERENCE.md`` Part C 1.1-1.3):

- ``u``: pixel normalisation of the encoder's flattened output;
- ``d``: the decoder ends at half resolution and a depth-to-space output doubles it
  (about the same cost for twice the pixels); resolution must be a multiple of 32;
- ``t``: a deeper encoder (five stages, residual blocks) and decoder (four stages).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from engine.errors import FacesmithError

Arch = Literal["df", "liae"]
FaceTypeName = Literal["half", "mid_full", "full", "whole", "head"]
OptimizerName = Literal["adamw", "adabelief"]
ScheduleName = Literal["constant", "cosine"]
ColorTransfer = Literal["none", "rct", "lct", "mkl", "idt", "sot"]
LrDropout = Literal["n", "y", "cpu"]

ARCH_OPTIONS: Final = "udt"
MIN_RESOLUTION: Final = 64
MAX_RESOLUTION: Final = 512


class SwapConfigError(FacesmithError):
    """A swap-model setting is out of range, unknown, or conflicts with the model."""


def parse_arch(text: str) -> tuple[Arch, str]:
    """``"liae-udt"`` -> ``("liae", "udt")``; options come back in canonical order."""
    base, _, opts = text.strip().lower().partition("-")
    if base not in get_args(Arch):
        raise SwapConfigError(f"unknown architecture {text!r}: expected df or liae, with options from "
                              f"'{ARCH_OPTIONS}' after a dash (e.g. liae-ud, df-udt)")
    bad = sorted(set(opts) - set(ARCH_OPTIONS))
    if bad or len(set(opts)) != len(opts):
        raise SwapConfigError(f"architecture {text!r}: options must be distinct letters of "
                              f"'{ARCH_OPTIONS}' (got {opts!r})")
    return base, "".join(c for c in ARCH_OPTIONS if c in opts)  # type: ignore[return-value]


def _even(name: str, value: int, lo: int, hi: int) -> None:
    if not lo <= value <= hi or value % 2:
        raise SwapConfigError(f"{name} must be an even number in {lo}-{hi}, got {value}")


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a swap model: fixed for its whole life.

    Attributes
    ----------
    arch : ``df`` (one decoder per identity) or ``liae`` (shared decoder, two inters).
    options : canonical subset of ``"udt"`` (see the module docstring).
    resolution : crop side in pixels, 64-512; a multiple of 16, or of 32 with ``d``/``t``.
    face_type : the framing of the crops the model sees and produces.
    ae_dims : bottleneck width (the inter's first Dense).
    e_dims, d_dims : encoder / decoder base channels (even).
    d_mask_dims : mask-decoder base channels (even); 0 picks DeepFaceLab's d_dims//3.
    """

    arch: Arch = "liae"
    options: str = "ud"
    resolution: int = 128
    face_type: FaceTypeName = "full"
    ae_dims: int = 256
    e_dims: int = 64
    d_dims: int = 64
    d_mask_dims: int = 22

    def __post_init__(self) -> None:
        arch, opts = parse_arch(f"{self.arch}-{self.options}" if self.options else self.arch)
        object.__setattr__(self, "options", opts)
        if self.face_type not in get_args(FaceTypeName):
            raise SwapConfigError(f"unknown face type {self.face_type!r} "
                                  f"(expected one of {', '.join(get_args(FaceTypeName))})")
        step = 32 if ("d" in opts or "t" in opts) else 16
        r = self.resolution
        if not MIN_RESOLUTION <= r <= MAX_RESOLUTION or r % step:
            raise SwapConfigError(f"resolution must be {MIN_RESOLUTION}-{MAX_RESOLUTION} and a multiple of "
                                  f"{step} for {self.arch_string}, got {r}")
        if not 16 <= self.ae_dims <= 1024:
            raise SwapConfigError(f"ae_dims must be 16-1024, got {self.ae_dims}")
        _even("e_dims", self.e_dims, 8, 256)
        _even("d_dims", self.d_dims, 8, 256)
        if self.d_mask_dims == 0:
            object.__setattr__(self, "d_mask_dims", max(8, (self.d_dims // 3 + 1) // 2 * 2))
        _even("d_mask_dims", self.d_mask_dims, 8, 256)

    @property
    def arch_string(self) -> str:
        return f"{self.arch}-{self.options}" if self.options else self.arch

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


@dataclass(frozen=True)
class LossWeights:
    """Weights of the reconstruction loss terms (per identity, summed).

    ``dssim`` is split evenly over the two DSSIM scales; ``eyes_mouth`` applies only
    when eyes/mouth priority is on. Defaults are DeepFaceLab's (Part C 1.4).
    """

    dssim: float = 10.0
    mse: float = 10.0
    eyes_mouth: float = 300.0
    mask: float = 10.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not 0.0 <= v <= 10_000.0:
                raise SwapConfigError(f"loss weight {f.name} must be 0-10000, got {v}")


@dataclass(frozen=True)
class TrainConfig:
    """How a training session runs; may change between sessions of one model.

    Attributes (the less obvious ones)
    ----------------------------------
    batch_size : faces per identity per step, over all devices together (so the same
        job gives the same batches on one GPU or several).
    warmup : iterations of linear learning-rate warm-up from zero.
    schedule : ``constant`` after warm-up, or ``cosine`` down to ``min_lr_ratio`` at the
        target iteration (constant when no target is set).
    clip_grad : global gradient-norm limit; 0 turns clipping off.
    flip_src / flip_dst : flip probability of each identity's samples.
    hsv_power : colour jitter of the src *input* (0-0.3, DeepFaceLab's random_hsv_power).
    ct_mode : colour transfer of src faces towards a random dst face's statistics.
    uniform_yaw : sample by yaw bins so rare poses are seen as often as common ones.
    pretrain : train on any faces; continuing with it off resets the inter layers.
    gan_power ... random_downsample : DeepFaceLab's SAEHD options under their own names,
        described (ranges, help) in :mod:`engine.swap.options`.
    """

    batch_size: int = 8
    optimizer: OptimizerName = "adabelief"
    lr: float = 5e-5
    weight_decay: float = 0.0
    warmup: int = 200
    schedule: ScheduleName = "constant"
    min_lr_ratio: float = 0.1
    clip_grad: float = 1.0
    masked_training: bool = True
    eyes_mouth_prio: bool = False
    loss: LossWeights = field(default_factory=LossWeights)
    random_warp: bool = True
    flip_src: float = 0.0
    flip_dst: float = 0.4
    rotation_deg: float = 10.0
    scale_min: float = 0.87
    scale_max: float = 1.15
    shift: float = 0.05
    hsv_power: float = 0.0
    ct_mode: ColorTransfer = "none"
    uniform_yaw: bool = False
    yaw_bins: int = 32
    pretrain: bool = False
    gan_power: float = 0.0
    gan_patch_size: int = 0
    gan_dims: int = 16
    true_face_power: float = 0.0
    face_style_power: float = 0.0
    bg_style_power: float = 0.0
    lr_dropout: LrDropout = "n"
    random_blur: bool = False
    random_jpeg: bool = False
    random_downsample: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 1024:
            raise SwapConfigError(f"batch_size must be 1-1024, got {self.batch_size}")
        if self.optimizer not in get_args(OptimizerName):
            raise SwapConfigError(f"optimizer must be adamw or adabelief, got {self.optimizer!r}")
        if self.schedule not in get_args(ScheduleName):
            raise SwapConfigError(f"schedule must be constant or cosine, got {self.schedule!r}")
        if self.ct_mode not in get_args(ColorTransfer):
            raise SwapConfigError(f"ct_mode must be one of {', '.join(get_args(ColorTransfer))}, got {self.ct_mode!r}")
        from engine.swap.options import OPTION_NAMES, coerce

        for name in OPTION_NAMES:  # range checks of the SAEHD options (one description, in options.py)
            if name != "random_flip" and coerce(name, getattr(self, name)) != getattr(self, name):
                raise SwapConfigError(f"{name}: bad value {getattr(self, name)!r}")
        if not 0.0 < self.lr <= 1e-2:
            raise SwapConfigError(f"lr must be in (0, 0.01], got {self.lr}")
        checks = {"weight_decay": (0.0, 1.0), "min_lr_ratio": (0.0, 1.0), "clip_grad": (0.0, 1e6),
                  "flip_src": (0.0, 1.0), "flip_dst": (0.0, 1.0), "rotation_deg": (0.0, 45.0),
                  "shift": (0.0, 0.25), "hsv_power": (0.0, 0.3)}
        for name, (lo, hi) in checks.items():
            if not lo <= getattr(self, name) <= hi:
                raise SwapConfigError(f"{name} must be {lo}-{hi}, got {getattr(self, name)}")
        if not 0.5 <= self.scale_min <= 1.0 <= self.scale_max <= 2.0:
            raise SwapConfigError(f"scale range must satisfy 0.5 <= min <= 1 <= max <= 2, "
                                  f"got {self.scale_min}-{self.scale_max}")
        if self.warmup < 0:
            raise SwapConfigError(f"warmup must be >= 0, got {self.warmup}")
        if not 2 <= self.yaw_bins <= 256:
            raise SwapConfigError(f"yaw_bins must be 2-256, got {self.yaw_bins}")

    def effective(self) -> TrainConfig:
        """The settings actually used: pretraining forces DeepFaceLab's pretrain options
        (no random warp, both flips, no colour jitter or transfer, uniform yaw, no GAN,
        no style powers, no LR dropout)."""
        if not self.pretrain:
            return self
        return dataclasses.replace(self, random_warp=False, flip_src=0.4, flip_dst=0.4, hsv_power=0.0,
                                   ct_mode="none", uniform_yaw=True, gan_power=0.0, true_face_power=0.0,
                                   face_style_power=0.0, bg_style_power=0.0, lr_dropout="n")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        return cls().updated(data)

    def updated(self, overrides: dict[str, Any]) -> TrainConfig:
        """A copy with ``overrides`` applied (``loss`` may be a partial dict); unknown
        names are refused with the list of known ones."""
        from engine.swap.options import ALIASES, expand

        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names - set(ALIASES))
        if unknown:
            raise SwapConfigError(f"unknown training setting(s) {', '.join(unknown)} "
                                  f"(known: {', '.join(sorted(names))})")
        values = expand(dict(overrides))
        if "loss" in values and not isinstance(values["loss"], LossWeights):
            loss = values["loss"] or {}
            bad = sorted(set(loss) - {f.name for f in dataclasses.fields(LossWeights)})
            if bad:
                raise SwapConfigError(f"unknown loss weight(s) {', '.join(bad)} (known: dssim, mse, eyes_mouth, mask)")
            values["loss"] = dataclasses.replace(self.loss, **{k: float(v) for k, v in loss.items()})
        try:
            return dataclasses.replace(self, **values)
        except TypeError as exc:
            raise SwapConfigError(str(exc)) from None


@dataclass(frozen=True)
class Preset:
    """A named starting point: a model shape plus training defaults."""

    name: str
    description: str
    model: ModelConfig
    train: TrainConfig


PRESETS: Final[dict[str, Preset]] = {
    p.name: p
    for p in (
        Preset(
            "fast-64",
            "tiny df-ud at 64 px: trains visibly in minutes on a CPU (tests, smoke runs)",
            ModelConfig("df", "ud", 64, "full", ae_dims=64, e_dims=16, d_dims=16, d_mask_dims=8),
            TrainConfig(batch_size=8, optimizer="adamw", lr=4e-4, warmup=20, clip_grad=1.0),
        ),
        Preset(
            "dfl-128",
            "DeepFaceLab SAEHD defaults: liae-ud, 128 px full face, ae 256, e 64, d 64, mask 22",
            ModelConfig("liae", "ud", 128, "full", 256, 64, 64, 22),
            TrainConfig(),
        ),
        Preset(
            "dfl-256",
            "SAEHD defaults at 256 px whole face (the common high-quality setting)",
            ModelConfig("liae", "ud", 256, "whole", 256, 64, 64, 22),
            TrainConfig(),
        ),
        Preset(
            "df-128",
            "df-ud at 128 px full face: better identity, needs similar src/dst lighting",
            ModelConfig("df", "ud", 128, "full", 256, 64, 64, 22),
            TrainConfig(),
        ),
        Preset(
            "liae-udt-224",
            "DeepFaceLive's recipe: liae-udt, 224 px whole face, ae 512, mask 32",
            ModelConfig("liae", "udt", 224, "whole", 512, 64, 64, 32),
            TrainConfig(uniform_yaw=True),
        ),
    )
}
DEFAULT_PRESET: Final = "dfl-128"


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise SwapConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})") from None
