"""The Train dialog's building blocks, free of the dialog itself: the table of trainer
options (:class:`FieldSpec`, :data:`TRAIN_TABS`) and its input widgets, device choices and
the GPU probe, the plain inputs the workspace hands the dialog (:class:`TrainInputs`), and the
equivalent ``facesmith train`` command line (:func:`command_line`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QSpinBox,
    QWidget,
)

from engine.errors import FacesmithError
from engine.project.models import Model
from engine.swap.config import ModelConfig, TrainConfig
from engine.swap.request import TrainRequest
from widgets.qt_utils import signals_blocked

# ======================================================================== field table
@dataclass(frozen=True)
class FieldSpec:
    """One input: ``name`` is a TrainConfig field, ``loss.<weight>``, or a job option.

    ``kind`` is int, float, sci (a float shown as 5e-05), bool or choice.
    """

    name: str
    label: str
    tip: str
    kind: str
    lo: float = 0.0
    hi: float = 1.0
    step: float = 1.0
    decimals: int = 2
    choices: tuple[tuple[str, Any], ...] = ()
    special: str = ""  # spin boxes: the text shown at the minimum (e.g. "auto")


class SciSpinBox(QDoubleSpinBox):
    """A double spin box that reads and writes ``5e-05`` (learning rates)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:  # noqa: D102 - Qt override
        try:
            v = float(text)
        except ValueError:
            return (QValidator.State.Intermediate, text, pos)
        ok = self.minimum() <= v <= self.maximum() and math.isfinite(v)
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate, text, pos)


def make_input(spec: FieldSpec) -> QWidget:
    """The widget for ``spec`` (its tooltip set); read and write it with the functions below."""
    w: QWidget
    if spec.kind == "bool":
        w = QCheckBox()
    elif spec.kind == "choice":
        w = QComboBox()
        for text, value in spec.choices:
            w.addItem(text, value)
    elif spec.kind == "int":
        w = QSpinBox()
        w.setRange(int(spec.lo), int(spec.hi))
        w.setSingleStep(int(spec.step))
        w.setAccelerated(True)
        w.setGroupSeparatorShown(spec.hi >= 100_000)
    elif spec.kind == "sci":
        w = SciSpinBox()
        w.setRange(spec.lo, spec.hi)
    else:
        w = QDoubleSpinBox()
        w.setRange(spec.lo, spec.hi)
        w.setDecimals(spec.decimals)
        w.setSingleStep(spec.step)
    if spec.special and isinstance(w, (QSpinBox, QDoubleSpinBox)):
        w.setSpecialValueText(spec.special)
    w.setToolTip(spec.tip)
    w.setObjectName(f"field_{spec.name}")
    return w


def read_input(w: QWidget) -> Any:
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QComboBox):
        return w.currentData()
    if isinstance(w, QSpinBox):
        return w.value()
    if isinstance(w, QDoubleSpinBox):
        return float(w.value())
    raise TypeError(type(w).__name__)


def write_input(w: QWidget, value: Any) -> None:
    with signals_blocked(w):
        if isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QComboBox):
            w.setCurrentIndex(max(w.findData(value), 0))
        elif isinstance(w, QSpinBox):
            w.setValue(int(value))
        elif isinstance(w, QDoubleSpinBox):
            w.setValue(float(value))


def changed_signal(w: QWidget) -> Any:
    if isinstance(w, QCheckBox):
        return w.toggled
    if isinstance(w, QComboBox):
        return w.currentIndexChanged
    return w.valueChanged  # type: ignore[attr-defined]


def same(a: Any, b: Any) -> bool:
    """Equal, with floats compared as the spin boxes round them."""
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return a == b


