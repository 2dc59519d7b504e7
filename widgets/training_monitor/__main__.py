"""Demo: ``python -m widgets.training_monitor [--seconds S]``.

A monitor following a synthetic training run: losses appended every 100 ms, a new
preview grid every 20 points, a rollback marker and a few checkpoints. Prints what the
user asks for (pause, resume, stop, restore). ``--seconds`` closes the window after that
long (the test runs it for 1 s).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from PySide6 import QtCore, QtWidgets


def synthetic_preview(step: int, faces: int = 4, size: int = 64) -> np.ndarray:
    """A preview-shaped grid (rows of 5 crops) whose columns sharpen as ``step`` grows."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    sharp = min(1.0, 0.2 + step / 3000.0)
    rows = []
    for r in range(faces):
        face = np.exp(-((xx - 0.5) ** 2 + (yy - 0.55) ** 2) / (0.08 + 0.02 * r))
        cols = [face * (1.0 if c % 2 == 0 else sharp) for c in range(5)]
        rows.append(np.concatenate(cols, axis=1))
    grey = np.concatenate(rows, axis=0)
    rgb = np.stack([grey * 230, grey * 180 + 20, grey * 150 + 30], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m widgets.training_monitor", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="close after this many seconds")
    args = parser.parse_args(argv)

    from widgets.plots.__main__ import synthetic_losses
    from widgets.training_monitor import CheckpointEntry, TrainingMonitor, TrainingStats, eta_seconds

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    monitor = TrainingMonitor()
    monitor.setWindowTitle("Training monitor demo")
    monitor.resize(520, 900)
    monitor.set_jobs([(7, "#7 df-ud 64 px · running"), (5, "#5 liae-ud 128 px · done")], 7)
    target = 5000
    state = {"n": 200, "status": "running", "previews": [], "steps": []}
    steps, src, dst = synthetic_losses(state["n"])
    monitor.plot.set_series("src_loss", steps, src, label="src loss")
    monitor.plot.set_series("dst_loss", steps, dst, label="dst loss")
    monitor.plot.set_events([900], ["loss NaN; rolled back to iteration 800, learning rate now x0.5"], ["rollback"])
    now = time.time()
    monitor.set_checkpoints([
        CheckpointEntry("/demo/models/7/latest", "latest", 2000, now, True, True, 3_400_000),
        CheckpointEntry("/demo/models/7/backups/00000004-it1500", "00000004-it1500", 1500, now - 600, False, True),
        CheckpointEntry("/demo/models/7/backups/00000002-it500", "00000002-it500", 500, now - 3600, False, False),
    ])
    monitor.set_restore_allowed(False, "pause or stop the job to restore a checkpoint")

    def tick() -> None:
        s, a, b = synthetic_losses(5, start=state["n"])
        state["n"] += 5
        monitor.plot.append("src_loss", s, a)
        monitor.plot.append("dst_loss", s, b)
        it = int(s[-1])
        if state["n"] % 20 == 0:
            state["previews"].append(synthetic_preview(it))
            state["steps"].append(it)
            monitor.set_preview_images(state["previews"], state["steps"])
        ms = 80.0 + 5 * np.sin(it / 100)
        monitor.set_stats(TrainingStats(state["status"], f"iteration {it}/{target} · src {a[-1]:.4f}", it, target,
                                        ms, 2 * 8 * 1000 / ms, eta_seconds(it, target, ms), 4e-4,
                                        "model 7 · df-ud 64 px full face"))

    def set_status(status: str) -> None:
        print(f"{status} requested")
        state["status"] = {"pause": "paused", "resume": "running", "stop": "cancelled"}[status]
        monitor.set_restore_allowed(state["status"] != "running", "pause or stop the job to restore a checkpoint")

    monitor.pause_requested.connect(lambda: set_status("pause"))
    monitor.resume_requested.connect(lambda: set_status("resume"))
    monitor.stop_requested.connect(lambda: set_status("stop"))
    monitor.restore_requested.connect(lambda path: print(f"restore {path}"))
    monitor.job_chosen.connect(lambda job: print(f"follow job {job}"))
    timer = QtCore.QTimer(monitor)
    timer.timeout.connect(tick)
    timer.start(100)
    tick()
    monitor.show()
    if args.seconds is not None:
        QtCore.QTimer.singleShot(int(args.seconds * 1000), app.quit)
    rc = app.exec()
    print(f"training monitor: {monitor.plot.point_count('src_loss')} points, {monitor.preview.count()} previews")
    return rc


if __name__ == "__main__":
    sys.exit(main())
