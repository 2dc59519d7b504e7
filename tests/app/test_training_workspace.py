"""The training workspace end to end: the editor, the real engine process, a tiny training run.

Queue a run from the Train dialog, watch metrics arrive in the monitor, pause and resume it
with the monitor's buttons, quit the editor while it trains and reopen it (the job continues
and the monitor follows it), let it finish, restore a backup, and reopen the project once
more to find the workspace as it was left. Screenshots go to the artifacts folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from app.document import ProjectDocument
from app.main_window import MainWindow
from app.training_workspace import META_KEY
from engine.jobs.queue import JobQueue
from engine.project.store import ProjectStore
from engine.swap import checkpoint

pytestmark = [pytest.mark.gui, pytest.mark.slow]

TARGET = 180
#: What the test types into the dialog: fast-64 on the CPU, small batches, frequent
#: checkpoints (so backups exist to restore), frequent metric points and previews.
TINY: dict[str, Any] = {"preset": "fast-64", "iterations": TARGET, "batch_size": 4, "device": "cpu", "seed": 3,
                        "checkpoint_every_s": 1.2, "keep_backups": 3, "preview_every": 25, "metric_every": 5}


@pytest.fixture
def project_root(tmp_path: Path, extracted_project: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The engine process inherits this: one torch thread on the shared two-core machine
    # (see tests/engine/swap/conftest.py on why two threads stall under load).
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return extracted_project.copy(tmp_path)


def open_window(qtbot, root: Path, **kw: Any) -> MainWindow:
    win = MainWindow(ProjectDocument.open(root), **kw)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def type_into_dialog(dialog: Any) -> None:
    """Fill the dialog the way a user would: widget by widget."""
    dialog.preset_combo.setCurrentIndex(dialog.preset_combo.findData("fast-64"))
    dialog.iterations_spin.setValue(TARGET)
    dialog.batch_spin.setValue(4)
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findText("CPU"))
    dialog.fields["checkpoint_minutes"].setValue(0.02)
    dialog.fields["keep_backups"].setValue(3)
    dialog.fields["preview_every"].setValue(25)
    dialog.fields["metric_every"].setValue(5)
    dialog.fields["seed"].setValue(3)


def test_train_from_the_dialog_watch_pause_resume_quit_reopen_and_restore(
        qtbot, project_root: Path, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window = open_window(qtbot, project_root)
    ws = window.training_workspace
    monitor = ws.monitor
    assert ws.presenter.job_id is None and "&Train" in [a.text() for a in window.menuBar().actions()]
    assert ws.actions.train.shortcut().toString() == "Ctrl+T"

    # -- queue from the dialog
    ws.actions.train.trigger()
    dialog = ws.dialog
    assert dialog is not None and dialog.isVisible()
    type_into_dialog(dialog)
    assert dialog.params() == TINY and dialog.error() == ""
    assert dialog.command().argv[:2] == ("facesmith", "run")  # keep_backups/metric_every: no train option
    assert dialog.grab().save(str(artifacts_dir / "training_dialog.png"))
    dialog.queue_button.click()
    job_id = ws.presenter.job_id
    assert job_id is not None and ws.dock.isVisible()
    assert window.document.store.row("jobs", job_id)["kind"] == "train_swap"

    # -- metrics arrive in the monitor
    qtbot.waitUntil(lambda: monitor.plot.point_count("src_loss") >= 3, timeout=90_000)
    assert monitor.stats().state == "running" and monitor.pause_button.isEnabled()
    steps, losses = monitor.plot.data("src_loss")
    assert (steps > 0).all() and (losses > 0).all()
    assert monitor.stat_labels["ms_per_iter"].text() != "–"

    # -- pause, then resume with the monitor's buttons
    monitor.pause_button.click()
    qtbot.waitUntil(lambda: monitor.stats().state == "paused", timeout=60_000)
    paused_at = monitor.stats().iteration
    assert 0 < paused_at < TARGET, "the run ended before the pause took effect: raise TARGET"
    assert monitor.resume_button.isEnabled() and not monitor.pause_button.isEnabled()
    monitor.resume_button.click()
    qtbot.waitUntil(lambda: monitor.stats().state == "running", timeout=60_000)
    qtbot.waitUntil(lambda: monitor.plot.data("src_loss")[0][-1] > paused_at, timeout=60_000)
    assert "resume" in monitor.plot.events()[2]  # the resume is a marker on the curve
    ws.dock.raise_()
    qtbot.wait(200)
    assert window.grab().save(str(artifacts_dir / "training_workspace_running.png"))

    # -- quit while it trains: the job checkpoints and waits; reopening continues it.
    # A short quit timeout: the worker re-claims a job that a shutdown request sent back to
    # the queue and trains on until the editor terminates it (engine behaviour, reported).
    window.prefs = window.prefs.replace(quit_timeout_s=1.0)
    window.close()
    with ProjectStore.open(project_root, readonly=True) as store:
        job = JobQueue(store).job(job_id)
    assert job.state == "queued" and paused_at < job.checkpoint["iteration"] < TARGET, (job.state, job.checkpoint)
    window = open_window(qtbot, project_root)
    ws, monitor = window.training_workspace, window.training_workspace.monitor
    assert ws.presenter.job_id == job_id  # restored from the project's meta table
    assert monitor.plot.point_count("src_loss") >= 3  # the curve so far, at once
    qtbot.waitUntil(lambda: monitor.stats().state == "running", timeout=60_000)
    qtbot.waitUntil(lambda: monitor.stats().state == "done", timeout=120_000)

    # -- what the monitor shows of the finished run
    assert monitor.stats().iteration == TARGET
    steps, _ = monitor.plot.data("src_loss")
    assert steps[-1] == TARGET and len(steps) >= TARGET // 5
    assert monitor.plot.events()[2].count("resume") >= 2, monitor.plot.events()
    assert monitor.preview.count() >= 2 and monitor.preview.current_step() >= TARGET - 25
    entries = monitor.checkpoints.entries()
    assert entries[0].is_latest and entries[0].iteration == TARGET
    # Backups keep weights only (the optimizer state lives in latest): the disk budget.
    assert entries[0].has_optimizer
    backups = [e for e in entries if not e.is_latest and not e.has_optimizer and e.iteration < TARGET]
    assert backups, entries

    # -- restore a backup
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    chosen = backups[-1]
    assert monitor.checkpoints.select_path(chosen.path)
    with qtbot.waitSignal(window.document.changed):
        monitor.checkpoints.restore_button.click()
    assert asked and f"iteration {chosen.iteration:,}" in asked[0]
    model_id = ws.presenter.model_id
    assert window.document.store.row("models", model_id)["iteration"] == chosen.iteration
    folder = project_root / "models" / str(model_id)
    assert checkpoint.read_state(checkpoint.find_latest(folder))["iteration"] == chosen.iteration
    assert monitor.checkpoints.entries()[0].iteration == chosen.iteration
    assert monitor.stats().iteration == chosen.iteration
    assert "restore" in monitor.plot.events()[2]
    assert TARGET in [e.iteration for e in monitor.checkpoints.entries() if not e.is_latest]  # kept as a backup
    monitor.plot.log_check.click()  # a view setting that must survive reopening
    ws.dock.raise_()
    qtbot.wait(200)
    assert window.grab().save(str(artifacts_dir / "training_workspace_restored.png"))
    assert monitor.grab().save(str(artifacts_dir / "training_monitor.png"))
    points = monitor.plot.point_count("src_loss")
    window.close()

    # -- reopen: the same job, its curves, the view settings and the dialog's last choices
    again = open_window(qtbot, project_root, start_engine=False)
    ws = again.training_workspace
    assert ws.presenter.job_id == job_id and ws.presenter.model_id == model_id
    assert ws.monitor.plot.point_count("src_loss") == points
    assert not ws.monitor.plot.log_scale()
    assert ws.monitor.stats().state == "done" and ws.monitor.stats().iteration == chosen.iteration
    assert ws.monitor.preview.count() >= 2 and ws.monitor.checkpoints.entries()
    assert again.document.store.meta(META_KEY)
    ws.actions.continue_training.trigger()
    assert ws.dialog.continuing() is not None and ws.dialog.continuing().id == model_id
    assert ws.dialog.params()["iterations"] == chosen.iteration + 10_000
    ws.dialog.reject()
    ws.actions.train.trigger()
    assert ws.dialog.params() == TINY  # the last queued choices
    ws.dialog.reject()
    again.close()