_F = FieldSpec
#: TrainConfig options and job options by tab: (tab title, fields).
TRAIN_TABS: Final[tuple[tuple[str, tuple[FieldSpec, ...]], ...]] = (
    ("&Optimiser", (
        _F("optimizer", "Optimiser", "AdaBelief (DeepFaceLab's choice: steadier steps when gradients are noisy) "
           "or AdamW (the common default; a little faster per step)", "choice",
           choices=(("AdaBelief", "adabelief"), ("AdamW", "adamw"))),
        _F("lr", "Learning rate", "Step size of the optimiser. Too high and the loss jumps or collapses (the "
           "collapse guard then rolls back and halves it); too low and training crawls", "sci", 1e-7, 1e-2),
        _F("warmup", "Warm-up iterations", "The learning rate rises linearly from zero over these first iterations, "
           "so a fresh model's first big gradients cannot wreck it", "int", 0, 1_000_000, 50),
        _F("schedule", "Schedule", "constant: the same rate after warm-up. cosine: decays to the minimum ratio at the "
           "target iteration (needs a target), for a finer finish", "choice",
           choices=(("constant", "constant"), ("cosine", "cosine"))),
        _F("min_lr_ratio", "Minimum rate ratio", "With the cosine schedule: the final rate as a fraction of the "
           "learning rate", "float", 0.0, 1.0, 0.05, 3),
        _F("clip_grad", "Gradient clipping", "Largest allowed gradient norm per step (0: off). Keeps a bad batch "
           "from throwing the weights far off", "float", 0.0, 1e6, 0.5, 2),
        _F("weight_decay", "Weight decay", "Pulls weights towards zero each step (regularisation); usually 0 for "
           "face models", "float", 0.0, 1.0, 0.001, 4),
    )),
    ("&Loss", (
        _F("masked_training", "Masked training", "Compute the loss inside the face mask only, so the model spends "
           "nothing on backgrounds and hair it will never paste", "bool"),
        _F("eyes_mouth_prio", "Eyes and mouth priority", "Weigh errors around the eyes and mouth far more (the "
           "'eyes & mouth' weight): sharper eyes, teeth and gaze direction", "bool"),
        _F("loss.dssim", "DSSIM weight", "Structural similarity (two scales): rewards matching shapes and texture "
           "more than exact colours", "float", 0.0, 10_000.0, 1.0, 2),
        _F("loss.mse", "MSE weight", "Pixel error: rewards exact colours and brightness", "float",
           0.0, 10_000.0, 1.0, 2),
        _F("loss.eyes_mouth", "Eyes & mouth weight", "Extra weight of the eye and mouth regions when their priority "
           "is on", "float", 0.0, 10_000.0, 10.0, 1),
        _F("loss.mask", "Mask weight", "Weight of the learned mask's error (the mask the merge uses when no XSeg "
           "mask exists)", "float", 0.0, 10_000.0, 1.0, 2),
    )),
    ("&Augmentation", (
        _F("random_warp", "Random warp", "Warp the input faces randomly so the model learns faces, not pixels. "
           "Turn it off only late in training, to sharpen details", "bool"),
        _F("flip_src", "Flip src", "Probability of mirroring a src face. Helps when src lacks one side's poses, "
           "but faces are not symmetric: moles and partings swap sides", "float", 0.0, 1.0, 0.1, 2),
        _F("flip_dst", "Flip dst", "Probability of mirroring a dst face", "float", 0.0, 1.0, 0.1, 2),
        _F("rotation_deg", "Rotation (°)", "Largest random rotation of the training faces", "float",
           0.0, 45.0, 1.0, 1),
        _F("scale_min", "Scale min", "Smallest random zoom", "float", 0.5, 1.0, 0.01, 3),
        _F("scale_max", "Scale max", "Largest random zoom", "float", 1.0, 2.0, 0.01, 3),
        _F("shift", "Shift", "Largest random shift, as a fraction of the crop", "float", 0.0, 0.25, 0.01, 3),
        _F("hsv_power", "Colour jitter", "Random hue/saturation/value changes of the src input (DeepFaceLab's "
           "random_hsv_power): the model learns not to copy src's colours", "float", 0.0, 0.3, 0.05, 2),
        _F("ct_mode", "Colour transfer", "Shift src faces towards a random dst face's colours while training, so "
           "the swap takes dst's lighting. rct: mean and spread in Lab; lct: linear (covariance); mkl: "
           "Monge-Kantorovich linear map; idt: iterative distribution transfer; sot: sliced optimal transport "
           "(DeepFaceLab option ct_mode)", "choice",
           choices=tuple((m, m) for m in ("none", "rct", "lct", "mkl", "idt", "sot"))),
        _F("uniform_yaw", "Uniform yaw", "Sample faces evenly over head turn, so rare profile views are seen as "
           "often as frontal ones", "bool"),
        _F("yaw_bins", "Yaw bins", "Number of head-turn bins for uniform yaw sampling", "int", 2, 256, 2),
    )),
    ("&Saving", (
        _F("checkpoint_minutes", "Checkpoint every (min)", "Minutes between checkpoints. A checkpoint is also "
           "written on pause, stop and at the target", "float", 0.01, 1440.0, 1.0, 2),
        _F("keep_backups", "Backups kept", "The previous checkpoints kept whole (restorable with their "
           "optimiser state)", "int", 0, 1000, 1),
        _F("keep_hourly", "Hourly backups", "Older checkpoints kept one per hour (weights, and a GAN's discriminator state)", "int", 0, 10_000, 1),
        _F("preview_every", "Preview every", "Iterations between preview images (0: none)", "int",
           0, 1_000_000, 50, special="never"),
        _F("metric_every", "Metrics every", "Iterations averaged into one point of the loss curves", "int",
           1, 100_000, 1),
        _F("seed", "Seed", "Seed of the initial weights and the batch order (auto: the model id); the same seed "
           "gives the same run", "int", -1, 2**31 - 1, 1, special="auto"),
        _F("compile", "torch.compile", "Compile the network on CUDA (faster steps after a minute of compiling; "
           "ignored on the CPU)", "bool"),
    )),
)
#: Job options in the Saving tab (TrainRequest fields, not TrainConfig ones).
JOB_FIELDS: Final = frozenset({"checkpoint_minutes", "keep_backups", "keep_hourly", "preview_every", "metric_every",
                               "seed", "compile"})
