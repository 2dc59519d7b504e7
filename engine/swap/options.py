"""DeepFaceLab's SAEHD option set, under DeepFaceLab's own names.

DeepFaceLab users tune these every day and know them by name (``REFERENCE.md`` Part C
1.1); ``facesmith train --set NAME=VALUE`` and the train dialog's SAEHD tab take them as
they are. They live on :class:`~engine.swap.config.TrainConfig` (so they are written
into every checkpoint's ``train_config`` and the model row, and shown in the model
list); this module is their single description: range, default, help text (the dialog's
tooltip), how a command-line value is read, and which of them need which model.

Two names are aliases rather than fields: ``random_flip`` (DeepFaceLab's old single
flip switch) sets both flip probabilities. :data:`SIZE_PRESETS` are resolution and batch
pairs for the usual GPU sizes (``facesmith train --size-preset``, the dialog's combo).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from engine.swap.config import ModelConfig, TrainConfig

#: Colour-transfer modes of training (src towards a random dst face), as DeepFaceLab names them.
CT_MODES: Final = ("none", "rct", "lct", "mkl", "idt", "sot")
#: lr_dropout: ``n`` off, ``y`` on (mask drawn on the device), ``cpu`` (mask drawn on the CPU).
LR_DROPOUT_MODES: Final = ("n", "y", "cpu")
#: DeepFaceLab flips with probability 0.4 when a flip option is on.
FLIP_PROBABILITY: Final = 0.4


def _error(message: str) -> Exception:
    """A :class:`~engine.swap.config.SwapConfigError` (imported late: config imports this
    module while it builds its presets)."""
    from engine.swap.config import SwapConfigError

    return SwapConfigError(message)


@dataclass(frozen=True)
class OptionSpec:
    """One SAEHD option: ``kind`` is float, int, bool or choice."""

    name: str
    label: str
    kind: str
    default: Any
    help: str
    lo: float = 0.0
    hi: float = 1.0
    choices: tuple[str, ...] = ()
    df_only: bool = False


_O = OptionSpec
OPTIONS: Final[tuple[OptionSpec, ...]] = (
    _O("gan_power", "GAN power", "float", 0.0,
       "Weight of a patch discriminator that judges the src reconstructions: sharper skin, pores and hair at the "
       "price of some artefacts. Turn it on late (0.1 is a common start), once the faces are already good", 0.0, 5.0),
    _O("gan_patch_size", "GAN patch size", "int", 0,
       "Size in pixels of the patches the discriminator judges (0: a eighth of the resolution, DeepFaceLab's "
       "default)", 0, 640),
    _O("gan_dims", "GAN dims", "int", 16, "Base channel count of the GAN discriminator", 4, 512),
    _O("true_face_power", "True face power", "float", 0.0,
       "DF models only: a discriminator on the inter code pushes src codes to look like dst codes, so the swapped "
       "face looks more like src. 0.01 is a common value", 0.0, 1.0, df_only=True),
    _O("face_style_power", "Face style power", "float", 0.0,
       "Match the colour statistics of the swapped face to the dst face inside the mask. Start at 0.001-0.1; high "
       "values make the swap look like dst", 0.0, 100.0),
    _O("bg_style_power", "Background style power", "float", 0.0,
       "Teach the swapped face's surroundings to match dst's background (outside the mask): better blending, less "
       "src likeness", 0.0, 100.0),
    _O("lr_dropout", "LR dropout", "choice", "n",
       "Each step updates a random 30 % of every weight tensor, with a cycling learning rate: finer detail late in "
       "training. y: the mask is drawn on the training device, cpu: on the CPU (slower). Use it after the loss "
       "has settled", choices=LR_DROPOUT_MODES),
    _O("random_blur", "Random blur", "bool", False,
       "Blur a quarter of the input faces (on the device): the model learns to restore sharp faces from soft "
       "footage"),
    _O("random_jpeg", "Random JPEG", "bool", False,
       "Compress a quarter of the input faces as JPEG (8x8 DCT quantisation on the device): robustness to "
       "compressed footage"),
    _O("random_downsample", "Random downsample", "bool", False,
       "Shrink a quarter of the input faces and scale them back up: robustness to low-resolution footage"),
    _O("ct_mode", "Colour transfer", "choice", "none",
       "Shift src faces towards a random dst face's colours while training, so the swap takes dst's lighting. "
       "rct: mean and spread in Lab; lct: linear (covariance); mkl: Monge-Kantorovich linear map; idt: iterative "
       "distribution transfer; sot: sliced optimal transport", choices=CT_MODES),
    _O("random_flip", "Random flip", "bool", False,
       "Mirror src and dst faces (each with probability 0.4): sets both flip probabilities"),
    _O("uniform_yaw", "Uniform yaw", "bool", False,
       "Sample faces evenly over head turn, so rare profile views are seen as often as frontal ones"),
    _O("eyes_mouth_prio", "Eyes and mouth priority", "bool", False,
       "Weigh errors around the eyes and mouth far more: sharper eyes, teeth and gaze direction"),
    _O("masked_training", "Masked training", "bool", True,
       "Compute the loss inside the face mask only, so the model spends nothing on backgrounds it never pastes"),
)
OPTION_NAMES: Final = tuple(o.name for o in OPTIONS)
#: Names that are not TrainConfig fields but set some (see the module docstring).
ALIASES: Final = ("random_flip",)


@dataclass(frozen=True)
class SizePreset:
    """A resolution and batch size that fit a device of ``vram_gb`` with liae-ud's default widths."""

    name: str
    resolution: int
    batch_size: int
    vram_gb: int
    description: str


