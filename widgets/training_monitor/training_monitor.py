"""TrainingMonitor: one training job at a glance, and its controls.

Shows the followed job's state and speed (iteration, ms/iteration, samples/s, ETA to the
target), the preview grid with its history, the loss curves (:class:`LossPlot`, with the
collapse guard's rollbacks as markers), and the model's checkpoints. It takes plain
values (:class:`TrainingStats`, :class:`CheckpointEntry`, arrays, paths) and reports what
the user asks as signals; the presenter (``app/presenters/training_presenter.py``)
reads the project and talks to the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from widgets.plots import LossPlot
from widgets.qt_utils import FlowLayout, signals_blocked
from widgets.training_monitor.checkpoint_list import CheckpointList
from widgets.training_monitor.model import (
    CAN_PAUSE,
    CAN_RESUME,
    CAN_STOP,
    CheckpointEntry,
    TrainingStats,
    format_duration,
    format_number,
)
from widgets.training_monitor.preview_panel import PreviewPanel

_STATE_COLOURS = {
    "queued": "#9a9aa0", "running": "#409cff", "paused": "#e0b040",
    "done": "#5cc878", "failed": "#ff6060", "cancelled": "#8a8a90",
}
_STAT_NAMES = ("iteration", "ms_per_iter", "samples_per_s", "eta", "lr")
_STAT_LABELS = {"iteration": "Iteration", "ms_per_iter": "ms/iteration", "samples_per_s": "samples/s",
                "eta": "ETA", "lr": "learning rate"}
_STAT_TIPS = {
    "iteration": "The model's iteration and the job's target (0: train until stopped)",
    "ms_per_iter": "Milliseconds per training step, averaged since the last metric row",
    "samples_per_s": "Faces per second through the model (src and dst together)",
    "eta": "Time to the target iteration at the current speed",
    "lr": "The learning rate of the latest step (warm-up, schedule and rollbacks change it)",
}


class TrainingMonitor(QtWidgets.QWidget):
    """The training job's stats, previews, loss curves and checkpoints.

    Signals
    -------
    pause_requested(), resume_requested(), stop_requested() : the user's job controls.
    restore_requested(str) : make this checkpoint folder the model's latest.
    preview_index_changed(int) : the user moved through the preview history.
    job_chosen(int) : the user picked another training job to follow.
    """

    pause_requested = QtCore.Signal()
    resume_requested = QtCore.Signal()
    stop_requested = QtCore.Signal()
    restore_requested = QtCore.Signal(str)
    preview_index_changed = QtCore.Signal(int)
    job_chosen = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._stats = TrainingStats()
        self.job_combo = QtWidgets.QComboBox()
        self.job_combo.setMinimumContentsLength(18)
        self.job_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.job_combo.setToolTip("The training job shown here")
        job_label = QtWidgets.QLabel("&Job")
        job_label.setBuddy(self.job_combo)
        self.state_label = QtWidgets.QLabel()
        self.state_label.setMinimumWidth(70)
        self.pause_button = QtWidgets.QPushButton("&Pause")
        self.pause_button.setToolTip("Checkpoint and pause the job; Resume continues from there")
        self.resume_button = QtWidgets.QPushButton("Res&ume")
        self.resume_button.setToolTip("Queue the paused job again; it continues from its checkpoint")
        self.stop_button = QtWidgets.QPushButton("St&op")
        self.stop_button.setToolTip("Checkpoint and end the job (continue the model later with a new job)")
        # Flow layouts: in a narrow dock the buttons and the figures wrap onto more rows
        # rather than widening the dock past the screen or being cut.
        top = FlowLayout()
        top.addWidget(job_label)
        top.addWidget(self.job_combo)
        top.addWidget(self.state_label)
        for b in (self.pause_button, self.resume_button, self.stop_button):
            top.addWidget(b)

        self.model_label = QtWidgets.QLabel()
        self.model_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.stat_labels: dict[str, QtWidgets.QLabel] = {}
        grid = FlowLayout(spacing=14)
        for name in _STAT_NAMES:
            caption = QtWidgets.QLabel(_STAT_LABELS[name])
            caption.setStyleSheet("color: #9a9aa0; font-size: 11px;")
            value = QtWidgets.QLabel("–")
            value.setStyleSheet("font-size: 15px; font-weight: 600;")
            value.setToolTip(_STAT_TIPS[name])
            caption.setToolTip(_STAT_TIPS[name])
            cell = QtWidgets.QWidget()
            cell_layout = QtWidgets.QVBoxLayout(cell)
            cell_layout.setContentsMargins(0, 0, 0, 0)
            cell_layout.setSpacing(0)
            cell_layout.addWidget(caption)
            cell_layout.addWidget(value)
            grid.addWidget(cell)
            self.stat_labels[name] = value
        self.status_label = QtWidgets.QLabel()
        self.status_label.setStyleSheet("color: #9a9aa0;")
        self.status_label.setMinimumWidth(50)
        self.status_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)

        self.preview = PreviewPanel()
        self.plot = LossPlot()
        self.checkpoints = CheckpointList()
        checkpoints_box = QtWidgets.QGroupBox("Checkpoints")
        box_layout = QtWidgets.QVBoxLayout(checkpoints_box)
        box_layout.setContentsMargins(4, 4, 4, 4)
        box_layout.addWidget(self.checkpoints)
        # Preview and curves stack in a tall dock and sit side by side in a wide one
        # (see resizeEvent); the checkpoints stay below either way.
        self.views = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.views.setChildrenCollapsible(False)
        self.views.addWidget(self.preview)
        self.views.addWidget(self.plot)
        self.views.setStretchFactor(0, 2)
        self.views.setStretchFactor(1, 3)
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.views)
        self.splitter.addWidget(checkpoints_box)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addWidget(self.model_label)
        layout.addLayout(grid)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.splitter, 1)

        self.pause_button.clicked.connect(self.pause_requested)
        self.resume_button.clicked.connect(self.resume_requested)
        self.stop_button.clicked.connect(self.stop_requested)
        self.checkpoints.restore_requested.connect(self.restore_requested)
        self.preview.index_changed.connect(self.preview_index_changed)
        self.job_combo.activated.connect(self._on_job_activated)
        self.setFocusProxy(self.job_combo)  # "show the monitor" lands on its first control
        self.set_stats(self._stats)

    # ------------------------------------------------------------------ data in
    def set_jobs(self, jobs: Sequence[tuple[int, str]], current: int | None) -> None:
        """The training jobs to choose from, as (id, label), and the one shown."""
        with signals_blocked(self.job_combo):
            self.job_combo.clear()
            for job_id, label in jobs:
                self.job_combo.addItem(label, job_id)
            index = self.job_combo.findData(current) if current is not None else -1
            self.job_combo.setCurrentIndex(index)
        self.job_combo.setPlaceholderText("choose a training job" if jobs else
                                          "no training jobs yet (Train ▸ Train Swap Model…)")

    def set_stats(self, stats: TrainingStats) -> None:
        self._stats = stats
        state = stats.state
        colour = _STATE_COLOURS.get(state, "#dcdcde")
        self.state_label.setText(f"<b style='color:{colour}'>{state or '–'}</b>")
        self.model_label.setText(stats.model or "no model")
        target = f" / {stats.target:,}" if stats.target else ""
        self.stat_labels["iteration"].setText(f"{stats.iteration:,}{target}" if state else "–")
        self.stat_labels["ms_per_iter"].setText(format_number(stats.ms_per_iter, ".0f"))
        self.stat_labels["samples_per_s"].setText(format_number(stats.samples_per_s, ".0f"))
        self.stat_labels["eta"].setText(format_duration(stats.eta_s) if state in CAN_STOP else "–")
        self.stat_labels["lr"].setText(format_number(stats.lr, ".2g"))
        self.progress.setValue(int(1000 * min(stats.iteration / stats.target, 1.0)) if stats.target else 0)
        metrics = QtGui.QFontMetrics(self.status_label.font())
        width = max(self.status_label.width(), 200)
        self.status_label.setText(metrics.elidedText(stats.status_text, QtCore.Qt.TextElideMode.ElideRight, width))
        self.status_label.setToolTip(stats.status_text)
        self.pause_button.setEnabled(state in CAN_PAUSE)
        self.resume_button.setEnabled(state in CAN_RESUME)
        self.stop_button.setEnabled(state in CAN_STOP)

    def stats(self) -> TrainingStats:
        return self._stats

    def set_previews(self, paths: Sequence[str | Path], steps: Sequence[int] | None = None) -> None:
        self.preview.set_paths(paths, steps)

    def set_preview_images(self, images: Sequence[np.ndarray], steps: Sequence[int] | None = None) -> None:
        self.preview.set_images(images, steps)

    def set_checkpoints(self, entries: Sequence[CheckpointEntry]) -> None:
        self.checkpoints.set_entries(entries)

    def set_restore_allowed(self, allowed: bool, reason: str = "") -> None:
        self.checkpoints.set_restore_allowed(allowed, reason)

    def clear(self) -> None:
        """Forget the shown job's data (before following another)."""
        self.plot.clear()
        self.preview.clear()
        self.checkpoints.set_entries([])
        self.set_stats(TrainingStats())

    # ------------------------------------------------------------------ internals
    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        size = self.views.size()
        wide = size.width() > 1.4 * size.height() and size.width() >= 560
        orientation = QtCore.Qt.Orientation.Horizontal if wide else QtCore.Qt.Orientation.Vertical
        if self.views.orientation() != orientation:
            self.views.setOrientation(orientation)
            extent = size.width() if wide else size.height()
            self.views.setSizes([int(extent * 0.45), int(extent * 0.55)])

    def _on_job_activated(self, index: int) -> None:
        job_id = self.job_combo.itemData(index)
        if job_id is not None:
            self.job_chosen.emit(int(job_id))
