"""MainWindow: docks and menus only; each feature lives in its own widget or presenter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QImage, QPixmap
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QWidget,
)

from app.actions import Actions, build_actions
from app.document import ProjectDocument
from app.engine_client import EngineClient
from engine.errors import FacesmithError
from app.dialogs import PreferencesDialog, ask_role
from app.presenters.browser_presenter import BrowserPresenter
from app.settings import load_preferences, save_preferences
from widgets.log_view import LogView
from widgets.project_browser import ProjectBrowser
from widgets.jobs_view import JobsView

VIDEO_FILTER = "Videos (*.mp4 *.mov *.mkv *.avi *.mpg *.mpeg *.m4v *.webm *.mts *.ts);;All files (*)"


class MainWindow(QMainWindow):
    """The editor window for one open project."""

    def __init__(self, document: ProjectDocument, *, start_engine: bool = True) -> None:
        super().__init__()
        self.document = document
        self.setWindowTitle(f"{document.name} — Facesmith")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.prefs = load_preferences()
        self.engine = EngineClient(document.root, self, auto_start=start_engine)
        self.actions = build_actions(
            self, document.undo_stack.createUndoAction(self, "&Undo"), document.undo_stack.createRedoAction(self, "&Redo")
        )
        self.preview = QLabel("Select a clip to see its first frame.")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(320, 240)
        self.preview.setStyleSheet("background: #151517; color: #88888c;")
        self.setCentralWidget(self.preview)
        self.browser = ProjectBrowser()
        self.jobs_view = JobsView()
        self.log_view = LogView()
        self.browser_dock = self._dock("Project", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.jobs_dock = self._dock("Jobs", self.jobs_view, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.log_dock = self._dock("Log", self.log_view, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.jobs_dock, self.log_dock)
        self.jobs_dock.raise_()
        self.log_view.follow(document.root / "logs" / "engine.log")
        self.browser_presenter = BrowserPresenter(document, self.browser, self)
        self._build_menus()
        self._connect()
        self.jobs_view.set_jobs(self.engine.jobs())
        self.statusBar().showMessage(str(document.root))
        self.resizeDocks([self.browser_dock], [430], Qt.Orientation.Horizontal)
        self.resizeDocks([self.jobs_dock], [190], Qt.Orientation.Vertical)
        self._restore_layout()
        ids = self.browser.ids("clip")
        if ids:
            self.show_clip(ids[0])

    # ------------------------------------------------------------------ construction
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        a = self.actions
        file_menu = self.menuBar().addMenu("&File")
        for action in (a.new_project, a.open_project):
            file_menu.addAction(action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addSeparator()
        for action in (a.add_src_clips, a.add_dst_clips, a.relink_clips, None, a.preferences, None, a.quit):
            file_menu.addSeparator() if action is None else file_menu.addAction(action)
        edit = self.menuBar().addMenu("&Edit")
        edit.addAction(a.undo)
        edit.addAction(a.redo)
        engine = self.menuBar().addMenu("E&ngine")
        engine.addAction(a.check_clips)
        engine.addAction(a.start_engine)
        view = self.menuBar().addMenu("&View")
        for dock in (self.browser_dock, self.jobs_dock, self.log_dock):
            view.addAction(dock.toggleViewAction())

    def _connect(self) -> None:
        a = self.actions
        a.new_project.triggered.connect(self._new_project)
        a.open_project.triggered.connect(self._open_project)
        a.add_src_clips.triggered.connect(lambda: self._add_clips_dialog("src"))
        a.add_dst_clips.triggered.connect(lambda: self._add_clips_dialog("dst"))
        a.relink_clips.triggered.connect(self._relink_dialog)
        a.quit.triggered.connect(self.close)
        a.preferences.triggered.connect(self._preferences)
        a.check_clips.triggered.connect(lambda: self.engine.submit("probe_clips"))
        a.start_engine.triggered.connect(lambda: self.engine.ensure_engine(force=True))
        self.document.undo_stack.cleanChanged.connect(self._update_title)
        self.engine.jobs_changed.connect(self.jobs_view.update_jobs)
        self.engine.job_finished.connect(lambda _id, cs: self.document.notify(cs))
        self.engine.job_failed.connect(self._on_job_failed)
        self.engine.engine_crashed.connect(self._on_engine_crashed)
        self.engine.engine_state_changed.connect(
            lambda on: self.statusBar().showMessage("engine running" if on else "engine idle", 3000))
        self.jobs_view.cancel_requested.connect(self._guard(self.engine.cancel))
        self.jobs_view.pause_requested.connect(self._guard(self.engine.pause))
        self.jobs_view.resume_requested.connect(self._guard(self.engine.resume))
        self.browser_presenter.clip_chosen.connect(self.show_clip)

    # ------------------------------------------------------------------ views
    def show_clip(self, clip_id: int) -> None:
        from engine.media import thumbnail

        clip = self.document.store.clip(clip_id)
        if clip.missing:
            self.preview.setText(f"{clip.name}: the file is missing\n{clip.path}")
            return
        try:
            frame = thumbnail(clip.path, clip.in_frame, max_size=max(self.preview.width(), self.preview.height(), 360))
        except FacesmithError as exc:
            self.preview.setText(str(exc))
            return
        self.preview.setPixmap(QPixmap.fromImage(_qimage(frame)))

    def _update_title(self, clean: bool) -> None:
        self.setWindowTitle(f"{'' if clean else '• '}{self.document.name} — Facesmith")

    # ------------------------------------------------------------------ commands
    def add_clips(self, paths: list[str], role: str) -> None:
        """Add clips as one undoable step (undo removes them again)."""
        from engine.project.clips import add_clips

        n = len(paths)
        try:
            self.document.execute(f"Add {n} {role} clip{'s' if n != 1 else ''}",
                                  lambda store: add_clips(store, paths, role)[1])
        except FacesmithError as exc:
            QMessageBox.warning(self, "Cannot add clips", str(exc))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        role = ask_role(self, len(paths))
        if role:
            self.add_clips(paths, role)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in QSettings().value("recent_projects") or []:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _checked=False, p=path: self._switch_to(Path(p)))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _preferences(self) -> None:
        dialog = PreferencesDialog(self.prefs, self)
        if dialog.exec():
            self.prefs = dialog.prefs
            save_preferences(self.prefs)
            self.engine.auto_start = self.prefs.auto_start_engine

    def _add_clips_dialog(self, role: str) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, f"Add {role} clips", "", VIDEO_FILTER)
        if paths:
            self.add_clips(paths, role)

    def _relink_dialog(self) -> None:
        from engine.project.clips import relink_missing

        folder = QFileDialog.getExistingDirectory(self, "Find missing clips in folder")
        if not folder:
            return
        try:
            results, changes = relink_missing(self.document.store, folder)
        except FacesmithError as exc:
            QMessageBox.warning(self, "Relink", str(exc))
            return
        self.document.notify(changes)
        QMessageBox.information(self, "Relink", f"{len(results)} clip(s) relinked.")

    def _new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New project", "", "Facesmith project (*.facesmith)")
        if path:
            from engine.project.store import ProjectStore

            try:
                ProjectStore.create(path).close()
            except FacesmithError as exc:
                QMessageBox.warning(self, "New project", str(exc))
                return
            self._switch_to(Path(path if path.endswith(".facesmith") else path + ".facesmith"))

    def _open_project(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open project (.facesmith folder)")
        if path:
            self._switch_to(Path(path))

    def _switch_to(self, path: Path) -> None:
        try:
            doc = ProjectDocument.open(path)
        except FacesmithError as exc:
            QMessageBox.warning(self, "Open project", str(exc))
            return
        remember_project(doc.root)
        window = MainWindow(doc)
        window.show()
        self.close()

    def _guard(self, fn):  # noqa: ANN001, ANN202 - wraps a job request with an error box
        def run(job_id: int) -> None:
            try:
                fn(job_id)
            except FacesmithError as exc:
                QMessageBox.warning(self, "Job", str(exc))
        return run

    def _on_job_failed(self, job_id: int, error: str) -> None:
        last = error.strip().splitlines()[-1] if error.strip() else "failed"
        self.statusBar().showMessage(f"job {job_id} failed: {last}", 10000)

    def _on_engine_crashed(self, code: int, tail: str) -> None:
        self.statusBar().showMessage(f"the engine stopped unexpectedly (exit code {code})", 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, "Engine crashed",
                          f"The engine process stopped unexpectedly (exit code {code}). "
                          "Jobs stay in the queue and continue when it starts again.", parent=self)
        box.setDetailedText(tail or "(the engine log is empty)")
        box.setModal(False)
        box.show()

    # ------------------------------------------------------------------ lifecycle
    def _restore_layout(self) -> None:
        settings = QSettings()
        geometry = settings.value("main_window/geometry")
        state = settings.value("main_window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        settings = QSettings()
        settings.setValue("main_window/geometry", self.saveGeometry())
        settings.setValue("main_window/state", self.saveState())
        self.engine.shutdown()
        self.browser_presenter.close()
        self.document.close()
        super().closeEvent(event)


def remember_project(root: Path) -> None:
    settings = QSettings()
    recent = [p for p in (settings.value("recent_projects") or []) if p != str(root)]
    settings.setValue("recent_projects", [str(root), *recent][:10])


def _qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
