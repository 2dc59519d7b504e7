"""AdaBelief, the learning-rate schedule and the collapse guard."""

from __future__ import annotations

import math

import pytest
import torch

from engine.swap.config import TrainConfig
from engine.swap.optim import AdaBelief, CollapseGuard, lr_at


def test_adabelief_matches_the_paper_update_and_loads_weights_only() -> None:
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(5))
    opt = AdaBelief([p], lr=0.1, eps=1e-8, weight_decay=0.01)
    ref, m, s = p.detach().clone(), torch.zeros(5), torch.zeros(5)
    for t in range(1, 4):
        g = torch.randn(5)
        p.grad = g.clone()
        opt.step()
        ref *= 1 - 0.1 * 0.01
        m = 0.9 * m + 0.1 * g
        s = 0.999 * s + 0.001 * (g - m) ** 2 + 1e-8
        ref -= 0.1 * (m / (1 - 0.9**t)) / ((s / (1 - 0.999**t)).sqrt() + 1e-8)
        assert torch.allclose(p.detach(), ref, atol=1e-6)
    buf = __import__("io").BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    again = AdaBelief([torch.nn.Parameter(p.detach().clone())], lr=0.1)
    again.load_state_dict(torch.load(buf, weights_only=True))
    assert float(again.state[again.param_groups[0]["params"][0]]["step"]) == 3.0


def test_adabelief_minimises_a_quadratic() -> None:
    x = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    opt = AdaBelief([x], lr=0.05)
    for _ in range(400):
        opt.zero_grad()
        (x**2).sum().backward()
        opt.step()
    assert float(x.detach().abs().max()) < 0.05


def test_warmup_then_constant_or_cosine() -> None:
    cfg = TrainConfig(lr=1e-3, warmup=10)
    assert lr_at(0, cfg) == pytest.approx(1e-4) and lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(500, cfg) == pytest.approx(1e-3)
    cos = TrainConfig(lr=1e-3, warmup=10, schedule="cosine", min_lr_ratio=0.1)
    assert lr_at(10, cos, target=110) == pytest.approx(1e-3)
    assert lr_at(60, cos, target=110) == pytest.approx(0.55e-3)
    assert lr_at(110, cos, target=110) == pytest.approx(1e-4)
    assert lr_at(500, cfg, scale=0.25) == pytest.approx(2.5e-4)  # the guard's lowered rate


def test_collapse_guard_flags_nan_inf_and_jumps_above_the_running_median() -> None:
    guard = CollapseGuard(window=50, factor=4.0, min_history=20)
    assert guard.check([math.nan, 1.0]) == "src loss is nan"
    assert guard.check([1.0, math.inf]) == "dst loss is inf"
    for i in range(20):
        assert guard.check([2.0 - 0.01 * i, 2.0]) is None
    assert guard.check([3.5, 2.0]) is None  # a hard batch, not a collapse
    reason = guard.check([9.0, 2.0])
    assert reason is not None and "jumped above 4x its running median" in reason
    restored = CollapseGuard(window=50, factor=4.0, min_history=20)
    restored.load_state(guard.state())
    assert restored.check([9.0, 2.0]) is not None  # the window travels with checkpoints
