"""Shared bits of the benchmark scripts: repo root on sys.path, timing, reporting."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``fn`` in seconds over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def report(name: str, value: float, unit: str, target: str) -> bool:
    """Print ``name: value unit (target ...)`` and return whether the target holds."""
    op, bound = target.split()
    ok = value <= float(bound) if op == "<=" else value >= float(bound)
    print(f"{name}: {value:.3f} {unit} (target {target}) {'ok' if ok else 'MISSED'}")
    return ok
