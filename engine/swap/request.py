"""What a user asks of a training run (the ``train_swap`` job's parameters), and how it
becomes a model shape and training settings.

Every field is optional: ``None`` means "the preset's value" for a new model and "what
the model was trained with" for a continued one. A continued model's *shape* can never
change: a request that names another resolution, face type, architecture or width than
the model has is refused with a message saying what the model is (:func:`check_model`),
because silently training something else than asked is worse than stopping.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from engine.swap.config import (
    DEFAULT_PRESET,
    ModelConfig,
    SwapConfigError,
    TrainConfig,
    get_preset,
    parse_arch,
)

#: DeepFaceLab's short and long face-type names, accepted on the command line.
_FACE_TYPE_NAMES = {"h": "half", "mf": "mid_full", "f": "full", "wf": "whole", "half_face": "half",
                    "midfull_face": "mid_full", "full_face": "full", "whole_face": "whole"}
_SHAPE_FIELDS = ("resolution", "face_type", "ae_dims", "e_dims", "d_dims", "d_mask_dims")


@dataclass(frozen=True)
class TrainRequest:
    """Parameters of a ``train_swap`` job.

    Attributes
    ----------
    preset : a name from :data:`engine.swap.config.PRESETS` (default ``dfl-128``).
    arch : ``df``/``liae`` with options, e.g. ``liae-ud``.
    model : continue this model (its id); None starts a new one.
    iterations : stop at this iteration (0 = train until stopped).
    devices : >1 trains with DDP over that many devices (launched through torchrun).
    device : ``cpu``, ``cuda`` or ``cuda:N``; default CUDA when available.
    checkpoint_every_s : seconds between checkpoints (also saved on pause/cancel/stop).
    preview_every, metric_every : iterations between preview images / metric rows.
    keep_backups, keep_hourly : backup rotation (last N, plus one per hour).
    train : further :class:`TrainConfig` settings, e.g. ``{"ct_mode": "rct", "loss": {"mse": 5}}``.
    face_cache_mb : device memory for the face set (0: what is free minus the model's
        needs); a larger set stays on disk (:mod:`engine.swap.facestore`).
    pretrain_faces : pretrain on this folder of aligned face images instead of the
        project's faces.
    from_pretrained : start a new model from the pretrained model in this folder (a model
        folder of any project): encoder and inter kept, decoders reset unless
        ``keep_decoders`` (:mod:`engine.swap.pretrained`); its shape is the source's.
    fault_nan_at : testing aid: make this iteration's loss NaN once.
    preview_every_s : seconds between previews besides ``preview_every`` iterations (and one
        at the start); None: 60 on a CPU, 30 on a GPU; 0: by iterations only.
    fault_inf_grad_at : testing aid: make this iteration's gradients infinite once.
    nnodes, node_rank, rdzv_endpoint, rdzv_id : training on several machines: ``nnodes``
        machines of ``devices`` ranks each; this one is ``node_rank`` (0 owns the job and
        writes the model), all meet at ``rdzv_endpoint`` (``HOST:PORT`` of node 0) under
        ``rdzv_id`` (:mod:`engine.swap.ddp`).
    prefetch : prepare the next step's batches on a thread while a step runs (default).
    fault_prep_at : testing aid: make the preparation of this iteration's batches raise once.
    """

    preset: str | None = None
    arch: str | None = None
    resolution: int | None = None
    face_type: str | None = None
    ae_dims: int | None = None
    e_dims: int | None = None
    d_dims: int | None = None
    d_mask_dims: int | None = None
    model: int | None = None
    name: str | None = None
    iterations: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    pretrain: bool | None = None
    src_person: int | None = None
    dst_person: int | None = None
    #: more persons of each side (with ``src_person``/``dst_person``: all of them train)
    src_persons: list[int] = field(default_factory=list)
    dst_persons: list[int] = field(default_factory=list)
    #: train on these clips' faces only (names or ids; empty: every clip of each role)
    clips: list[int | str] = field(default_factory=list)
    devices: int = 1
    device: str | None = None
    seed: int | None = None
    checkpoint_every_s: float = 600.0
    preview_every: int = 500
    metric_every: int = 10
    keep_backups: int = 2
    keep_hourly: int = 12
    compile: bool = False
    train: dict[str, Any] = field(default_factory=dict)
    fault_nan_at: int | None = None
    face_cache_mb: int = 0
    pretrain_faces: str | None = None
    from_pretrained: str | None = None
    keep_decoders: bool = False
    preview_every_s: float | None = None
    fault_inf_grad_at: int | None = None
    prefetch: bool = True
    fault_prep_at: int | None = None
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None
    rdzv_id: str | None = None

    def __post_init__(self) -> None:
        # Raised as ValueError so the job registry refuses the job when it is queued.
        if not 1 <= self.devices <= 64:
            raise ValueError(f"devices must be 1-64, got {self.devices}")
        if self.checkpoint_every_s < 0.1:
            raise ValueError(f"checkpoint_every_s must be >= 0.1, got {self.checkpoint_every_s}")
        if self.preview_every < 0 or self.metric_every < 1:
            raise ValueError("preview_every must be >= 0 and metric_every >= 1")
        if self.preview_every_s is not None and not 0 <= self.preview_every_s <= 86400:
            raise ValueError(f"preview_every_s must be 0-86400 seconds, got {self.preview_every_s}")
        if self.iterations is not None and self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}")
        if self.keep_backups < 0 or self.keep_hourly < 0:
            raise ValueError("keep_backups and keep_hourly must be >= 0")
        try:
            model_cfg, train_cfg = self.new_configs()
        except SwapConfigError as exc:
            raise ValueError(str(exc)) from None
        if self.from_pretrained is not None:
            shaped = [k for k in ("model", "preset", "arch", *_SHAPE_FIELDS) if getattr(self, k) is not None]
            if shaped:
                raise ValueError(f"from_pretrained starts a new model shaped like the pretrained one; leave out "
                                 f"{', '.join(shaped)}")
        if self.face_cache_mb < 0:
            raise ValueError(f"face_cache_mb must be >= 0, got {self.face_cache_mb}")
        try:
            from engine.swap.options import check_for_model

            check_for_model(model_cfg, train_cfg)
        except SwapConfigError as exc:
            raise ValueError(str(exc)) from None
        check_nodes(self.nnodes, self.node_rank, self.rdzv_endpoint, self.rdzv_id)
        if train_cfg.batch_size % self.world:
            what = f"devices x nnodes ({self.devices} x {self.nnodes})" if self.nnodes > 1 else f"devices ({self.devices})"
            raise ValueError(f"batch size {train_cfg.batch_size} must be a multiple of {what}")

    @property
    def world(self) -> int:
        """Training processes in all: ``devices`` on each of ``nnodes`` machines."""
        return self.devices * self.nnodes

    @property
    def distributed(self) -> bool:
        """Whether the job runs as a DDP group launched through torchrun."""
        return self.world > 1 or self.rdzv_endpoint is not None

    def persons_of(self, role: str) -> list[int]:
        """The persons chosen for ``role``'s side of the training set (empty: every face)."""
        one, more = (self.src_person, self.src_persons) if role == "src" else (self.dst_person, self.dst_persons)
        return list(dict.fromkeys(([one] if one is not None else []) + [int(p) for p in more]))

    # ------------------------------------------------------------------ resolving
    def train_overrides(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("batch_size", "lr", "optimizer", "pretrain") if getattr(self, k) is not None}
        out.update(self.train)
        return out

    def shape_overrides(self) -> dict[str, Any]:
        """The model-shape fields this request names explicitly (preset included)."""
        out: dict[str, Any] = {}
        if self.preset is not None:
            out.update(get_preset(self.preset).model.to_json())
        if self.arch is not None:
            arch, opts = parse_arch(self.arch)
            out.update(arch=arch, options=opts)
        out.update({k: getattr(self, k) for k in _SHAPE_FIELDS if getattr(self, k) is not None})
        if "face_type" in out:
            out["face_type"] = _FACE_TYPE_NAMES.get(str(out["face_type"]).lower(), out["face_type"])
        return out

    def new_configs(self) -> tuple[ModelConfig, TrainConfig]:
        """Model shape and training settings for a *new* model."""
        preset = get_preset(self.preset or DEFAULT_PRESET)
        base = preset.model.to_json()
        shape = self.shape_overrides()
        model_cfg = ModelConfig(**{**base, **shape})
        return model_cfg, preset.train.updated(self.train_overrides())

    def continued_configs(self, model_id: int, saved_model: ModelConfig, saved_train: TrainConfig
                          ) -> tuple[ModelConfig, TrainConfig]:
        """Settings for continuing a model: its shape (checked against the request) and
        its last training settings with this request's changes."""
        from engine.swap.options import check_for_model

        check_model(model_id, saved_model, self.shape_overrides())
        train = saved_train.updated(self.train_overrides())
        check_for_model(saved_model, train)
        return saved_model, train

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_ENDPOINT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$")
_RDZV_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_nodes(nnodes: int, node_rank: int, endpoint: str | None, rdzv_id: str | None) -> None:
    """Refuse multi-machine settings that cannot meet (ValueError naming the setting)."""
    if not 1 <= nnodes <= 1024:
        raise ValueError(f"nnodes must be 1-1024, got {nnodes}")
    if not 0 <= node_rank < nnodes:
        raise ValueError(f"node_rank {node_rank} must be 0-{nnodes - 1} (below nnodes {nnodes}); node 0 owns the job")
    if nnodes > 1 and endpoint is None:
        raise ValueError(f"nnodes {nnodes} needs rdzv_endpoint HOST:PORT (node 0's address, the same on every node)")
    if endpoint is not None:
        m = _ENDPOINT.match(endpoint)
        if m is None or not 1 <= int(m.group(1)) <= 65535:
            raise ValueError(f"rdzv_endpoint {endpoint!r} must be HOST:PORT (e.g. 10.0.0.1:29400, port 1-65535)")
    if rdzv_id is not None and not _RDZV_ID.match(rdzv_id):
        raise ValueError(f"rdzv_id {rdzv_id!r} must be 1-64 letters, digits, '.', '_' or '-'")


def describe(cfg: ModelConfig) -> str:
    return (f"{cfg.arch_string} {cfg.resolution} px {cfg.face_type.replace('_', '-')} face "
            f"(ae {cfg.ae_dims}, e {cfg.e_dims}, d {cfg.d_dims}, mask {cfg.d_mask_dims})")


def check_model(model_id: int | str, model: ModelConfig, requested: dict[str, Any]) -> None:
    """Refuse a request whose model shape differs from the model's, naming both."""
    have = model.to_json()
    wrong = [f"{k} {requested[k]!r} (the model has {have[k]!r})" for k in have
             if k in requested and requested[k] != have[k]]
    if wrong:
        raise SwapConfigError(
            f"model {model_id} is a {describe(model)}; the request asks for " + ", ".join(wrong)
            + ". A model's shape cannot change: leave these options out to continue it, or start a new model")
