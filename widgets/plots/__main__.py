"""Demo: ``python -m widgets.plots [--points N] [--seconds S]``.

A loss plot with two synthetic training curves (src and dst losses falling over decades,
with noise), a rollback and a resume marker, and new points appended every 50 ms as a
running job would. ``--seconds`` closes the window after that long (the test runs it
for 1 s).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from PySide6 import QtCore, QtWidgets


def synthetic_losses(n: int, *, start: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps and two noisy, decaying loss series like a swap model's."""
    rng = np.random.default_rng(seed + start)
    steps = np.arange(start, start + n, dtype=np.float64) * 10 + 10
    base = 0.08 + 0.9 * np.exp(-steps / 4000.0)
    src = base * (1 + 0.15 * rng.standard_normal(n))
    dst = 0.9 * base * (1 + 0.15 * rng.standard_normal(n))
    return steps, np.abs(src), np.abs(dst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m widgets.plots", description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=None, help="close after this many seconds")
    args = parser.parse_args(argv)

    from widgets.plots import LossPlot

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    plot = LossPlot()
    plot.setWindowTitle("Loss plot demo")
    plot.resize(900, 500)
    t = time.perf_counter()
    steps, src, dst = synthetic_losses(args.points)
    plot.set_series("src_loss", steps, src, label="src loss")
    plot.set_series("dst_loss", steps, dst, label="dst loss")
    plot.set_events([steps[len(steps) // 3], steps[2 * len(steps) // 3]],
                    ["loss NaN; rolled back to the last checkpoint", "resumed from the checkpoint"],
                    ["rollback", "resume"])
    print(f"loss plot: {2 * args.points:,} points set in {(time.perf_counter() - t) * 1000:.0f} ms")
    done = [args.points]

    def tick() -> None:
        s, a, b = synthetic_losses(5, start=done[0])
        plot.append("src_loss", s, a)
        plot.append("dst_loss", s, b)
        done[0] += 5

    timer = QtCore.QTimer(plot)
    timer.timeout.connect(tick)
    timer.start(50)
    plot.log_scale_changed.connect(lambda on: print(f"log scale {'on' if on else 'off'}"))
    plot.smoothing_changed.connect(lambda a: print(f"smoothing {a:.3f}"))
    plot.show()
    if args.seconds is not None:
        QtCore.QTimer.singleShot(int(args.seconds * 1000), app.quit)
    rc = app.exec()
    print(f"appended up to {plot.point_count('src_loss'):,} points per series")
    return rc


if __name__ == "__main__":
    sys.exit(main())
