"""The mask workspace: the painter dock, the Masks menu, XSeg from the editor.

``install(window)`` adds everything to a :class:`~app.main_window.MainWindow` in one call:

- a **Mask Painter** dock, tabified with the Faces dock. The frame view stays the central
  widget and keeps showing the whole frame (the face's context, its track on the
  timeline below) while the painter shows the face's crop; the grid and the painter are
  one tab apart, and the dock can be floated or widened for big crops. A central
  alternative would hide the frame and the timeline the painter navigates with.
- an **XSeg Preview** dock tabified with the Jobs dock: the newest training preview
  (image | label | prediction) of a ``train_xseg`` job, next to its progress row.
- a **Masks** menu (:class:`MaskActions`): the painter's tools and views (scoped to the
  painter, DeepFaceLab's keys where it has them), A/D and Ctrl+A/Ctrl+D navigation along
  the track, copying a label to the next face through the alignments, Train XSeg on
  Keyframes… and Apply XSeg… (the job kinds' own parameter forms), and masks on the
  grid's thumbnails.
- **undo**: a ``QUndoGroup`` holds the document's stack and the painter's; the window's
  Undo/Redo actions are replaced by the group's, so Ctrl+Z follows the focus: inside
  the painter it undoes painter steps, anywhere else the document's edits as before.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoGroup
from PySide6.QtWidgets import QApplication, QDockWidget, QMenu, QMessageBox, QWidget

from app.dialogs import JobDialog
from app.presenters.grid_presenter import CropFiles
from app.presenters.mask_presenter import MaskedCropFiles, MaskPresenter
from engine.errors import FacesmithError
from engine.project.changes import ChangeSet
from engine.project.models import Job
from widgets.mask_painter import MaskPainterPanel, TrainingPreview

if TYPE_CHECKING:
    from app.main_window import MainWindow

TRAIN_HELP = {
    "model": "continue training this XSeg model (id); empty: a new model from the settings below",
    "name": "name of a new model",
    "resolution": "input size of a new model (DeepFaceLab uses 256)",
    "face_type": "framing of a new model's crops (whole takes in the forehead)",
    "width": "channels of the first layer (32 as DeepFaceLab; 8-16 trains faster)",
    "clips": 'train on the keyframes of these clips, e.g. ["interview"]; empty: every keyframe',
    "persons": "and/or of these person ids; empty: every person",
    "iterations": "training steps to add",
    "holdout": "share of keyframes held out to measure IoU on faces the model has not seen",
    "propagated": "masks carried from keyframes to their neighbours added as training data (0: none)",
    "preview_every": "a preview image every this many steps (shown in the XSeg Preview dock)",
    "device": "auto, cpu or cuda[:N]",
}
APPLY_HELP = {
    "model": "the XSeg model (id); empty: the most recently trained one",
    "clips": 'predict masks for the faces of these clips, e.g. ["interview"]; empty: every clip',
    "persons": "and/or of these person ids; empty: every person",
    "skip_keyframes": "leave keyframes without a prediction (their label wins anyway)",
    "device": "auto, cpu or cuda[:N]",
}
#: How long after the painter moved the timeline its in-between frames are not followed.
_NAVIGATION_S = 2.0


class MaskActions(NamedTuple):
    """The Masks menu. The first twelve belong to the painter panel (its shortcuts work
    while the painter has focus); navigation and copy are scoped to the painter too."""

    include: QAction
    exclude: QAction
    brush: QAction
    eraser: QAction
    view_image: QAction
    view_mask: QAction
    view_overlay: QAction
    show_predicted: QAction
    fill_hull: QAction
    predicted_to_polygons: QAction
    remove_mask: QAction
    help: QAction
    edit_masks: QAction
    prev_face: QAction
    next_face: QAction
    prev_keyframe: QAction
    next_keyframe: QAction
    copy_to_next: QAction
    train_xseg: QAction
    apply_xseg: QAction
    grid_masks: QAction


def install(window: MainWindow) -> MaskWorkspace:
    """Add the mask workspace to ``window`` (its docks, Masks menu, undo group)."""
    return MaskWorkspace(window)


class MaskWorkspace(QObject):
    """Everything the mask painter adds to the editor window.

    Attributes
    ----------
    panel : the painter (:class:`~widgets.mask_painter.MaskPainterPanel`).
    presenter : which face it shows; its ``undo_stack`` holds the painter's steps.
    undo_group : the document's and the painter's stacks; the window's Undo/Redo follow it.
    actions : :class:`MaskActions`.
    last_dialog : the XSeg job dialog opened last (tests accept it).
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.document = window.document
        self.panel = MaskPainterPanel()
        self.presenter = MaskPresenter(self.document, self.panel, self)
        self.dock = self._dock("Mask Painter", "dock_mask_painter", self.panel, Qt.DockWidgetArea.RightDockWidgetArea)
        window.tabifyDockWidget(window.faces_dock, self.dock)
        window.faces_dock.raise_()
        self.preview = TrainingPreview()
        self.preview_dock = self._dock("XSeg Preview", "dock_xseg_preview", self.preview,
                                       Qt.DockWidgetArea.BottomDockWidgetArea)
        window.tabifyDockWidget(window.jobs_dock, self.preview_dock)
        window.jobs_dock.raise_()
        self.undo_group = QUndoGroup(self)
        self.undo_group.addStack(self.document.undo_stack)
        self.undo_group.addStack(self.presenter.undo_stack)
        self.undo_group.setActiveStack(self.document.undo_stack)
        self._rewire_undo()
        self.actions = self._build_actions()
        self._build_menu()
        self.last_dialog: JobDialog | None = None
        self._job_kinds: dict[int, str] = {}
        self._preview_shown: tuple[int, str] | None = None
        self._navigating: tuple[int, int, float] | None = None
        self._closed = False
        self._connect()
        window.installEventFilter(self)

    # ------------------------------------------------------------------ construction
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.window.addDockWidget(area, dock)
        return dock

    def _rewire_undo(self) -> None:
        """Put the group's Undo/Redo where the window had the document's."""
        w = self.window
        replaced = []
        for old, make in ((w.actions.undo, self.undo_group.createUndoAction),
                          (w.actions.redo, self.undo_group.createRedoAction)):
            new = make(w, "&Undo" if old is w.actions.undo else "&Redo")
            new.setShortcuts(old.shortcuts())
            new.setStatusTip(old.statusTip())
            for holder in old.associatedObjects():
                if isinstance(holder, QWidget):
                    holder.insertAction(old, new)
                    holder.removeAction(old)
            old.setShortcuts([])
            replaced.append(new)
        w.actions = w.actions._replace(undo=replaced[0], redo=replaced[1])

    def _build_actions(self) -> MaskActions:
        def act(text: str, keys: str | None, tip: str, *, painter: bool = True) -> QAction:
            a = QAction(text, self.window)
            if keys:
                a.setShortcut(QKeySequence(keys))
            a.setStatusTip(tip)
            a.setToolTip(tip)
            if painter:  # active while the painter has focus
                a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.panel.addAction(a)
            return a

        p = self.panel.actions
        acts = MaskActions(
            **p._asdict(),
            edit_masks=act("&Edit Masks", "Ctrl+M", "show the selected face in the mask painter", painter=False),
            prev_face=act("Previous Face", "A", "the previous face of the track"),
            next_face=act("Next Face", "D", "the next face of the track"),
            prev_keyframe=act("Previous Keyframe", "Ctrl+A", "the previous face of the track with a mask"),
            next_keyframe=act("Next Keyframe", "Ctrl+D", "the next face of the track with a mask"),
            copy_to_next=act("&Copy Mask to Next Face", "C",
                             "copy this face's mask to the next face of the track, moved with the face"),
            train_xseg=act("&Train XSeg on Keyframes…", None, "queue XSeg training on the keyframes", painter=False),
            apply_xseg=act("&Apply XSeg…", None, "queue predicting masks for the faces of clips or persons",
                           painter=False),
            grid_masks=act("Show Masks on &Face Thumbnails", None,
                           "darken the face grid's thumbnails outside each face's mask", painter=False),
        )
        acts.grid_masks.setCheckable(True)
        self.panel.add_help_actions([acts.prev_face, acts.next_face, acts.prev_keyframe, acts.next_keyframe,
                                     acts.copy_to_next])
        return acts

    def _build_menu(self) -> None:
        a = self.actions
        menu = QMenu("&Masks", self.window)
        groups = ((a.edit_masks,), (a.include, a.exclude, a.brush, a.eraser),
                  (a.view_image, a.view_mask, a.view_overlay, a.show_predicted),
                  (a.prev_face, a.next_face, a.prev_keyframe, a.next_keyframe),
                  (a.fill_hull, a.predicted_to_polygons, a.copy_to_next, a.remove_mask),
                  (a.train_xseg, a.apply_xseg, a.grid_masks), (a.help,))
        for i, group in enumerate(groups):
            if i:
                menu.addSeparator()
            for action in group:
                menu.addAction(action)
        self.menu = menu
        bar = self.window.menuBar()
        view = next((m.menuAction() for m in (x.menu() for x in bar.actions()) if m is not None
                     and m.title() == "&View"), None)
        if view is not None:
            bar.insertMenu(view, menu)
            view.menu().addAction(self.dock.toggleViewAction())
            view.menu().addAction(self.preview_dock.toggleViewAction())
        else:
            bar.addMenu(menu)

    def _connect(self) -> None:
        a, w, pr = self.actions, self.window, self.presenter
        a.edit_masks.triggered.connect(self.edit_masks)
        a.prev_face.triggered.connect(lambda: pr.step_face(-1))
        a.next_face.triggered.connect(lambda: pr.step_face(1))
        a.prev_keyframe.triggered.connect(lambda: pr.step_keyframe(-1))
        a.next_keyframe.triggered.connect(lambda: pr.step_keyframe(1))
        a.copy_to_next.triggered.connect(pr.copy_to_next)
        a.train_xseg.triggered.connect(self.train_dialog)
        a.apply_xseg.triggered.connect(self.apply_dialog)
        a.grid_masks.toggled.connect(self.set_grid_masks)
        pr.face_shown.connect(self._on_face_shown)
        pr.message.connect(lambda text: w.statusBar().showMessage(text, 5000))
        self.dock.visibilityChanged.connect(self._on_visibility)
        w.faces_panel.grid.selection_changed.connect(self._follow_selection)
        w.frame_view.selection_changed.connect(self._follow_selection)
        w.frame_presenter.frame_shown.connect(self._on_frame_shown)
        w.engine.jobs_changed.connect(self._on_jobs)
        w.engine.job_finished.connect(self._on_job_finished)
        w.jobs_view.selection_changed.connect(self._on_job_selected)
        self.document.changed.connect(self._on_changed)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_focus_changed)

    # ------------------------------------------------------------------ the painter
    def edit_masks(self) -> None:
        """Show the painter with the selected face (or the one on the frame) and focus it."""
        self.dock.show()
        self.dock.raise_()
        self.presenter.set_active(True)
        face_id = self._chosen_face()
        if face_id is not None and (self.presenter.face is None or self.presenter.face.id != face_id):
            self.presenter.show_face(face_id)
        self.activate_painter()

    def activate_painter(self) -> None:
        """Give the painter the focus (and Ctrl+Z)."""
        self.panel.canvas.setFocus(Qt.FocusReason.OtherFocusReason)
        self.undo_group.setActiveStack(self.presenter.undo_stack)

    def _chosen_face(self) -> int | None:
        grid = self.window.faces_panel.grid
        selected = [int(i) for i in grid.selected_ids()]
        current = grid.current_id()
        if selected:
            return current if current in selected else selected[0]
        shown = [int(i) for i in self.window.frame_view.selected_ids()]
        if shown:
            return shown[0]
        clip = self.window.frame_presenter.clip
        store = self.document.store
        if clip is not None:
            here = store.faces(clip_id=clip.id, frames=(self.window.frame_presenter.frame,
                                                        self.window.frame_presenter.frame + 1),
                               include_excluded=False)
            if here:
                return here[0].id
        first = store.scalar("SELECT min(id) FROM faces WHERE excluded = 0")
        return None if first is None else int(first)

    def _on_visibility(self, visible: bool) -> None:
        self.presenter.set_active(visible)
        if visible and self.presenter.face is None:
            face_id = self._chosen_face()
            if face_id is not None:
                self.presenter.show_face(face_id)

    def _follow_selection(self, ids: np.ndarray) -> None:
        ids = [int(i) for i in np.asarray(ids).ravel()]
        if not ids:
            return
        current = self.window.faces_panel.grid.current_id()
        chosen = current if current in ids else ids[0]
        if self.presenter.face is None or self.presenter.face.id != chosen:
            self.presenter.show_face(chosen)

    def _on_face_shown(self, face_id: int) -> None:
        """The painter moved to a face (A/D, keyframes, copy, a selection): the frame view
        and timeline go to its frame, and the grid selects it unless it already is."""
        face = self.presenter.face
        if face is None:
            return
        self._navigating = (face.clip_id, face.frame, time.monotonic())
        self.window.frame_presenter.show_face(face_id)
        grid = self.window.faces_panel.grid
        if face_id not in set(int(i) for i in grid.selected_ids()):
            grid.select_faces([face_id])

    def _on_frame_shown(self, clip_id: int, frame: int) -> None:
        nav = self._navigating
        if nav is not None and time.monotonic() - nav[2] < _NAVIGATION_S:
            if (nav[0], nav[1]) == (clip_id, frame):
                self._navigating = None
            return  # a frame the timeline passed on its way to the painter's face
        self._navigating = None
        self.presenter.follow_frame(clip_id, frame)

    def _on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if self._closed or new is None:
            return
        if new is self.panel or self.panel.isAncestorOf(new):
            self.undo_group.setActiveStack(self.presenter.undo_stack)
        elif self.window.isAncestorOf(new):
            self.undo_group.setActiveStack(self.document.undo_stack)

    # ------------------------------------------------------------------ XSeg jobs
    def train_dialog(self) -> JobDialog | None:
        """Train XSeg on Keyframes… : continues the latest XSeg model when there is one."""
        keys = int(self.document.store.scalar("SELECT count(*) FROM masks WHERE kind = 'label'") or 0)
        if keys == 0:
            QMessageBox.information(self.window, "Train XSeg", "No keyframes yet: paint the mask of a few varied "
                                    "faces first (or Fill from Hull and correct it).")
            return None
        models = self.document.store.models("xseg")
        initial: dict[str, object] = {}
        if models:
            initial["model"] = max(models, key=lambda m: (m.updated_at, m.id)).id
        return self._open("train_xseg", "Train XSeg on keyframes", initial, TRAIN_HELP,
                          f"Train a segmentation model on the project's {keys} keyframe"
                          f"{'s' if keys != 1 else ''}. Its preview shows in the XSeg Preview dock.")

    def apply_dialog(self) -> JobDialog | None:
        """Apply XSeg… : to the clip on screen by default, or to persons."""
        models = self.document.store.models("xseg")
        if not models:
            QMessageBox.information(self.window, "Apply XSeg", "There is no XSeg model yet: train one first.")
            return None
        initial: dict[str, object] = {"model": max(models, key=lambda m: (m.updated_at, m.id)).id}
        face = self.presenter.face
        clip_id = face.clip_id if face is not None else (
            self.window.frame_presenter.clip.id if self.window.frame_presenter.clip is not None else None)
        if clip_id is not None:
            initial["clips"] = [self.document.store.clip(clip_id).name]
        return self._open("apply_xseg", "Apply XSeg", initial, APPLY_HELP,
                          "Predict a mask for every face of the chosen clips and persons. "
                          "The painter and the face grid show them when they arrive.")

    def _open(self, kind: str, title: str, initial: dict, help: dict, intro: str) -> JobDialog:
        dialog = JobDialog(kind, title=title, initial=initial, help=help, intro=intro, parent=self.window)
        dialog.accepted.connect(lambda: self._submit(kind, dialog.params))
        dialog.open()
        self.last_dialog = dialog
        return dialog

    def _submit(self, kind: str, params: dict) -> Job | None:
        try:
            job = self.window.engine.submit(kind, params)
        except FacesmithError as exc:
            QMessageBox.warning(self.window, "Queue job", str(exc))
            return None
        self._job_kinds[job.id] = kind
        return job

    def _on_jobs(self, jobs: list[Job]) -> None:
        for job in jobs:
            self._job_kinds[job.id] = job.kind
            if job.kind == "train_xseg" and job.preview_path:
                first = self._preview_shown is None or self._preview_shown[0] != job.id
                if self._show_preview(job) and first:
                    self.preview_dock.show()
                    self.preview_dock.raise_()

    def _on_job_selected(self, job_id: int) -> None:
        if job_id >= 0 and self._job_kinds.get(job_id) == "train_xseg":
            try:
                self._show_preview(self.window.engine.queue.job(job_id))
            except FacesmithError:
                pass

    def _show_preview(self, job: Job) -> bool:
        if not job.preview_path or self._preview_shown == (job.id, job.preview_path):
            return False
        path = self.document.root / job.preview_path
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            return False
        self.preview.set_preview(cv2.cvtColor(image, cv2.COLOR_BGR2RGB),
                                 f"XSeg training · job {job.id} · {job.status_text or job.state}  "
                                 "(rows: image | label | prediction)")
        self._preview_shown = (job.id, job.preview_path)
        return True

    def _on_job_finished(self, job_id: int, changes: ChangeSet) -> None:
        kind = self._job_kinds.get(job_id)
        if kind is None:
            try:
                kind = self._job_kinds[job_id] = self.window.engine.queue.job(job_id).kind
            except FacesmithError:
                return
        if kind == "apply_xseg" and not self.actions.grid_masks.isChecked():
            self.actions.grid_masks.setChecked(True)  # the predictions arrived: show them

    # ------------------------------------------------------------------ the face grid
    def set_grid_masks(self, on: bool) -> None:
        grid = self.window.faces_panel.grid
        root = self.document.root
        grid.set_thumbnail_source(MaskedCropFiles(root) if on else CropFiles(root))

    def _on_changed(self, changes: ChangeSet) -> None:
        if not self.actions.grid_masks.isChecked() or not changes.touches("masks"):
            return
        mask_ids = changes.ids("masks")
        grid = self.window.faces_panel.grid
        if mask_ids is None:
            grid.invalidate_thumbnails(grid.shown_ids())
            return
        faces = {int(v["face_id"]) for r in changes.rows if r.table == "masks"
                 for v in (r.before, r.after) if v is not None and "face_id" in v}
        ids = sorted(mask_ids)
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            faces |= {r[0] for r in self.document.store.query(
                f"SELECT face_id FROM masks WHERE id IN ({', '.join('?' * len(part))})", part)}
        if faces:
            grid.invalidate_thumbnails(sorted(faces))

    # ------------------------------------------------------------------ lifecycle
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.window and event.type() == QEvent.Type.Close and not self._closed:
            self.close()
        return False

    def close(self) -> None:
        self._closed = True
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.disconnect(self._on_focus_changed)
        self.presenter.close()