#: TrainConfig fields with their own TrainRequest field (and ``facesmith train`` option).
TOP_LEVEL_TRAIN: Final = ("batch_size", "lr", "optimizer", "pretrain")

#: Model-shape inputs.
ARCH = _F("arch", "&Architecture", "df: one decoder per identity: the most faithful src likeness, needs src and "
          "dst of similar lighting. liae: a shared decoder with two inter layers: better at taking on dst's "
          "lighting and pose", "choice", choices=(("LIAE", "liae"), ("DF", "df")))
OPTION_TIPS: Final = {
    "u": "u: pixel-normalise the encoder's output (steadier training, slightly better likeness)",
    "d": "d: the decoder ends at half resolution and a depth-to-space layer doubles it: about the same cost for "
         "twice the pixels (resolution must be a multiple of 32)",
    "t": "t: a deeper encoder (five stages, residual blocks) and decoder: more detail and likeness, slower",
}
RESOLUTION = _F("resolution", "&Resolution", "Side of the face crops the model sees and produces, 64-512 px (a "
                "multiple of 16, or of 32 with d or t). Sharper results cost time and memory", "int", 64, 512, 16)
FACE_TYPE = _F("face_type", "&Face type", "How much of the head a crop frames: half (eyes to mouth), mid-full, "
               "full (brows to chin), whole (with forehead: needed for most merges), head", "choice",
               choices=(("half", "half"), ("mid-full", "mid_full"), ("full", "full"), ("whole", "whole"),
                        ("head", "head")))
DIMS = (
    _F("ae_dims", "AE dims", "Width of the bottleneck: how much of a face the model can hold. More gives more "
       "detail and likeness and costs time", "int", 16, 1024, 16),
    _F("e_dims", "Encoder dims", "Base channels of the encoder (even)", "int", 8, 256, 2),
    _F("d_dims", "Decoder dims", "Base channels of the decoder (even): more gives finer detail", "int", 8, 256, 2),
    _F("d_mask_dims", "Mask dims", "Base channels of the mask decoder (even; auto: a third of the decoder's)",
       "int", 0, 256, 2, special="auto"),
)
ITERATIONS = _F("iterations", "&Target iteration", "Training stops at this iteration (0: until you stop it). For a "
                "continued model this is the total, not the number of further iterations", "int",
                0, 100_000_000, 1000, special="until stopped")
BATCH = _F("batch_size", "&Batch size", "Faces per identity per step, over all devices together. Bigger batches "
           "give steadier gradients and need more memory and time per step", "int", 1, 1024, 1)


# ======================================================================== plain inputs
@dataclass(frozen=True)
class DeviceChoice:
    """One entry of the device list: ``device`` and ``devices`` as the job takes them."""

    label: str
    device: str | None = None
    devices: int = 1
    tip: str = ""


AUTO_DEVICE: Final = DeviceChoice("Auto (first GPU, else CPU)", None, 1,
                                  "The engine trains on the first GPU torch sees there, else on the CPU")
CPU_DEVICE: Final = DeviceChoice("CPU", "cpu", 1, "Train on the processor: slow, but always there")