SIZE_PRESETS: Final[dict[str, SizePreset]] = {p.name: p for p in (
    SizePreset("4gb", 128, 4, 4, "128 px, batch 4: a 4 GB GPU"),
    SizePreset("8gb", 192, 8, 8, "192 px, batch 8: an 8 GB GPU"),
    SizePreset("12gb", 256, 8, 12, "256 px, batch 8: a 12 GB GPU"),
    SizePreset("24gb", 320, 12, 24, "320 px, batch 12: a 24 GB GPU"),
    SizePreset("80gb", 448, 16, 80, "448 px, batch 16: an 80 GB data-centre GPU"),
)}


def option(name: str) -> OptionSpec:
    for o in OPTIONS:
        if o.name == name:
            return o
    raise _error(f"unknown SAEHD option {name!r} (known: {', '.join(OPTION_NAMES)})")


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("y", "yes", "true", "on", "1"):
        return True
    if text in ("n", "no", "false", "off", "0"):
        return False
    raise _error(f"{name} must be true or false (y/n), got {value!r}")


def coerce(name: str, value: Any) -> Any:
    """A command-line or JSON value of option ``name`` in its proper type, range-checked."""
    o = option(name)
    if o.kind == "bool":
        return _bool(name, value)
    if o.kind == "choice":
        if name == "lr_dropout" and isinstance(value, bool):
            return "y" if value else "n"
        text = str(value).strip().lower()
        if name == "lr_dropout" and text in ("true", "false", "yes", "no"):
            text = "y" if text in ("true", "yes") else "n"
        if text not in o.choices:
            raise _error(f"{name} must be one of {', '.join(o.choices)}, got {value!r}")
        return text
    try:
        number = float(value) if o.kind == "float" else int(value)
    except (TypeError, ValueError):
        raise _error(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, float) and o.kind == "int" and value != int(value):
        raise _error(f"{name} must be a whole number, got {value!r}")
    if not o.lo <= number <= o.hi:
        raise _error(f"{name} must be {o.lo:g}-{o.hi:g}, got {value!r}")
    return number


def expand(overrides: dict[str, Any]) -> dict[str, Any]:
    """Apply aliases and coerce the SAEHD options among ``overrides`` (others pass through)."""
    out = dict(overrides)
    if "random_flip" in out:
        on = _bool("random_flip", out.pop("random_flip"))
        out.setdefault("flip_src", FLIP_PROBABILITY if on else 0.0)
        out.setdefault("flip_dst", FLIP_PROBABILITY if on else 0.0)
    for name in OPTION_NAMES:
        if name in out and name != "random_flip":
            out[name] = coerce(name, out[name])
    return out


def check_for_model(model: ModelConfig, train: TrainConfig) -> None:
    """Refuse options the model cannot use (true face power needs a DF model)."""
    if train.true_face_power > 0 and model.arch != "df":
        raise _error(f"true_face_power needs a df model (its code discriminator works on the single inter "
                              f"code); this model is {model.arch_string}. Set true_face_power=0")


def summary(train: TrainConfig) -> str:
    """The options that differ from DeepFaceLab's defaults, as ``name=value`` (model list, logs)."""
    parts = []
    for o in OPTIONS:
        if o.name == "random_flip":
            continue
        value = getattr(train, o.name)
        if value != o.default:
            parts.append(f"{o.name}={'y' if value is True else 'n' if value is False else value}")
    from engine.swap.config import TrainConfig

    base = TrainConfig()
    if (train.flip_src, train.flip_dst) != (base.flip_src, base.flip_dst):
        parts.append(f"flip src {train.flip_src:g}/dst {train.flip_dst:g}")
    return ", ".join(parts)


def size_preset(name: str) -> SizePreset:
    try:
        return SIZE_PRESETS[name]
    except KeyError:
        raise _error(f"unknown size preset {name!r} (known: {', '.join(SIZE_PRESETS)})") from None
