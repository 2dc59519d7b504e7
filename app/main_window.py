"""MainWindow: docks and menus only; each feature lives in its own widget and presenter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QInputDialog,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QWidget,
)

from app import interop_menu, mask_workspace, merge_workspace, shortcuts, system_workspace, training_workspace
from app.actions import build_actions
from app.dialogs import JobDialog, PreferencesDialog, ask_role
from app.document import ProjectDocument
from app.engine_client import EngineClient
from app.presenters.browser_presenter import BrowserPresenter
from app.presenters.curation_presenter import CurationPresenter
from app.presenters.frame_presenter import FramePresenter
from app.presenters.empty_states import EmptyStates
from app.presenters.grid_presenter import GridPresenter
from app.settings import load_preferences, save_preferences
from engine.errors import FacesmithError
from widgets.face_graph import FaceGraphWidget
from widgets.face_grid import FaceGridPanel
from widgets.frame_view import FrameView
from widgets.jobs_view import JobsView
from widgets.log_view import LogView
from widgets.project_browser import ProjectBrowser
from widgets.timeline import TimelineView

VIDEO_FILTER = ("Videos and stills (*.mp4 *.mov *.mkv *.avi *.mpg *.mpeg *.m4v *.webm *.mts *.ts *.jpg *.jpeg *.png "
                "*.webp *.tif *.tiff *.bmp);;All files (*)")
EXTRACT_HELP = {
    "clips": 'clip names or ids as a JSON list, e.g. ["interview"]; empty: every clip (of the role)',
    "role": "extract every clip of this role",
    "every_nth": "scan every n-th frame (1 = every frame)",
    "min_face": "ignore faces narrower than this many pixels",
    "max_faces": "keep at most this many faces per frame (the largest)",
    "face_type": "crop framing: half, mid_full, full, whole (default, with forehead), head",
    "size": "side of the aligned crops in pixels (64-1024)",
    "smooth": "temporal landmark smoothing along each track, 0 (off) to 1 (strong)",
    "embed_sample": "faces per track used for the identity embedding",
}


class MainWindow(QMainWindow):
    """The editor window for one open project."""

    def __init__(self, document: ProjectDocument, *, start_engine: bool = True) -> None:
        super().__init__()
        self.document = document
        self.setWindowTitle(f"{document.name} — Facesmith")
        self.resize(1440, 900)
        self.setAcceptDrops(True)
        self.prefs = load_preferences()
        self.engine = EngineClient(document.root, self, auto_start=start_engine and self.prefs.auto_start_engine)
        self.actions = build_actions(
            self, document.undo_stack.createUndoAction(self, "&Undo"), document.undo_stack.createRedoAction(self, "&Redo")
        )
        # Views
        self.frame_view = FrameView()
        self.frame_view.set_show_landmarks(self.prefs.show_landmarks)
        self.setCentralWidget(self.frame_view)
        self.browser = ProjectBrowser()
        self.timeline = TimelineView()
        self.faces_panel = FaceGridPanel()
        self.face_graph = FaceGraphWidget()
        self.jobs_view = JobsView()
        self.log_view = LogView()
        self.browser_dock = self._dock("Project", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.faces_dock = self._dock("Faces", self.faces_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.graph_dock = self._dock("Face Graph", self.face_graph, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.faces_dock, self.graph_dock)
        self.faces_dock.raise_()
        self.timeline_dock = self._dock("Timeline", self.timeline, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.jobs_dock = self._dock("Jobs", self.jobs_view, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.log_dock = self._dock("Log", self.log_view, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.jobs_dock, self.log_dock)
        self.jobs_dock.raise_()
        self.log_view.follow(document.root / "logs" / "engine.log")
        # Presenters
        self.browser_presenter = BrowserPresenter(document, self.browser, self)
        self.grid_presenter = GridPresenter(document, self.faces_panel, self)
        self.frame_presenter = FramePresenter(document, self.frame_view, self.timeline, self.faces_panel.grid, self)
        self.curation = CurationPresenter(document, self.face_graph, self)
        self._build_menus()
        self._connect()
        # Workspaces: each installs its docks, menus and presenter (one line each).
        self.mask_workspace = mask_workspace.install(self)
        self.training_workspace = training_workspace.install(self)
        self.merge_workspace = merge_workspace.install(self)
        self.interop_menu = interop_menu.install(self)  # File ▸ Import / Export
        self.system_workspace = system_workspace.install(self)  # Help ▸ System, models' disk use
        self.shortcuts_action = shortcuts.install(self)  # Help ▸ Keyboard Shortcuts
        self.empty_states = EmptyStates(self)
        for dock in self.findChildren(QDockWidget):
            if self.dockWidgetArea(dock) == Qt.DockWidgetArea.RightDockWidgetArea:
                _scroll_when_narrow(dock)
        self.jobs_view.set_jobs(self.engine.jobs())
        self.statusBar().showMessage(str(document.root))
        self.resizeDocks([self.browser_dock, self.faces_dock], [320, 460], Qt.Orientation.Horizontal)
        self.resizeDocks([self.timeline_dock, self.jobs_dock], [130, 170], Qt.Orientation.Vertical)
        self._restore_layout()
        clips = self.browser.ids("clip")
        if clips:
            self.frame_presenter.show_clip(clips[0])

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
        edit.addSeparator()
        edit.addAction(a.edit_landmarks)
        faces = self.menuBar().addMenu("F&aces")
        for action in (a.keep_person, a.merge_persons, a.split_faces, None, a.keep_best):
            faces.addSeparator() if action is None else faces.addAction(action)
        engine = self.menuBar().addMenu("E&ngine")
        for action in (a.extract, a.check_clips, None, a.start_engine):
            engine.addSeparator() if action is None else engine.addAction(action)
        view = self.menuBar().addMenu("&View")
        view.addAction(a.show_landmarks)
        view.addSeparator()
        for dock in (self.browser_dock, self.faces_dock, self.graph_dock, self.timeline_dock, self.jobs_dock,
                     self.log_dock):
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
        a.extract.triggered.connect(self.extract_dialog)
        a.check_clips.triggered.connect(lambda: self.engine.submit("probe_clips"))
        a.keep_person.triggered.connect(self._keep_person)
        a.merge_persons.triggered.connect(self._merge_persons)
        a.split_faces.triggered.connect(self._split_faces)
        a.keep_best.triggered.connect(self._keep_best)
        self.curation.selection_changed.connect(self._on_graph_selection)
        self.faces_panel.grid.selection_changed.connect(self.curation.select_faces)
        a.start_engine.triggered.connect(lambda: self.engine.ensure_engine(force=True))
        a.show_landmarks.setChecked(self.prefs.show_landmarks)
        a.show_landmarks.toggled.connect(self.frame_view.set_show_landmarks)
        a.edit_landmarks.toggled.connect(self.frame_view.set_edit_landmarks)
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
        self.browser_presenter.clip_chosen.connect(self.frame_presenter.show_clip)
        self.frame_presenter.error.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.frame_presenter.frame_shown.connect(self._on_frame_shown)

    # ------------------------------------------------------------------ curation
    def _on_graph_selection(self, ids: np.ndarray) -> None:
        self.faces_panel.grid.select_faces(ids)
        self.frame_view.select_faces([int(i) for i in ids])

    def _guarded(self, title: str, fn) -> None:  # noqa: ANN001 - an edit that may refuse
        try:
            fn()
        except (FacesmithError, ValueError) as exc:
            QMessageBox.warning(self, title, str(exc))

    def _keep_person(self) -> None:
        chosen = self.browser.selected_ids("person")
        if len(chosen) != 1:
            QMessageBox.information(self, "Keep person", "Select one person in the project browser first.")
            return
        self._guarded("Keep person", lambda: self.curation.keep_person_confirmed(self, chosen[0]))

    def _merge_persons(self) -> None:
        chosen = self.browser.selected_ids("person")
        if len(chosen) < 2:
            QMessageBox.information(self, "Merge persons", "Select two or more persons in the project browser.")
            return
        self._guarded("Merge persons", lambda: self.curation.merge_persons(chosen[1:], chosen[0]))

    def _split_faces(self) -> None:
        ids = [int(i) for i in self.faces_panel.grid.selected_ids()]
        if not ids:
            QMessageBox.information(self, "New person", "Select faces in the face grid first.")
            return
        name, ok = QInputDialog.getText(self, "New person", f"Name for the person of {len(ids)} faces:")
        if ok and name.strip():
            self._guarded("New person", lambda: self.curation.split_faces(ids, name.strip()))

    def _keep_best(self) -> None:
        self._guarded("Keep best faces", lambda: self.curation.keep_best_confirmed(self))

    # ------------------------------------------------------------------ views
    def _on_frame_shown(self, clip_id: int, frame: int) -> None:
        clip = self.frame_presenter.clip
        if clip is not None and clip.id == clip_id:
            self.statusBar().showMessage(f"{clip.name}  frame {frame} / {clip.frame_count - 1}")

    def _update_title(self, clean: bool) -> None:
        self.setWindowTitle(f"{'' if clean else '• '}{self.document.name} — Facesmith")

    # ------------------------------------------------------------------ commands
    def add_clips(self, paths: list[str], role: str) -> None:
        """Add clips as one undoable step (undo removes them again)."""
        from engine.project.clips import add_sources

        n = len(paths)
        skipped: list = []

        def add(store):  # noqa: ANN001, ANN202
            result = add_sources(store, paths, role)
            skipped.extend(result.skipped)
            return result.changes

        try:
            self.document.execute(f"Add {n} {role} clip{'s' if n != 1 else ''}", add)
        except FacesmithError as exc:
            QMessageBox.warning(self, "Cannot add clips", str(exc))
        if skipped:  # unreadable files in an image folder: the rest was added
            QMessageBox.information(self, "Some files were left out", "\n".join(f"{p}: {why}" for p, why in skipped))

    def extract_dialog(self) -> JobDialog:
        """Extract… : the extraction job's parameters, preset from the preferences."""
        initial = {"face_type": self.prefs.default_face_type, "size": self.prefs.default_crop_size}
        clip = self.frame_presenter.clip
        if clip is not None:
            initial["clips"] = [clip.name]
        dialog = JobDialog("extract", title="Extract faces", initial=initial, help=EXTRACT_HELP, parent=self,
                           offer_defaults=frozenset({"backend"}),  # FAN without its packages or weights
                           intro="Detect faces, landmarks, alignment, pose, sharpness and identity. "
                                 "Frames already extracted are skipped.")
        dialog.accepted.connect(lambda: self.engine.submit("extract", dialog.params))
        dialog.open()
        return dialog

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

    def _on_job_failed(self, job_id: int, summary: str) -> None:
        self.statusBar().showMessage(f"job {job_id} failed: {summary} (details in the Jobs dock)", 10000)

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
        self.merge_workspace.close()
        self.engine.shutdown(timeout_ms=int(self.prefs.quit_timeout_s * 1000))
        self.browser_presenter.close()
        self.frame_presenter.close()
        self.grid_presenter.close()
        self.document.close()
        super().closeEvent(event)


def _scroll_when_narrow(dock: QDockWidget) -> None:
    """Let a side dock be narrower than its contents' minimum (it scrolls instead), so the
    panels tabbed on the right never squeeze the frame view, the one view that must be big."""
    inner = dock.widget()
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setMinimumWidth(300)
    area.setWidget(inner)
    dock.setWidget(area)


def remember_project(root: Path) -> None:
    settings = QSettings()
    recent = [p for p in (settings.value("recent_projects") or []) if p != str(root)]
    settings.setValue("recent_projects", [str(root), *recent][:10])