def device_choices(gpus: Sequence[str]) -> tuple[DeviceChoice, ...]:
    """Auto, CPU, each GPU (``cuda:N``) and, with several GPUs, the first 2..N together (DDP)."""
    out = [AUTO_DEVICE, CPU_DEVICE]
    out += [DeviceChoice(f"GPU {i}: {name}", f"cuda:{i}", 1, f"Train on cuda:{i} only") for i, name in enumerate(gpus)]
    for n in range(2, len(gpus) + 1):
        label = f"All {n} GPUs (DDP)" if n == len(gpus) else f"GPUs 0–{n - 1} ({n}, DDP)"
        out.append(DeviceChoice(label, None, n, f"Train on cuda:0..{n - 1} together with DistributedDataParallel "
                                                "(torchrun); the batch is split over them"))
    return tuple(out)


def probe_gpus(timeout_s: float = 3.0) -> list[str]:
    """Names of the GPUs the engine's torch will see, without importing torch here.

    torch is what the engine uses, but importing it costs the editor a second and
    hundreds of MB; ``nvidia-smi`` answers in a fraction of that. ``CUDA_VISIBLE_DEVICES``
    (indices or UUIDs, as CUDA reads it) is applied so ``cuda:N`` means what it will
    mean in the engine, which inherits the editor's environment. When the editor has
    imported torch anyway, torch is asked directly.
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        except Exception:  # noqa: BLE001 - no usable CUDA is "no GPUs", never an error
            return []
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=timeout_s, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 4 and parts[0].isdigit():
            mem = f" ({float(parts[3]) / 1024:.0f} GB)" if parts[3].replace(".", "", 1).isdigit() else ""
            gpus.append((parts[0], parts[1], parts[2] + mem))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return [name for _, _, name in gpus]
    chosen = []
    for token in (t.strip() for t in visible.split(",")):
        match = [g for g in gpus if token == g[0] or (token.startswith("GPU-") and g[1].startswith(token))]
        if not token or not match:
            break  # CUDA stops at the first entry it cannot use
        chosen.append(match[0][2])
    return chosen


@dataclass(frozen=True)
class ModelChoice:
    """A swap model that can be continued: its shape and last training settings."""

    id: int
    name: str
    model: ModelConfig
    train: TrainConfig
    iteration: int
    preset: str | None = None

    @property
    def label(self) -> str:
        m = self.model
        from engine.swap.options import summary

        opts = summary(self.train)
        return (f"#{self.id} {self.name} · {m.arch_string} {m.resolution} px {m.face_type.replace('_', '-')} · "
                f"iteration {self.iteration:,}" + (f" · {opts}" if opts else ""))

    @classmethod
    def from_model(cls, row: Model) -> ModelChoice | None:
        """From a ``models`` row; None when its config cannot be read (it cannot be continued)."""
        try:
            cfg = row.config or {}
            return cls(row.id, row.name, ModelConfig.from_json(cfg["model"]), TrainConfig.from_json(cfg.get("train", {})),
                       row.iteration, cfg.get("preset"))
        except (KeyError, TypeError, ValueError, FacesmithError):
            return None


@dataclass(frozen=True, eq=False)
class FaceColumns:
    """The project's faces as the dialog needs them (numpy columns of equal length)."""

    ids: np.ndarray
    role: np.ndarray  # 0 src, 1 dst
    person: np.ndarray  # -1: none
    excluded: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    clip: np.ndarray | None = None  # clip ids (None: unknown, no clip filter possible)

    @classmethod
    def from_columns(cls, cols: Mapping[str, np.ndarray]) -> FaceColumns:
        """From :meth:`ProjectStore.face_columns`."""
        return cls(cols["id"], cols["role"], cols["person_id"], cols["excluded"], cols["yaw"], cols["pitch"],
                   cols.get("clip_id"))

    @classmethod
    def empty(cls) -> FaceColumns:
        z = np.empty(0)
        return cls(z.astype(np.int64), z.astype(np.int8), z.astype(np.int64), z.astype(bool), z, z)

    def training(self, role: int | None, person: int | None, clips: Sequence[int] | None = None) -> np.ndarray:
        """Bool mask of the faces that train for ``role`` (None: any), ``person`` (None: any)
        and, when given, of the clips ``clips`` (ids)."""
        keep = ~self.excluded
        if role is not None:
            keep &= self.role == role
        if person is not None:
            keep &= self.person == person
        if clips is not None and self.clip is not None:
            keep &= np.isin(self.clip, np.asarray(list(clips), dtype=np.int64))
        return keep


