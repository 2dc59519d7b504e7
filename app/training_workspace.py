"""The training workspace: the Train menu, the Train dialog and the Training monitor dock.

``install(window)`` is the one line :class:`~app.main_window.MainWindow` spends on it.
It adds:

- a **Train** menu: Train Swap Model… (Ctrl+T), Continue Training… (the followed
  model), Show Training Monitor (Ctrl+Shift+T), Pause / Resume / Stop Training;
- a **Training** dock holding a :class:`~widgets.training_monitor.TrainingMonitor`,
  driven by :class:`~app.presenters.training_presenter.TrainingPresenter`;
- persistence in the project's ``meta`` table (key :data:`META_KEY`): the job the monitor
  follows, the plot's view settings and the dialog's last parameters, so reopening the
  project shows the same training where it was left. Running jobs need nothing here:
  the engine re-queues them when the editor quits and continues them when it opens.

Other workspaces (masks, merge) sit beside it the same way: their own module with an
``install`` function, their own dock, menu and meta key; nothing of this one is shared
but the window.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMenu, QMessageBox

from app.background import TaskRunner
from app.presenters.training_presenter import KIND, TrainingPresenter
from app.train_dialog import (
    AUTO_DEVICE,
    CPU_DEVICE,
    DeviceChoice,
    FaceColumns,
    ModelChoice,
    TrainDialog,
    TrainInputs,
    device_choices,
    probe_gpus,
)
from engine.errors import FacesmithError
from engine.project.models import Job
from engine.project.person_thumbs import person_thumbnails
from widgets.training_monitor import TrainingMonitor

if TYPE_CHECKING:
    from app.main_window import MainWindow

#: The workspace's state in the project's ``meta`` table (JSON).
META_KEY: Final = "workspace.training"


class TrainingActions(NamedTuple):
    train: QAction
    continue_training: QAction
    show_monitor: QAction
    pause: QAction
    resume: QAction
    stop: QAction


def install(window: MainWindow) -> TrainingWorkspace:
    """Add the training workspace to ``window`` (its menu, dock and presenter)."""
    return TrainingWorkspace(window)


class TrainingWorkspace(QObject):
    """The training half of the editor's workspaces (see the module docstring).

    Attributes
    ----------
    monitor : the dock's TrainingMonitor.
    presenter : follows one training job and carries out the monitor's requests.
    actions : the Train menu's actions (tests trigger them).
    dialog : the last Train dialog opened (None before).
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.document = window.document
        self.dialog: TrainDialog | None = None
        self._devices: tuple[DeviceChoice, ...] = (AUTO_DEVICE, CPU_DEVICE)
        self.settings = self._load_settings()
        self.monitor = TrainingMonitor()
        self.monitor.setObjectName("training_monitor")
        self.dock = QDockWidget("Training", window)
        self.dock.setObjectName("dock_training")
        self.dock.setWidget(self.monitor)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        window.tabifyDockWidget(window.graph_dock, self.dock)
        window.faces_dock.raise_()
        self.presenter = TrainingPresenter(self.document, self.monitor, window.engine, self)
        self.actions = self._build_actions()
        self._build_menu()
        plot = self.monitor.plot
        plot.set_log_scale(bool(self.settings.get("log_scale", True)))
        plot.set_smoothing(float(self.settings.get("smoothing", plot.smoothing())))
        plot.set_raw_visible(bool(self.settings.get("raw", True)))
        plot.log_scale_changed.connect(lambda on: self._remember(log_scale=on))
        plot.smoothing_changed.connect(lambda a: self._remember(smoothing=a))
        plot.raw_visible_changed.connect(lambda on: self._remember(raw=on))
        self.presenter.followed.connect(self._on_followed)
        self.presenter.message.connect(lambda text: window.statusBar().showMessage(text, 10_000))
        window.jobs_view.selection_changed.connect(self._on_job_selected)
        self._runner = TaskRunner(self, threads=1)
        self._runner.finished.connect(self._on_probe)
        self._runner.submit("gpus", probe_gpus)
        window.installEventFilter(self)
        job = self.settings.get("job")
        known = {j.id for j in self.presenter.training_jobs()}
        self.presenter.follow(job if job in known else self.presenter.latest_job())

    # ------------------------------------------------------------------ construction
    def _build_actions(self) -> TrainingActions:
        def act(text: str, shortcut: str | None, tip: str) -> QAction:
            a = QAction(text, self.window)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.setStatusTip(tip)
            a.setToolTip(tip)
            return a

        a = TrainingActions(
            train=act("&Train Swap Model…", "Ctrl+T", "Choose a preset or a model to continue, faces and device; "
                                                      "queue the training job"),
            continue_training=act("&Continue Training…", None, "Queue more training of the model the monitor shows"),
            show_monitor=act("Show Training &Monitor", "Ctrl+Shift+T", "Show the Training dock and focus it"),
            pause=act("&Pause Training", None, "Checkpoint and pause the training job the monitor shows"),
            resume=act("&Resume Training", None, "Continue the paused training job from its checkpoint"),
            stop=act("&Stop Training", None, "Checkpoint and end the training job the monitor shows"),
        )
        a.train.triggered.connect(lambda: self.open_dialog())
        a.continue_training.triggered.connect(lambda: self.open_dialog(model=self.presenter.model_id))
        a.show_monitor.triggered.connect(self.show_monitor)
        a.pause.triggered.connect(self.presenter.pause)
        a.resume.triggered.connect(self.presenter.resume)
        a.stop.triggered.connect(self.presenter.stop)
        return a

    def _build_menu(self) -> None:
        bar = self.window.menuBar()
        menu = QMenu("&Train", self.window)
        a = self.actions
        for action in (a.train, a.continue_training, None, a.show_monitor, None, a.pause, a.resume, a.stop):
            menu.addSeparator() if action is None else menu.addAction(action)
        view = next((m.menu() for m in bar.actions() if m.menu() is not None and m.text() == "&View"), None)
        bar.insertMenu(view.menuAction(), menu) if view is not None else bar.addMenu(menu)
        if view is not None:
            view.addAction(self.dock.toggleViewAction())
        menu.aboutToShow.connect(self._update_actions)
        self.menu = menu
        self._update_actions()

    def _update_actions(self) -> None:
        state = self.presenter.job.state if self.presenter.job else ""
        self.actions.continue_training.setEnabled(self.presenter.model_id is not None)
        self.actions.pause.setEnabled(state in ("queued", "running"))
        self.actions.resume.setEnabled(state == "paused")
        self.actions.stop.setEnabled(state in ("queued", "running", "paused"))

    # ------------------------------------------------------------------ the dialog
    def train_inputs(self) -> TrainInputs:
        """The project's models, persons, faces and the devices, for the dialog."""
        store = self.document.store
        models = tuple(c for m in store.models("swap") if (c := ModelChoice.from_model(m)) is not None)
        everyone = store.persons()
        persons = tuple((p.id, p.name) for p in everyone)
        return TrainInputs(store.root, models, persons, FaceColumns.from_columns(store.face_columns()), self._devices,
                           clips=tuple((c.id, c.name, c.role) for c in store.clips()),
                           person_pictures=person_thumbnails(store),
                           uncertain_persons=frozenset(p.id for p in everyone if p.uncertain))

    def open_dialog(self, *, model: int | None = None) -> TrainDialog:
        """Train Swap Model… (or continue ``model``): opens the dialog, queues on accept."""
        dialog = TrainDialog(self.train_inputs(), initial=self.settings.get("dialog") or {}, model=model,
                             parent=self.window)
        dialog.accepted.connect(lambda: self.queue(dialog.params()))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def queue(self, params: dict[str, Any]) -> Job | None:
        """Queue a training job with ``params`` and follow it in the monitor."""
        try:
            job = self.window.engine.submit(KIND, params)
        except FacesmithError as exc:
            QMessageBox.warning(self.window, "Train swap model", str(exc))
            return None
        self._remember(dialog=params)
        self.presenter.follow(job.id)
        self.show_monitor()
        self.window.statusBar().showMessage(f"training job {job.id} queued", 5000)
        return job

    # ------------------------------------------------------------------ the monitor
    def show_monitor(self) -> None:
        self.dock.show()
        self.dock.raise_()
        self.monitor.setFocus()

    def _on_followed(self, job_id: int) -> None:
        self._remember(job=None if job_id < 0 else job_id, model=self.presenter.model_id)
        self._update_actions()

    def _on_job_selected(self, job_id: int) -> None:
        if job_id < 0:
            return
        job = next((j for j in self.presenter.training_jobs() if j.id == job_id), None)
        if job is not None:
            self.presenter.follow(job_id)

    def _on_probe(self, key: object, gpus: object) -> None:
        if key != "gpus":
            return
        self._devices = device_choices(list(gpus))  # type: ignore[call-overload]
        if self.dialog is not None:
            try:
                self.dialog.set_devices(self._devices)
            except RuntimeError:  # the dialog was closed and deleted meanwhile
                self.dialog = None

    # ------------------------------------------------------------------ persistence
    def _load_settings(self) -> dict[str, Any]:
        try:
            data = json.loads(self.document.store.meta(META_KEY) or "{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _remember(self, **values: Any) -> None:
        changed = {k: v for k, v in values.items() if self.settings.get(k) != v}
        if not changed:
            return
        self.settings.update(changed)
        try:
            self.document.store.set_meta(META_KEY, json.dumps(self.settings))
        except FacesmithError as exc:  # a read-only project: the view still works
            self.window.statusBar().showMessage(f"workspace settings not saved: {exc}", 5000)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.close()
        return False

    def close(self) -> None:
        """Before the window closes the document: stop polling, save the view settings."""
        self._remember(job=self.presenter.job_id, model=self.presenter.model_id)
        self.presenter.close()
        self._runner.wait(3000)
