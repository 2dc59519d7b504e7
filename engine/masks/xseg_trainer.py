"""The XSeg trainer: pure torch, samples in, steps out (no store, no job).

Tests and benchmarks drive it directly; the ``train_xseg`` job
(:mod:`engine.masks.xseg_train`) wraps it with keyframe selection, reporting and
checkpoints.

Loss: binary cross-entropy (pixel-wise correctness) plus soft Dice (overlap; it keeps
small or thin regions from being drowned by the large easy background), per sample,
weighted by the sample's weight (1 for keyframes, the confidence for propagated masks).
DeepFaceLab uses cross-entropy alone.

Optimiser: AdamW with a short linear warm-up and gradient clipping; bfloat16 autocast on
GPUs (fp32 on CPUs, where training stays bit-reproducible for a seed). Checkpoints use the
project's shared code (:mod:`engine.swap.checkpoint`), so XSeg and swap models have one
on-disk format, one backup rotation and one safe loader. A step whose loss is
not finite is dropped and the model rolled back to its last saved state, never written.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import torch
import torch.nn.functional as F

from engine.masks.xseg_data import AugmentSettings, Samples, augment
from engine.masks.xseg_net import XSegConfig, XSegNet, build
from engine.swap import checkpoint as ckpt_io

#: Iterations of linear learning-rate warm-up at the start of a model's life.
WARMUP: Final = 50
GRAD_CLIP: Final = 5.0


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` intra-op threads (0 = leave torch's default), restored after.

    On a shared or oversubscribed CPU one thread is often *faster* than two: OpenMP's
    barriers spin while the other core runs someone else's work (measured here: 80 ms
    against 300-1100 ms per iteration of a small model), so jobs let the user choose.
    """
    if n <= 0:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass(frozen=True)
class TrainOptions:
    """How a stretch of training runs (may change between sessions of a model)."""

    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-4
    #: share of propagated samples in a batch (when there are any)
    propagated_share: float = 0.3
    seed: int = 0
    augment: AugmentSettings = field(default_factory=AugmentSettings)


