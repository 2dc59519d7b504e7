"""FrameView: the current frame with its faces drawn, zoom and pan, selection, landmark edits.

A custom-painted QWidget rather than a QGraphicsView: one picture and a handful of faces
need no scene graph, and painting by hand lets the view keep exactly one pre-scaled copy
of the frame for zoomed-out views (a 4K frame at fit is then a plain blit) and draw
zoomed-in views pixel-accurately with nearest-neighbour sampling (see ``frame_layer``).
The drag logic lives in the Qt-free ``landmark_editor``, the drawing of faces in
``overlay_painter``; this class wires mouse and keys to them.

The view takes plain data (:meth:`set_frame` with an RGB ``uint8`` array, :meth:`set_faces`
with :class:`~widgets.frame_view.model.FaceOverlay` values) and reports what the user
does through snake_case signals. It never keeps a landmark edit: the presenter stores it
and calls :meth:`set_faces` again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFocusEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QMenu, QWidget

from widgets.frame_view.box_drawer import BoxDrawer
from widgets.frame_view.frame_layer import FrameLayer
from widgets.frame_view.landmark_editor import LandmarkEditor
from widgets.frame_view.model import FaceOverlay, GroupName, face_at, landmark_at
from widgets.frame_view.overlay_painter import OverlayStyle, paint_drawn_box, paint_faces
from widgets.frame_view.transform import MAX_SCALE, MIN_SCALE, ViewTransform

BACKGROUND: Final = QColor("#151517")
#: How close (view pixels) the cursor must be to grab a landmark.
GRAB_TOLERANCE_PX: Final = 7.0
#: How far (view pixels) the cursor must move before a pressed landmark follows it.
DRAG_SLOP_PX: Final = 2.0
#: Wheel zoom per notch (120 units of angle delta).
WHEEL_STEP: Final = 1.2


class FrameView(QWidget):
    """The central frame view of the editor.

    Mouse: wheel zooms about the cursor (0.1x-32x); middle drag or Space+drag pans;
    double-click on empty space fits; a click in a face box selects it (Ctrl toggles),
    a click on empty space clears; double-click on a face activates it. In landmark
    edit mode a drag on a landmark moves it (Shift, or the group set with
    :meth:`set_edit_group`: its whole group); Escape during the drag puts it back.
    Keys: ``+``/``-`` zoom, ``0``/``F`` fit, ``1`` actual pixels; in edit mode with one face
    selected ``C``/``V`` ask to copy landmarks from the previous/next frame and ``R`` to
    reset them (also in the right-click menu). The editor adds its own entries to a face's
    right-click menu with :meth:`add_face_menu_section`.

    Signals
    -------
    selection_changed(object) : np.ndarray of the selected face ids, after a user click.
    face_activated(int) : a face was double-clicked.
    landmarks_edited(int, object) : face id and new float32 (68, 2) landmarks; once per drag.
    copy_landmarks_requested(int, int) : face id, direction (-1 previous frame, +1 next).
    reset_landmarks_requested(int) : face id.
    view_changed() : zoom or pan changed.
    face_box_drawn(object) : ``(x, y, w, h)`` frame pixels of a box dragged over empty
        frame space ("add a face here"; also the right-click menu on empty space).
    track_face_requested(int) : face id ("Track this face" in a face's right-click menu).
    """

    selection_changed = Signal(object)
    face_activated = Signal(int)
    landmarks_edited = Signal(int, object)
    copy_landmarks_requested = Signal(int, int)
    reset_landmarks_requested = Signal(int)
    view_changed = Signal()
    face_box_drawn = Signal(object)
    track_face_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._frame = FrameLayer()
        self._faces: list[FaceOverlay] = []
        self._selected: dict[int, None] = {}
        self._show_landmarks = True
        self._show_labels = True
        self._editing = False
        self._editor = LandmarkEditor()
        self._boxes = BoxDrawer()
        self._press_pos: QPointF | None = None
        self._hover: tuple[int, int] | None = None
        self._transform = ViewTransform()
        self._fitted = True
        self._pan_from: QPointF | None = None
        self._space_down = False
        self._menu_sections: list[Callable[[QMenu, np.ndarray], None]] = []
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setMinimumSize(64, 48)

    # ------------------------------------------------------------------ data in
    def set_frame(self, image: np.ndarray | None) -> None:
        """Show this frame: ``uint8`` RGB ``(H, W, 3)`` (grey and RGBA are accepted too).

        A frame of a new size is fitted; one of the same size keeps the zoom and pan, so
        scrubbing a zoomed-in view stays on the same spot.
        """
        old_size = self.frame_size()
        self._frame.set(image)
        if self._fitted or self.frame_size() != old_size:
            self._fit()
        self.update()

    def set_faces(self, faces: Sequence[FaceOverlay]) -> None:
        """Show these faces (replacing the previous ones). The selection is kept as is."""
        self._faces = list(faces)
        self._editor.set_faces(self._faces)
        self._hover = None
        self.update()

    def select_faces(self, ids: Iterable[int]) -> None:
        """Set the selection from outside (the grid, the presenter); emits nothing.

        The selection may name faces not on this frame (a grid selection spanning
        frames): the view highlights those it shows and keeps the rest.
        """
        self._selected = dict.fromkeys(int(i) for i in ids)
        self.update()

    def selected_ids(self) -> np.ndarray:
        return np.fromiter(self._selected, dtype=np.int64, count=len(self._selected))

    def set_show_landmarks(self, show: bool) -> None:
        self._show_landmarks = bool(show)
        if not show:
            self._abort_drag()
        self.update()

    def set_show_labels(self, show: bool) -> None:
        self._show_labels = bool(show)
        self.update()

    def set_edit_landmarks(self, enabled: bool) -> None:
        """Landmark edit mode: landmarks can be dragged, and are drawn larger."""
        self._editing = bool(enabled)
        if not enabled:
            self._abort_drag()
            self._hover = None
        self.setCursor(Qt.CursorShape.CrossCursor if enabled else Qt.CursorShape.ArrowCursor)
        self.update()

    def set_edit_group(self, group: GroupName | None) -> None:
        """The group buttons: drag this whole group from any of its points (None: points)."""
        self._editor.set_group(group)
        self.update()

    # ------------------------------------------------------------------ state out
    def frame(self) -> np.ndarray | None:
        return self._frame.array

    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) of the frame shown, or None."""
        return self._frame.size

    def faces(self) -> list[FaceOverlay]:
        return list(self._faces)

    def landmarks_visible(self) -> bool:
        return self._show_landmarks

    def is_editing_landmarks(self) -> bool:
        return self._editing

    def edit_group(self) -> GroupName | None:
        return self._editor.group

    def is_dragging(self) -> bool:
        return self._editor.active

    # ------------------------------------------------------------------ zoom and pan
    def transform(self) -> ViewTransform:
        return self._transform

    def set_transform(self, transform: ViewTransform) -> None:
        """Show the frame at this zoom and pan (to keep two views in step); emits nothing."""
        self._transform = transform
        self._fitted = False
        self.update()

    def scale(self) -> float:
        """View pixels per frame pixel."""
        return self._transform.scale

    def is_fitted(self) -> bool:
        return self._fitted

    def fit(self) -> None:
        """Show the whole frame, and keep it fitted when the view is resized."""
        self._fit()

    def zoom(self, factor: float, anchor: QPointF | tuple[float, float] | None = None) -> None:
        """Zoom by ``factor`` keeping the view point ``anchor`` (default: the centre) fixed."""
        if anchor is None:
            anchor = (self.width() / 2, self.height() / 2)
        elif isinstance(anchor, QPointF):
            anchor = (anchor.x(), anchor.y())
        self._set_transform(self._transform.zoomed(factor, anchor, min_scale=MIN_SCALE, max_scale=MAX_SCALE))

    def map_to_frame(self, pos: QPointF) -> QPointF:
        """A view position -> frame pixels (pixel centres at integers)."""
        return QPointF(*self._transform.point_to_frame(pos.x(), pos.y()))

    def map_from_frame(self, point: QPointF) -> QPointF:
        return QPointF(*self._transform.point_to_view(point.x(), point.y()))

    def _fit(self) -> None:
        self._fitted = True
        size = self.frame_size()
        if size is not None:
            self._set_transform(ViewTransform.fitted(size, (self.width(), self.height())), fitted=True)

    def _set_transform(self, transform: ViewTransform, *, fitted: bool = False) -> None:
        self._fitted = fitted
        if transform == self._transform:
            return
        self._transform = transform
        self.update()
        self.view_changed.emit()

    # ------------------------------------------------------------------ painting
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(event.rect(), BACKGROUND)
        self._frame.paint(painter, self._transform, (self.width(), self.height()), self.devicePixelRatioF())
        drag_face = self._editor.face_id
        preview = self._editor.preview()
        style = OverlayStyle(
            selected=frozenset(self._selected),
            show_landmarks=self._show_landmarks,
            show_labels=self._show_labels,
            editing=self._editing,
            landmarks_override={} if drag_face is None or preview is None else {drag_face: preview},
            active=None if drag_face is None else (drag_face, self._editor.indices),
            hover=self._hover,
            group=self._editor.group,
        )
        paint_faces(painter, self._faces, self._transform, style)
        drawn = self._boxes.box()
        if drawn is not None:
            paint_drawn_box(painter, self._transform, drawn)
        painter.end()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._fitted:
            self._fit()
        elif event.oldSize().isValid():
            # Keep what was in the middle of the view in the middle.
            dw = (event.size().width() - event.oldSize().width()) / 2
            dh = (event.size().height() - event.oldSize().height()) / 2
            self._set_transform(self._transform.panned(dw, dh))

    # ------------------------------------------------------------------ mouse
    def _frame_point(self, pos: QPointF) -> tuple[float, float]:
        return self._transform.point_to_frame(pos.x(), pos.y())

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        button = event.button()
        pos = event.position()
        if self._editor.active:
            if button == Qt.MouseButton.RightButton:
                self._abort_drag()
            event.accept()
            return
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_down):
            self._pan_from = pos
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if button != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        modifiers = event.modifiers()
        point = self._frame_point(pos)
        toggle = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
        if self._editing and self._show_landmarks and not toggle and self._editor.begin(
            point,
            group_mode=bool(modifiers & Qt.KeyboardModifier.ShiftModifier),
            tolerance_px=GRAB_TOLERANCE_PX,
            scale=self._transform.scale,
            prefer=self._selected,
            slop_px=DRAG_SLOP_PX,
        ):
            face_id = self._editor.face_id
            if face_id is not None and face_id not in self._selected:
                self._change_selection([face_id])
            self.setCursor(Qt.CursorShape.SizeAllCursor)
            self.update()
            event.accept()
            return
        self._click_select(point, toggle=toggle)
        if not toggle and face_at(self._faces, point) is None and self._frame.size is not None:
            self._boxes.begin(point, self._frame.size)
            self._press_pos = pos
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        pos = event.position()
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            self._set_transform(self._transform.panned(delta.x(), delta.y()))
            return
        if self._editor.active:
            self._editor.move(self._frame_point(pos))
            self.update()
            return
        if self._boxes.armed and self._press_pos is not None:
            moved = pos - self._press_pos
            self._boxes.move(self._frame_point(pos), max(abs(moved.x()), abs(moved.y())), DRAG_SLOP_PX)
            self.update()
            return
        if self._editing and self._show_landmarks:
            hover = landmark_at(self._faces, self._frame_point(pos), tolerance_px=GRAB_TOLERANCE_PX,
                                scale=self._transform.scale, prefer=self._selected)
            if hover != self._hover:
                self._hover = hover
                self.setCursor(Qt.CursorShape.PointingHandCursor if hover else Qt.CursorShape.CrossCursor)
                self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        button = event.button()
        if self._pan_from is not None and button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self._restore_cursor()
            return
        if self._editor.active and button == Qt.MouseButton.LeftButton:
            edit = self._editor.end()
            self._restore_cursor()
            self.update()
            # The drag state is gone before the signal goes out, so a presenter that
            # answers with set_faces (the stored result) is what the view shows next.
            if edit is not None:
                self.landmarks_edited.emit(edit.face_id, edit.landmarks)
            return
        if self._boxes.armed and button == Qt.MouseButton.LeftButton:
            box = self._boxes.end()
            self._press_pos = None
            self.update()
            if box is not None:
                self.face_box_drawn.emit(box)
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() != Qt.MouseButton.LeftButton or self._space_down:
            super().mouseDoubleClickEvent(event)
            return
        face_id = face_at(self._faces, self._frame_point(event.position()))
        if face_id is None:
            self.fit()
        else:
            self.face_activated.emit(face_id)
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not delta or self._frame.size is None:
            event.ignore()
            return
        self.zoom(WHEEL_STEP ** (delta / 120.0), event.position())
        if self._editor.active:
            self._editor.move(self._frame_point(event.position()))
        event.accept()

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 - Qt override
        if self._editor.active:
            return
        face_id = self._face_under(QPointF(event.pos()))
        menu = self.empty_menu(self._frame_point(QPointF(event.pos()))) if face_id is None \
            else self.landmark_menu(face_id)
        if menu is None:
            return
        menu.exec(event.globalPos())
        menu.deleteLater()

    def landmark_menu(self, face_id: int) -> QMenu:
        """The right-click menu of a face (built on demand; tests trigger its actions)."""
        menu = QMenu(self)
        # The key hints are text only: the keys themselves are handled in keyPressEvent.
        copy_previous = menu.addAction("Copy landmarks from previous frame\tC")
        copy_previous.triggered.connect(lambda: self.copy_landmarks_requested.emit(face_id, -1))
        copy_next = menu.addAction("Copy landmarks from next frame\tV")
        copy_next.triggered.connect(lambda: self.copy_landmarks_requested.emit(face_id, 1))
        reset = menu.addAction("Reset landmarks\tR")
        reset.triggered.connect(lambda: self.reset_landmarks_requested.emit(face_id))
        menu.addSeparator()
        track = menu.addAction("Track this face")
        track.triggered.connect(lambda: self.track_face_requested.emit(face_id))
        targets = self.menu_targets(face_id)
        for section in self._menu_sections:
            menu.addSeparator()
            section(menu, targets)
        return menu

    def add_face_menu_section(self, section: Callable[[QMenu, np.ndarray], None]) -> None:
        """Add ``section(menu, face_ids)`` to every face's right-click menu: the editor's own
        actions (merge settings, "don't swap") for the faces in :meth:`menu_targets`."""
        self._menu_sections.append(section)

    def menu_targets(self, face_id: int) -> np.ndarray:
        """The faces a right-click on ``face_id`` applies to: the selection when the face is
        in it, else the face alone."""
        return self.selected_ids() if face_id in self._selected else np.array([face_id], np.int64)

    def empty_menu(self, point: tuple[float, float]) -> QMenu | None:
        """The right-click menu on frame space without a face: "Add a face here" puts a
        box of a fifth of the frame's height around the click (drag a box for another size)."""
        size = self._frame.size
        if size is None or not (0 <= point[0] < size[0] and 0 <= point[1] < size[1]):
            return None
        side = max(16.0, size[1] / 5)
        x = min(max(point[0] - side / 2, 0.0), size[0] - side)
        y = min(max(point[1] - side / 2, 0.0), size[1] - side)
        menu = QMenu(self)
        add = menu.addAction("Add a face here")
        add.triggered.connect(lambda: self.face_box_drawn.emit((x, y, side, side)))
        return menu

    # ------------------------------------------------------------------ keys
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key = event.key()
        if key == Qt.Key.Key_Escape and self._editor.active:
            self._abort_drag()
        elif key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_down = True
                if self._pan_from is None:
                    self.setCursor(Qt.CursorShape.OpenHandCursor)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(WHEEL_STEP)
        elif key == Qt.Key.Key_Minus:
            self.zoom(1 / WHEEL_STEP)
        elif key in (Qt.Key.Key_0, Qt.Key.Key_F):
            self.fit()
        elif key == Qt.Key.Key_1:
            self.zoom(1.0 / self._transform.scale)
        elif key in (Qt.Key.Key_C, Qt.Key.Key_V, Qt.Key.Key_R) and self._editing and not event.modifiers():
            face_id = self._single_selected_face()
            if face_id is None:
                event.ignore()
            elif key == Qt.Key.Key_R:
                self.reset_landmarks_requested.emit(face_id)
            else:
                self.copy_landmarks_requested.emit(face_id, -1 if key == Qt.Key.Key_C else 1)
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            if self._pan_from is None:
                self._restore_cursor()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt override
        # A Space released elsewhere never reaches us; don't leave the view stuck in pan mode.
        self._space_down = False
        super().focusOutEvent(event)

    # ------------------------------------------------------------------ internals
    def _face_under(self, pos: QPointF) -> int | None:
        point = self._frame_point(pos)
        if self._show_landmarks:
            hit = landmark_at(self._faces, point, tolerance_px=GRAB_TOLERANCE_PX,
                              scale=self._transform.scale, prefer=self._selected)
            if hit is not None:
                return hit[0]
        return face_at(self._faces, point)

    def _single_selected_face(self) -> int | None:
        shown = [f.face_id for f in self._faces if f.face_id in self._selected]
        return shown[0] if len(shown) == 1 else None

    def _click_select(self, point: tuple[float, float], *, toggle: bool) -> None:
        face_id = face_at(self._faces, point)
        if toggle:
            if face_id is None:
                return
            ids = [i for i in self._selected if i != face_id]
            if face_id not in self._selected:
                ids.append(face_id)
        else:
            ids = [] if face_id is None else [face_id]
        self._change_selection(ids)

    def _change_selection(self, ids: list[int]) -> None:
        if ids == list(self._selected):
            return
        self._selected = dict.fromkeys(ids)
        self.update()
        self.selection_changed.emit(self.selected_ids())

    def _abort_drag(self) -> None:
        if self._editor.abort() is not None:
            self._restore_cursor()
            self.update()

    def _restore_cursor(self) -> None:
        if self._space_down:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.setCursor(Qt.CursorShape.CrossCursor if self._editing else Qt.CursorShape.ArrowCursor)
