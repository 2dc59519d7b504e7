"""Optimisers, the learning-rate schedule and the collapse guard.

- **AdamW** from torch (``fused=True`` on CUDA: one kernel per parameter group; the
  ``foreach`` multi-tensor path on CPU).
- **AdaBelief** (Zhuang et al. 2020), SAEHD's default, which torch does not ship: Adam
  whose second moment tracks the *belief* ``(g - m)^2`` instead of ``g^2``, so steps are
  large where gradients agree with their trend and small where they scatter. Written
  with ``torch._foreach_*`` ops (a handful of multi-tensor kernels per step, not one
  Python loop per parameter). Unlike DeepFaceLab's version it bias-corrects both
  moments, so the first hundreds of steps are not damped by zero-initialised moments.
- **Schedule**: linear warm-up, then constant or cosine to ``min_lr_ratio`` at the
  target iteration; multiplied by the collapse guard's ``lr_scale``.
- **CollapseGuard**: flags a loss that is NaN/inf or far above its running median.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor

from engine.swap.config import TrainConfig


class AdaBelief(torch.optim.Optimizer):
    """AdaBelief with decoupled weight decay and bias correction.

    ``eps`` is added inside the second moment (as the paper does) and to the denominator.
    The state (``step``, ``exp_avg``, ``exp_avg_var``) holds tensors only, so it
    checkpoints through ``torch.load(weights_only=True)``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 5e-5, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        if lr <= 0 or eps <= 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"bad AdaBelief settings lr={lr} betas={betas} eps={eps}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        if closure is not None:
            raise ValueError("AdaBelief does not take a closure")
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            b1, b2 = group["betas"]
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            for p in params:
                st = self.state[p]
                if not st:
                    st["step"] = torch.zeros((), dtype=torch.float32)
                    st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    st["exp_avg_var"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            states = [self.state[p] for p in params]
            m = [s["exp_avg"] for s in states]
            v = [s["exp_avg_var"] for s in states]
            for s in states:
                s["step"] += 1
            t = float(states[0]["step"])
            if wd:
                torch._foreach_mul_(params, 1.0 - lr * wd)
            torch._foreach_lerp_(m, grads, 1.0 - b1)
            diff = torch._foreach_sub(grads, m)
            torch._foreach_mul_(v, b2)
            torch._foreach_addcmul_(v, diff, diff, value=1.0 - b2)
            torch._foreach_add_(v, eps)
            bc1 = 1.0 - b1**t
            bc2 = 1.0 - b2**t
            denom = torch._foreach_sqrt(v)
            torch._foreach_div_(denom, math.sqrt(bc2))
            torch._foreach_add_(denom, eps)
            torch._foreach_addcdiv_(params, m, denom, value=-lr / bc1)


def make_optimizer(params: Iterable[Tensor], cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    trainable = [p for p in params if p.requires_grad]
    if cfg.optimizer == "adamw":
        fast = {"fused": True} if device.type == "cuda" else {"foreach": True}
        return torch.optim.AdamW(trainable, lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=cfg.weight_decay,
                                 **fast)
    return AdaBelief(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_at(iteration: int, cfg: TrainConfig, *, target: int = 0, scale: float = 1.0) -> float:
    """The learning rate of step ``iteration`` (0-based)."""
    lr = cfg.lr * scale
    if cfg.warmup and iteration < cfg.warmup:
        return lr * (iteration + 1) / cfg.warmup
    if cfg.schedule == "cosine" and target > cfg.warmup:
        span = target - cfg.warmup
        t = min(1.0, (iteration - cfg.warmup) / span)
        return lr * (cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * t)))
    return lr


class CollapseGuard:
    """Watches the per-identity losses for a collapse.

    A loss is bad when it is not finite, or when it exceeds ``factor`` times the median
    of the last ``window`` good values (once ``min_history`` of them exist). The median
    ignores the usual noise of single batches; a factor of 4 is far above what a hard
    batch costs, and well below what a diverging model produces within a few steps.
    """

    def __init__(self, *, window: int = 200, factor: float = 4.0, min_history: int = 50) -> None:
        self.window = window
        self.factor = factor
        self.min_history = min_history
        self._history: list[deque[float]] = []

    def check(self, losses: Sequence[float]) -> str | None:
        """None when ``losses`` are acceptable (and then remembered), else the reason."""
        while len(self._history) < len(losses):
            self._history.append(deque(maxlen=self.window))
        names = ("src", "dst") if len(losses) == 2 else tuple(str(i) for i in range(len(losses)))
        for name, value, hist in zip(names, losses, self._history, strict=False):
            if not math.isfinite(value):
                return f"{name} loss is {value}"
            if len(hist) >= self.min_history:
                median = sorted(hist)[len(hist) // 2]
                if value > self.factor * median:
                    return f"{name} loss {value:.4g} jumped above {self.factor:g}x its running median {median:.4g}"
        for value, hist in zip(losses, self._history, strict=False):
            hist.append(float(value))
        return None

    def state(self) -> list[list[float]]:
        return [list(h) for h in self._history]

    def load_state(self, data: Sequence[Sequence[float]]) -> None:
        self._history = [deque((float(x) for x in h), maxlen=self.window) for h in data]