def _losses(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample BCE and soft-Dice losses."""
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(dim=(1, 2, 3))
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum(dim=(1, 2, 3))
    dice = 1.0 - (2.0 * inter + 1.0) / (prob.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + 1.0)
    return bce, dice


class XSegTrainer:
    """Trains one :class:`XSegNet` on samples held on ``device``.

    Parameters
    ----------
    train : keyframe samples (weights 1).
    extra : propagated samples (weights = confidence), drawn for ``propagated_share`` of
        each batch; may be empty.
    """

    def __init__(self, config: XSegConfig, train: Samples, *, extra: Samples | None = None,
                 options: TrainOptions | None = None, device: torch.device | str = "cpu") -> None:
        if len(train) == 0:
            raise ValueError("XSeg training needs at least one keyframe")
        self.config = config
        self.options = options or TrainOptions()
        self.device = torch.device(device)
        self.train = train.to(self.device)
        self.extra = extra.to(self.device) if extra is not None and len(extra) else None
        self.net: XSegNet = build(config, seed=self.options.seed).to(self.device)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=self.options.lr,
                                           weight_decay=self.options.weight_decay)
        self.iteration = 0
        self.rollbacks = 0
        #: learning-rate factor, halved by every rollback
        self.lr_scale = 1.0
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(self.options.seed)
        self._good: dict[str, Any] | None = None

    # ------------------------------------------------------------------ training
    def _batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        bs, g = self.options.batch_size, self.gen
        n_extra = 0
        if self.extra is not None:
            n_extra = int((torch.rand(bs, generator=g, device=self.device) < self.options.propagated_share).sum())
        i = torch.randint(len(self.train), (bs - n_extra,), generator=g, device=self.device)
        images, masks, weights = self.train.images[i], self.train.masks[i], self.train.weights[i]
        if n_extra and self.extra is not None:
            j = torch.randint(len(self.extra), (n_extra,), generator=g, device=self.device)
            images = torch.cat([images, self.extra.images[j]])
            masks = torch.cat([masks, self.extra.masks[j]])
            weights = torch.cat([weights, self.extra.weights[j]])
        return images, masks, weights

    def step(self) -> dict[str, float]:
        """One iteration; returns its losses. A non-finite loss is skipped and the model
        rolled back to the last good state (reported as ``rolled_back``)."""
        self.net.train()
        images, masks, weights = self._batch()
        x, m = augment(self.gen, images, masks, self.options.augment)
        for group in self.optimizer.param_groups:
            group["lr"] = self.options.lr * self.lr_scale * min(1.0, (self.iteration + 1) / WARMUP)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            logits = self.net(x)
        bce, dice = _losses(logits.float(), m)
        w = weights / weights.sum().clamp_min(1e-6)
        loss = ((bce + dice) * w).sum()
        if not torch.isfinite(loss):
            self.rollback()
            return {"loss": float("nan"), "rolled_back": 1.0}
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), GRAD_CLIP)
        self.optimizer.step()
        self.iteration += 1
        with torch.no_grad():
            return {"loss": float(loss), "bce": float((bce * w).sum()), "dice": float((dice * w).sum())}

    def remember_good(self) -> None:
        """Keep the current weights as the state a later blow-up rolls back to."""
        self._good = {"net": copy.deepcopy(self.net.state_dict()),
                      "opt": copy.deepcopy(self.optimizer.state_dict()), "iteration": self.iteration}

    def rollback(self) -> None:
        """Back to the last saved state with half the learning rate and fresh batches (the
        swap trainer's rule), so the batches that blew up are not replayed."""
        if self._good is None:
            raise FloatingPointError("XSeg loss is not finite before any checkpoint; lower the learning rate")
        self.net.load_state_dict(self._good["net"])
        self.optimizer.load_state_dict(self._good["opt"])
        self.iteration = self._good["iteration"]
        self.rollbacks += 1
        self.lr_scale *= 0.5
        self.gen.manual_seed(self.options.seed + 7919 * self.rollbacks)

    # ------------------------------------------------------------------ evaluation
    @torch.inference_mode()
    def predict(self, images: torch.Tensor, batch: int = 16) -> torch.Tensor:
        """Probabilities ``(N, 1, S, S)`` float for uint8 ``(N, 3, S, S)`` images."""
        self.net.eval()
        out = []
        for i in range(0, len(images), batch):
            x = images[i:i + batch].to(self.device).float() / 255.0
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                logits = self.net(x)
            out.append(torch.sigmoid(logits.float()))
        return torch.cat(out) if out else torch.zeros((0, 1, *images.shape[-2:]))

    def evaluate(self, samples: Samples) -> float:
        """Mean IoU (threshold 0.5) of the predictions on ``samples``."""
        if len(samples) == 0:
            return float("nan")
        prob = self.predict(samples.images)
        pred = prob > 0.5
        target = samples.masks.to(pred.device) > 127
        inter = (pred & target).sum(dim=(1, 2, 3)).float()
        union = (pred | target).sum(dim=(1, 2, 3)).float()
        ious = torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))
        return float(ious.mean())

    def preview(self, samples: Samples, count: int = 4) -> np.ndarray:
        """Rows of image | label | prediction (RGB uint8) for the first ``count`` samples."""
        n = min(count, len(samples))
        images = samples.images[:n]
        prob = self.predict(images).cpu()
        rows = []
        for i in range(n):
            img = images[i].permute(1, 2, 0).cpu().numpy()
            label = samples.masks[i, 0].cpu().numpy().astype(np.float32) / 255.0
            pred = prob[i, 0].numpy()
            rows.append(np.hstack([img, _overlay(img, label, (0, 200, 255)), _overlay(img, pred, (255, 80, 0))]))
        return np.vstack(rows)

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "config": self.config.to_dict(), "kind": "xseg",
                "lr_scale": self.lr_scale, "rollbacks": self.rollbacks}

    def save(self, folder: Path, extra_state: dict[str, Any] | None = None) -> None:
        """Checkpoint into a model folder with the project's shared checkpoint code
        (:mod:`engine.swap.checkpoint`: atomic, rotated backups, pickle-free to load)."""
        ckpt_io.save(folder, weights=self.net.state_dict(), optimizer=self.optimizer.state_dict(),
                     state={**self.state(), **(extra_state or {})})
        self.remember_good()

    def load(self, folder: Path) -> bool:
        """Continue from the newest complete checkpoint in ``folder``; False when there is none."""
        latest = ckpt_io.find_latest(folder)
        if latest is None:
            return False
        ckpt = ckpt_io.load(latest, device=self.device)
        saved = XSegConfig.from_dict(ckpt.state["config"])
        if saved != self.config:
            raise ckpt_io.CheckpointError(f"{latest}: the checkpoint is of another XSeg model ({saved}, "
                                          f"expected {self.config})")
        self.net.load_state_dict(ckpt.weights)
        if ckpt.optimizer is not None:
            self.optimizer.load_state_dict(ckpt.optimizer)
        self.iteration = int(ckpt.state.get("iteration", 0))
        self.lr_scale = float(ckpt.state.get("lr_scale", 1.0))
        self.rollbacks = int(ckpt.state.get("rollbacks", 0))
        # A resumed run must not replay the first run's random batches.
        self.gen.manual_seed(self.options.seed * 1_000_003 + self.iteration)
        self.remember_good()
        return True


def _overlay(img: np.ndarray, mask: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """The face inside the mask, a dark tint of ``color`` outside: edges read at a glance."""
    a = np.clip(mask, 0.0, 1.0)[..., None]
    outside = img.astype(np.float32) * 0.25 + np.array(color, np.float32) * 0.35
    return (img.astype(np.float32) * a + outside * (1 - a)).astype(np.uint8)