@dataclass(frozen=True, eq=False)
class TrainInputs:
    """What the dialog offers: plain values the workspace reads from the project."""

    project: Path
    models: tuple[ModelChoice, ...] = ()
    persons: tuple[tuple[int, str], ...] = ()
    faces: FaceColumns = dataclasses.field(default_factory=FaceColumns.empty)
    devices: tuple[DeviceChoice, ...] = (AUTO_DEVICE, CPU_DEVICE)
    #: ``(id, name, role)`` of every clip, for the dialog's clip choice
    clips: tuple[tuple[int, str, str], ...] = ()
    #: person id -> the crop file of their best face (engine.project.person_thumbs), for the person lists.
    person_pictures: dict[int, Path] = dataclasses.field(default_factory=dict)
    #: the persons flagged uncertain (docs/CONTEXT.md): listed last, marked "?"
    uncertain_persons: frozenset[int] = frozenset()


# ======================================================================== command line
_TRAIN_FLAGS: Final = {
    "preset": "--preset", "arch": "--arch", "resolution": "--resolution", "face_type": "--face-type",
    "iterations": "--iterations", "model": "--model", "batch_size": "--batch-size", "lr": "--lr",
    "optimizer": "--optimizer", "name": "--name", "device": "--device", "seed": "--seed",
    "preview_every": "--preview-every", "devices": "--devices",
    "src_person": "--src-person", "dst_person": "--dst-person", "pretrain_faces": "--pretrain-faces",
    "from_pretrained": "--from-pretrained", "face_cache_mb": "--face-cache-mb",
}
#: list parameters, one flag per item
_TRAIN_REPEATED: Final = {"src_persons": "--src-person", "dst_persons": "--dst-person", "clips": "--clip"}
_TRAIN_SPECIAL: Final = frozenset({"pretrain", "checkpoint_every_s", "train", "keep_decoders", *_TRAIN_REPEATED})


@dataclass(frozen=True)
class CommandLine:
    """The command that queues and runs the same job elsewhere (a GPU server).

    ``unsupported`` names the parameters ``facesmith train`` has no option for; when
    there are any, the command is ``facesmith run … train_swap -p name=value …``, which
    runs the identical job.
    """

    argv: tuple[str, ...]
    unsupported: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return shlex.join(self.argv)


def _cli_value(value: Any) -> str:
    """A value as ``--set``/``-p`` read it back (JSON, except plain words)."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value  # read back as this same string
    return json.dumps(value, separators=(",", ":"))


def _flag_value(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def command_line(project: str | Path, params: Mapping[str, Any], *, program: str = "facesmith") -> CommandLine:
    """The ``facesmith train`` command for ``params`` (see :class:`CommandLine`)."""
    unsupported = tuple(k for k in params if k not in _TRAIN_FLAGS and k not in _TRAIN_SPECIAL)
    if unsupported:
        argv = [program, "run", str(project), "train_swap"]
        for key, value in params.items():
            argv += ["-p", f"{key}={_cli_value(value)}"]
        return CommandLine(tuple(argv), unsupported)
    argv = [program, "train", str(project)]
    for key, value in params.items():
        if key in _TRAIN_FLAGS:
            argv += [_TRAIN_FLAGS[key], _flag_value(value)]
        elif key == "pretrain":
            argv.append("--pretrain" if value else "--no-pretrain")
        elif key in _TRAIN_REPEATED:
            for v in value:
                argv += [_TRAIN_REPEATED[key], str(v)]
        elif key == "keep_decoders" and value:
            argv.append("--keep-decoders")
        elif key == "checkpoint_every_s":
            argv += ["--checkpoint-minutes", repr(float(value) / 60.0)]
        elif key == "train":
            for name, v in value.items():
                argv += ["--set", f"{name}={_cli_value(v)}"]
    return CommandLine(tuple(argv))


# ======================================================================== the dialog
_REQUEST_DEFAULTS: Final = {f.name: f.default for f in dataclasses.fields(TrainRequest)}
_SHAPE_KEYS: Final = ("resolution", "face_type", "ae_dims", "e_dims", "d_dims", "d_mask_dims")
_WARNING_STYLE: Final = "color: #e0b040;"
_ERROR_STYLE: Final = "color: #ff6060;"
DEFAULT_TARGET: Final = 100_000
#: What the last job's parameters lend to a dialog opened on another model.
_KEPT_FOR_ANOTHER_MODEL: Final = frozenset({"device", "devices", "src_person", "dst_person", "src_persons",
                                            "dst_persons", "clips", "checkpoint_every_s",
                                            "keep_backups", "keep_hourly", "preview_every", "metric_every"})
