"""A trained swap model, loaded for use: dst crops in, swapped crops and masks out.

This is what merge calls. A model is loaded from its newest complete checkpoint (weights
only, through safetensors: loading a model can never run code), checked against what
the caller needs (a crop of another resolution or face type would be swapped into the
wrong place, so a mismatch is an error naming both), and run in inference mode, in
bf16 on CUDA, in batches.

Outputs per dst crop (DeepFaceLive's three, ``REFERENCE.md`` Part C 1.8):

- ``swapped``: the face turned into the src identity;
- ``mask_dst``: the learned outline of the dst face (from the dst path);
- ``mask_src``: the learned outline of the swapped face.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from engine.project.store import ProjectStore
from engine.swap import checkpoint
from engine.swap.archs import SwapNet, build_model
from engine.swap.checkpoint import CheckpointError
from engine.swap.config import ModelConfig, SwapConfigError
from engine.swap.request import describe


@dataclass(frozen=True, eq=False)
class SwapResult:
    """Swapped crops and masks, in the layout of the input: numpy ``(N, R, R, 3)`` /
    ``(N, R, R)`` float32 in [0, 1] for numpy input, tensors ``(N, C, R, R)`` otherwise."""

    swapped: Any
    mask_dst: Any
    mask_src: Any


class SwapModel:
    """A loaded swap model (see the module docstring).

    Attributes
    ----------
    config : the model's shape (resolution, face type, arch, dims).
    iteration : the iteration its weights come from.
    """

    def __init__(self, net: SwapNet, config: ModelConfig, *, iteration: int, device: torch.device,
                 path: Path | None = None) -> None:
        self.net = net.eval()
        self.config = config
        self.iteration = iteration
        self.device = device
        self.path = path

    @property
    def resolution(self) -> int:
        return self.config.resolution

    @property
    def face_type(self) -> str:
        return self.config.face_type

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, folder: str | Path, *, device: str | torch.device = "cpu", resolution: int | None = None,
             face_type: str | None = None) -> SwapModel:
        """Load the newest complete checkpoint under a model folder (or a checkpoint
        folder itself); refuse it when ``resolution``/``face_type`` differ from the model's."""
        p = Path(folder)
        target = p if (p / checkpoint.STATE).exists() else checkpoint.find_latest(p)
        if target is None:
            raise CheckpointError(f"{p}: no complete checkpoint (has the model been trained?)")
        state = checkpoint.read_state(target)
        if state.get("kind") != "swap":
            raise CheckpointError(f"{target}: not a swap model checkpoint (kind {state.get('kind')!r})")
        cfg = ModelConfig.from_json(state["model_config"])
        check_fit(cfg, resolution=resolution, face_type=face_type, what=str(p))
        dev = torch.device(device)
        net = build_model(cfg)
        try:
            from engine.swap.discriminators import split_weights  # training-only entries are not the model's

            weights, _ = split_weights(checkpoint.load_weights(target / checkpoint.WEIGHTS, device="cpu"))
            net.load_state_dict(weights, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"{target}: weights do not fit a {cfg.arch_string} model "
                                  f"({str(exc).splitlines()[0]})") from None
        net.to(dev)
        if dev.type == "cuda":
            net.to(memory_format=torch.channels_last)
        return cls(net, cfg, iteration=int(state.get("iteration", 0)), device=dev, path=target)

    @classmethod
    def from_project(cls, store: ProjectStore, model_id: int, **kw: Any) -> SwapModel:
        """Load model ``model_id`` of a project (see :meth:`load` for the checks)."""
        from engine.swap.session import model_folder

        return cls.load(model_folder(store, model_id), **kw)

    # ------------------------------------------------------------------ running
    @torch.inference_mode()
    def swap_tensor(self, dst: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(N, 3, R, R)`` float [0, 1] on any device -> (swapped, mask_dst, mask_src) on it."""
        x = dst.to(self.device, torch.float32)
        if self.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            out = self.net.swap(x)
        return tuple(t.float().clamp(0.0, 1.0).to(dst.device) for t in out)  # type: ignore[return-value]

    def swap(self, dst_crops: npt.ArrayLike | Tensor, *, batch_size: int = 32) -> SwapResult:
        """Swap a batch of aligned dst crops of the model's face type and resolution.

        ``dst_crops``: numpy uint8 ``(N, R, R, 3)`` RGB (or a single ``(R, R, 3)``), or a
        float tensor ``(N, 3, R, R)`` in [0, 1].
        """
        if isinstance(dst_crops, Tensor):
            self._check_shape(tuple(dst_crops.shape[-2:]))
            parts = [self.swap_tensor(dst_crops[i:i + batch_size]) for i in range(0, len(dst_crops), batch_size)]
            return SwapResult(*(torch.cat([p[k] for p in parts]) for k in range(3)))
        arr = np.asarray(dst_crops)
        single = arr.ndim == 3
        if single:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise SwapConfigError(f"dst crops must be (N, R, R, 3) RGB, got shape {np.asarray(dst_crops).shape}")
        self._check_shape(arr.shape[1:3])
        scale = 1.0 / 255.0 if arr.dtype == np.uint8 else 1.0
        outs: list[list[npt.NDArray[np.float32]]] = [[], [], []]
        for i in range(0, len(arr), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(arr[i:i + batch_size])).permute(0, 3, 1, 2).float() * scale
            for k, t in enumerate(self.swap_tensor(x)):
                outs[k].append(t.permute(0, 2, 3, 1).numpy() if k == 0 else t[:, 0].numpy())
        swapped, mask_dst, mask_src = (np.concatenate(o) for o in outs)
        if single:
            swapped, mask_dst, mask_src = swapped[0], mask_dst[0], mask_src[0]
        return SwapResult(swapped, mask_dst, mask_src)

    def _check_shape(self, hw: tuple[int, ...]) -> None:
        r = self.resolution
        if tuple(hw) != (r, r):
            raise SwapConfigError(f"model is {r}x{r} px; the crops given are {hw[1]}x{hw[0]} px "
                                  f"(crop them with face type {self.face_type!r} at {r} px)")


def check_fit(cfg: ModelConfig, *, resolution: int | None, face_type: str | None, what: str) -> None:
    """Refuse a model whose resolution or face type is not the requested one."""
    wrong = []
    if resolution is not None and int(resolution) != cfg.resolution:
        wrong.append(f"resolution {resolution} px")
    if face_type is not None and face_type != cfg.face_type:
        wrong.append(f"face type {face_type!r}")
    if wrong:
        raise SwapConfigError(f"{what}: the model is a {describe(cfg)}, but {' and '.join(wrong)} was asked for")
