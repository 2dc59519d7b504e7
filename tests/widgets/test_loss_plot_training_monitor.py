"""TrainingMonitor: stats, controls, preview history and checkpoints round trips; its demo."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from widgets.training_monitor import (
    CheckpointEntry,
    TrainingMonitor,
    TrainingStats,
    eta_seconds,
    format_duration,
)
from widgets.training_monitor.preview_panel import image_from_array

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def monitor(qtbot) -> TrainingMonitor:
    m = TrainingMonitor()
    qtbot.addWidget(m)
    m.resize(520, 860)
    return m


def grid(value: int) -> np.ndarray:
    img = np.zeros((256, 320, 3), np.uint8)
    img[:, :, 0] = value
    return img


def test_eta_and_durations_read_well() -> None:
    assert eta_seconds(1000, 5000, 50.0) == pytest.approx(200.0)
    assert eta_seconds(6000, 5000, 50.0) == 0.0
    assert math.isnan(eta_seconds(10, 0, 50.0)) and math.isnan(eta_seconds(10, 100, math.nan))
    assert [format_duration(s) for s in (42, 185, 7620, 3 * 86400 + 4 * 3600, math.nan)] == [
        "42 s", "3 min 05 s", "2 h 07 min", "3 d 4 h", "–"]


def test_stats_show_and_the_state_decides_the_controls(monitor: TrainingMonitor) -> None:
    assert not monitor.pause_button.isEnabled() and not monitor.stop_button.isEnabled()
    monitor.set_stats(TrainingStats("running", "iteration 1200/5000", 1200, 5000, 85.0, 188.0,
                                    eta_seconds(1200, 5000, 85.0), 4e-4, "model 3 · df-ud 64 px"))
    labels = {k: v.text() for k, v in monitor.stat_labels.items()}
    assert labels == {"iteration": "1,200 / 5,000", "ms_per_iter": "85", "samples_per_s": "188",
                      "eta": "5 min 23 s", "lr": "0.0004"}
    assert monitor.progress.value() == 240 and "running" in monitor.state_label.text()
    assert monitor.model_label.text() == "model 3 · df-ud 64 px"
    assert (monitor.pause_button.isEnabled(), monitor.resume_button.isEnabled(), monitor.stop_button.isEnabled()) \
        == (True, False, True)
    monitor.set_stats(TrainingStats("paused", "paused", 1210, 5000))
    assert (monitor.pause_button.isEnabled(), monitor.resume_button.isEnabled(), monitor.stop_button.isEnabled()) \
        == (False, True, True)
    assert monitor.stat_labels["ms_per_iter"].text() == "–"
    monitor.set_stats(TrainingStats("done", "trained", 5000, 5000))
    assert not any(b.isEnabled() for b in (monitor.pause_button, monitor.resume_button, monitor.stop_button))


def test_controls_emit_requests(qtbot, monitor: TrainingMonitor) -> None:
    monitor.set_stats(TrainingStats("running", iteration=1))
    with qtbot.waitSignal(monitor.pause_requested):
        monitor.pause_button.click()
    with qtbot.waitSignal(monitor.stop_requested):
        monitor.stop_button.click()
    monitor.set_stats(TrainingStats("paused", iteration=1))
    with qtbot.waitSignal(monitor.resume_requested):
        qtbot.keyClick(monitor.resume_button, QtCore.Qt.Key.Key_Space)  # keyboard works too
    monitor.set_jobs([(9, "#9 · running"), (4, "#4 · done")], 9)
    assert monitor.job_combo.currentData() == 9
    with qtbot.waitSignal(monitor.job_chosen) as sig:
        monitor.job_combo.activated.emit(1)
    assert sig.args == [4]


def test_preview_history_follows_the_newest_until_the_user_looks_back(qtbot, monitor: TrainingMonitor) -> None:
    panel = monitor.preview
    assert panel.count() == 0 and panel.current_image().isNull()
    monitor.set_preview_images([grid(10), grid(20), grid(30)], [100, 200, 300])
    assert panel.current_index() == 2 and panel.current_step() == 300
    assert panel.current_image().pixelColor(5, 5).red() == 30
    monitor.set_preview_images([grid(10), grid(20), grid(30), grid(40)], [100, 200, 300, 400])
    assert panel.current_index() == 3  # at the newest: follows
    with qtbot.waitSignal(monitor.preview_index_changed) as sig:
        panel.slider.setValue(1)
    assert sig.args == [1] and panel.current_image().pixelColor(5, 5).red() == 20
    assert "iteration 200" in panel.caption.text() and "2/4" in panel.caption.text()


def test_preview_files_are_read_once_and_kept_while_looking_back(qtbot, monitor: TrainingMonitor,
                                                                 tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        path = tmp_path / f"{(i + 1) * 100:08d}.jpg"
        assert image_from_array(grid(60 * i + 20)).save(str(path))
        paths.append(path)
    reads: list[str] = []
    panel = monitor.preview
    panel._loader = lambda p: (reads.append(p), QtGui.QImage(p))[1]
    monitor.set_previews(paths[:2], [100, 200])
    panel.slider.setValue(0)
    monitor.set_previews(paths, [100, 200, 300])  # a new preview arrives: the user stays at 0
    assert panel.current_index() == 0 and panel.current_image().size() == QtCore.QSize(320, 256)
    panel.slider.setValue(1)
    panel.slider.setValue(0)
    assert reads.count(str(paths[0])) == 1  # cached
    qtbot.keyClick(panel.slider, QtCore.Qt.Key.Key_End)
    assert panel.current_index() == 2
    monitor.set_previews(paths[:1], [100])  # another job: starts over at its newest
    assert panel.current_index() == 0 and not panel.slider.isEnabled()


def test_checkpoints_restore_only_a_backup_and_only_when_allowed(qtbot, monitor: TrainingMonitor) -> None:
    now = time.time()
    entries = [CheckpointEntry("/p/models/1/latest", "latest", 60, now, True, True, 2_000_000),
               CheckpointEntry("/p/models/1/backups/00000003-it40", "00000003-it40", 40, now - 30),
               CheckpointEntry("/p/models/1/backups/00000001-it0", "00000001-it0", 0, now - 90, False, False)]
    monitor.set_checkpoints(entries)
    ck = monitor.checkpoints
    assert ck.tree.topLevelItemCount() == 3 and ck.tree.topLevelItem(0).font(0).bold()
    assert ck.tree.topLevelItem(2).text(3) == "no" and "2 backups" in ck.summary.text()
    assert not ck.restore_button.isEnabled()
    ck.select_path(entries[0].path)
    assert not ck.restore_button.isEnabled()  # restoring the latest would change nothing
    ck.select_path(entries[1].path)
    assert ck.restore_button.isEnabled()
    with qtbot.waitSignal(monitor.restore_requested) as sig:
        ck.restore_button.click()
    assert sig.args == [entries[1].path]
    monitor.set_restore_allowed(False, "job 7 is training this model")
    assert not ck.restore_button.isEnabled() and "job 7" in ck.summary.text()
    monitor.set_checkpoints(entries)  # a refresh keeps the selection
    assert ck.selected_path() == entries[1].path
    monitor.clear()
    assert ck.tree.topLevelItemCount() == 0 and monitor.plot.series_names() == []


def test_monitor_screenshot(qtbot, monitor: TrainingMonitor, artifacts_dir: Path) -> None:
    from widgets.plots.__main__ import synthetic_losses
    from widgets.training_monitor.__main__ import synthetic_preview

    steps, src, dst = synthetic_losses(400)
    monitor.plot.set_series("src_loss", steps, src, label="src loss")
    monitor.plot.set_series("dst_loss", steps, dst, label="dst loss")
    monitor.plot.set_events([1500], ["rolled back"], ["rollback"])
    monitor.set_preview_images([synthetic_preview(100), synthetic_preview(4000)], [100, 4000])
    monitor.set_stats(TrainingStats("running", "iteration 4000/10000", 4000, 10000, 80.0, 200.0, 480.0, 4e-4,
                                    "model 1 · df-ud 64 px full face"))
    monitor.show()
    qtbot.waitExposed(monitor)
    shot = artifacts_dir / "training_monitor_widget.png"
    assert monitor.grab().save(str(shot))
    assert shot.stat().st_size > 10_000


def test_demo_runs_for_a_second() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-m", "widgets.training_monitor",
                        "--seconds", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "training monitor:" in r.stdout and "Traceback" not in r.stderr
