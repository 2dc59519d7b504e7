"""MaskPainterCanvas: the face's crop with the frame around it, its label, and the tools.

A custom-painted widget over a Qt-free :class:`~widgets.mask_painter.model.PainterModel`:
mouse and keys become model events (in crop pixels), and the model's edits leave as one
``label_committed(label, text)`` signal per committed step. The canvas never stores
anything; the presenter writes the label and hands back what is stored (``set_label``).

Painting is layered and incremental, so a brush dab repaints only its own rectangle:

- the picture (:class:`~widgets.frame_view.frame_layer.FrameLayer`, converted once per face);
- the label's display raster as a tinted (overlay) or white-on-black (mask) layer,
  patched per dab (:class:`~widgets.mask_painter.layers.MaskLayer`);
- outlines, points, the draft polygon and the brush cursor, drawn as vectors.

With "predicted beside" on, a second pane to the right shows the XSeg prediction with the
same zoom and pan, and mirrors the cursor, so label and prediction compare point by point.
"""

from __future__ import annotations

import time
from typing import Final

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QCursor,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QRegion,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from engine.masks.shapes import LabelMask
from widgets.frame_view.frame_layer import FrameLayer
from widgets.frame_view.transform import ViewTransform
from widgets.mask_painter.geometry import Rect
from widgets.mask_painter.help_overlay import HelpOverlay
from widgets.mask_painter.layers import MaskLayer
from widgets.mask_painter.overlay_painter import paint_cursor, paint_shapes
from widgets.mask_painter.model import (
    POLYGON_TOOLS,
    TOOLS,
    VIEW_MODES,
    Button,
    PainterFace,
    PainterModel,
    PointerEvent,
    Tool,
    ViewMode,
)

BACKGROUND: Final = QColor(38, 38, 42)
LOADING: Final = QColor(58, 58, 64)
VEIL: Final = QColor(0, 0, 0, 110)
CROP_EDGE: Final = QColor(255, 255, 255, 90)
TINT: Final = (64, 160, 255)
WHITE: Final = (255, 255, 255)
#: Pick radius in screen pixels, whatever the zoom.
PICK_PX: Final = 7.0
ZOOM_STEP: Final = 1.25
MIN_SCALE: Final = 0.1
MAX_SCALE: Final = 40.0
PANE_GAP: Final = 4
_KEYS: Final = {
    Qt.Key.Key_Return: "enter", Qt.Key.Key_Enter: "enter", Qt.Key.Key_Escape: "escape",
    Qt.Key.Key_Backspace: "backspace", Qt.Key.Key_Delete: "delete",
    Qt.Key.Key_BracketLeft: "[", Qt.Key.Key_BracketRight: "]",
    Qt.Key.Key_BraceLeft: "{", Qt.Key.Key_BraceRight: "}",
}
_BUTTONS: Final[dict[Qt.MouseButton, Button]] = {
    Qt.MouseButton.LeftButton: "left", Qt.MouseButton.RightButton: "right", Qt.MouseButton.MiddleButton: "middle",
}


def _plain(e: QKeyEvent) -> bool:
    """No modifier but Shift (Ctrl+Delete and friends belong to actions)."""
    return not e.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                                | Qt.KeyboardModifier.MetaModifier)


class MaskPainterCanvas(QWidget):
    """Paints one face's label mask.

    Signals
    -------
    label_committed(object, str) : a committed step: the face's new
        :class:`~engine.masks.shapes.LabelMask` (``None``: no longer a keyframe) and what
        the step was ("Brush stroke", "Move point", …), once per step.
    tool_changed(str) : the tool changed (by key or call).
    brush_changed(float, float) : brush size (crop px) and hardness (0..1).
    view_mode_changed(str) : ``image``, ``mask`` or ``overlay``.
    show_predicted_changed(bool) : the prediction pane was shown or hidden.
    view_changed() : zoom or pan changed.

    Attributes
    ----------
    model : the Qt-free painter model (tests feed it events directly).
    paint_count : paints so far (benchmarks, tests).
    painted_at : ``time.perf_counter()`` at the end of the last paint (benchmarks).
    """

    label_committed = Signal(object, str)
    tool_changed = Signal(str)
    brush_changed = Signal(float, float)
    view_mode_changed = Signal(str)
    show_predicted_changed = Signal(bool)
    view_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = PainterModel()
        self._picture = FrameLayer()
        self._mask = MaskLayer()
        self._predicted = MaskLayer()
        self._mode: ViewMode = "overlay"
        self._opacity = 0.5
        self._show_predicted = False
        self._t = ViewTransform()
        self._fitted = True
        self._pan_from: QPointF | None = None
        self._lock_from: QPointF | None = None
        self._cursor_region = QRegion()
        self.paint_count = 0
        self.painted_at = 0.0
        self.help = HelpOverlay(self)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(160, 160)
        self._update_cursor_shape()

    # ================================================================== data in
    def set_face(self, face: PainterFace | None) -> None:
        """Show a face (its picture, label and prediction). The zoom is kept while the
        canvas size stays the same (stepping along a track), refitted otherwise."""
        old = self.model.face
        self.model.set_face(face)
        self._picture.set(None if face is None else face.image)
        if face is None or old is None or old.side != face.side or self._fitted:
            self._fit()
        self._sync(partial=False)
        self._rebuild_predicted()

    def set_picture(self, face_id: int, image: np.ndarray) -> None:
        """The picture of the face shown arrived (it loads after the label)."""
        face = self.model.face
        if face is None or face.face_id != face_id:
            return
        self._picture.set(image)
        self.update()

    def set_label(self, label: LabelMask | None) -> None:
        """Show the stored label (after undo, redo, or an edit elsewhere); emits nothing."""
        if self.model.face is None:
            return
        self.model.set_label(label)
        self._sync(partial=False)

    def set_predicted(self, mask: np.ndarray | None) -> None:
        self.model.set_predicted(mask)
        self._rebuild_predicted()
        self.update()

    @property
    def face_id(self) -> int | None:
        return None if self.model.face is None else self.model.face.face_id

    # ================================================================== settings
    def set_tool(self, tool: Tool) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        if tool == self.model.tool:
            return
        self.model.set_tool(tool)
        self._update_cursor_shape()
        self._sync(partial=False)
        self.tool_changed.emit(tool)

    def tool(self) -> Tool:
        return self.model.tool

    def set_view_mode(self, mode: ViewMode) -> None:
        if mode not in VIEW_MODES:
            raise ValueError(f"unknown view mode {mode!r}; modes: {', '.join(VIEW_MODES)}")
        if mode != self._mode:
            self._mode = mode
            self._rebuild_mask()
            self._rebuild_predicted()
            self.update()
            self.view_mode_changed.emit(mode)

    def view_mode(self) -> ViewMode:
        return self._mode

    def set_opacity(self, opacity: float) -> None:
        self._opacity = float(min(max(opacity, 0.0), 1.0))
        self.update()

    def opacity(self) -> float:
        return self._opacity

    def set_show_predicted(self, show: bool) -> None:
        if bool(show) != self._show_predicted:
            self._show_predicted = bool(show)
            self._rebuild_predicted()
            if self._fitted:
                self._fit()
            self.update()
            self.show_predicted_changed.emit(self._show_predicted)

    def show_predicted(self) -> bool:
        return self._show_predicted

    def set_brush(self, *, size: float | None = None, hardness: float | None = None) -> None:
        before = (self.model.brush_size, self.model.hardness)
        self.model.set_brush(size=size, hardness=hardness)
        if (self.model.brush_size, self.model.hardness) != before:
            self.brush_changed.emit(self.model.brush_size, self.model.hardness)
            self.update()

    def toggle_help(self) -> None:
        self.help.setGeometry(self.rect())
        self.help.setVisible(not self.help.isVisible())
        self.help.raise_()

    # ================================================================== whole-label steps
    def fill_hull(self) -> None:
        self._sync(self.model.fill_hull(), partial=False)

    def predicted_to_polygons(self, max_points: int | None = None) -> None:
        edit = self.model.predicted_to_polygons() if max_points is None else \
            self.model.predicted_to_polygons(max_points)
        self._sync(edit, partial=False)

    def clear_label(self) -> None:
        self._sync(self.model.clear(), partial=False)

    # ================================================================== view
    def transform(self) -> ViewTransform:
        """Canvas pixels -> pane pixels (the same in both panes)."""
        return self._t

    def set_transform(self, t: ViewTransform) -> None:
        self._t = t
        self._fitted = False
        self._update_pick()
        self.update()
        self.view_changed.emit()

    def is_fitted(self) -> bool:
        return self._fitted

    def fit(self) -> None:
        self._fit()
        self.update()
        self.view_changed.emit()

    def zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the pane point ``anchor`` (default: the centre) fixed."""
        pane = self._panes()[0]
        a = anchor if anchor is not None else QPointF(pane.width() / 2, pane.height() / 2)
        self.set_transform(self._t.zoomed(factor, (a.x(), a.y()), min_scale=MIN_SCALE, max_scale=MAX_SCALE))

    def map_to_crop(self, pos: QPointF) -> tuple[float, float]:
        """Widget position -> crop pixels (either pane)."""
        return self._locate(pos)[1]

    def map_from_crop(self, x: float, y: float, pane: int = 0) -> QPointF:
        """Crop pixels -> widget position in ``pane`` (0: label, 1: prediction)."""
        m = self.model.face.margin if self.model.face is not None else 0
        vx, vy = self._t.point_to_view(x + m, y + m)
        origin = self._panes()[min(pane, len(self._panes()) - 1)].topLeft()
        return QPointF(vx + origin.x(), vy + origin.y())

    def _panes(self) -> list[QRectF]:
        w, h = float(self.width()), float(self.height())
        if not self._show_predicted:
            return [QRectF(0, 0, w, h)]
        half = (w - PANE_GAP) / 2
        return [QRectF(0, 0, half, h), QRectF(half + PANE_GAP, 0, half, h)]

    def _fit(self) -> None:
        """The crop and half of its margin, centred, as large as the pane allows."""
        face = self.model.face
        self._fitted = True
        if face is None:
            self._t = ViewTransform()
            return
        pane = self._panes()[0]
        lo, span = face.margin / 2, face.size + face.margin
        scale = max(min(pane.width(), pane.height()) / span, MIN_SCALE)
        self._t = ViewTransform(scale, round((pane.width() - span * scale) / 2 - lo * scale),
                                round((pane.height() - span * scale) / 2 - lo * scale))
        self._update_pick()

    def _update_pick(self) -> None:
        self.model.pick_radius = PICK_PX / max(self._t.scale, 1e-6)

    def _locate(self, pos: QPointF) -> tuple[int, tuple[float, float]]:
        panes = self._panes()
        index = 1 if len(panes) > 1 and pos.x() >= panes[1].left() else 0
        origin = panes[index].topLeft()
        cx, cy = self._t.point_to_frame(pos.x() - origin.x(), pos.y() - origin.y())
        m = self.model.face.margin if self.model.face is not None else 0
        return index, (cx - m, cy - m)

    # ================================================================== model -> screen
    def _sync(self, edit: object = None, *, partial: bool) -> None:
        """Bring the layers up to date with the model, repaint what changed, and emit
        the committed step (if ``edit`` is one)."""
        full, rect = self.model.take_dirty()
        if full:
            self._rebuild_mask()
            partial = False
        elif rect is not None:
            self._mask.update(self.model.raster, rect)
        if partial:
            region = QRegion(self._cursor_region)
            if rect is not None:
                for r in self._view_rects(rect):
                    region += r
            self._cursor_region = self._brush_region()
            region += self._cursor_region
            self.update(region)
        else:
            self._cursor_region = self._brush_region()
            self.update()
        if edit is not None:
            self.label_committed.emit(edit.label, edit.text)  # type: ignore[attr-defined]

    def _view_rects(self, rect: Rect) -> list[QRect]:
        x0, y0, x1, y1 = rect
        out = []
        for pane in self._panes():
            vx0, vy0, vx1, vy1 = self._t.box_to_view((x0 - 0.5, y0 - 0.5, x1 - 0.5, y1 - 0.5))
            out.append(QRect(int(vx0 + pane.left()) - 2, int(vy0 + pane.top()) - 2,
                             int(vx1 - vx0) + 5, int(vy1 - vy0) + 5))
        return out

    def _brush_region(self) -> QRegion:
        region = QRegion()
        cursor = self.model.cursor
        if cursor is None or self.model.face is None:
            return region
        reach = max(self.model.brush_size / 2 * self._t.scale, 8.0) + 4
        for pane in range(len(self._panes())):
            c = self.map_from_crop(*cursor, pane=pane)
            region += QRect(int(c.x() - reach), int(c.y() - reach), int(2 * reach) + 2, int(2 * reach) + 2)
        return region

    def _rebuild_mask(self) -> None:
        face = self.model.face
        if face is None:
            self._mask.set(None, TINT)
            return
        self._mask.set(self.model.raster, WHITE if self._mode == "mask" else TINT)

    def _rebuild_predicted(self) -> None:
        face = self.model.face
        if face is None or not self._show_predicted or self.model.predicted is None:
            self._predicted.set(None, TINT)
            return
        self._predicted.set(self.model.predicted, WHITE if self._mode == "mask" else TINT, offset=face.margin)

    # ================================================================== painting
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        self.paint_count += 1
        p = QPainter(self)
        p.fillRect(event.rect(), BACKGROUND)
        face = self.model.face
        if face is not None:
            for index, pane in enumerate(self._panes()):
                if not pane.intersects(QRectF(event.rect())):
                    continue
                p.save()
                p.setClipRect(pane)
                p.translate(pane.topLeft())
                self._paint_pane(p, face, index, (int(pane.width()), int(pane.height())))
                p.restore()
        p.end()
        self.painted_at = time.perf_counter()

    def _paint_pane(self, p: QPainter, face: PainterFace, pane: int, size: tuple[int, int]) -> None:
        t = self._t
        side = face.side
        canvas = QRectF(*t.box_to_view((-0.5, -0.5, side - 0.5, side - 0.5))[:2], side * t.scale, side * t.scale)
        m = face.margin
        crop = QRectF(*t.box_to_view((m - 0.5, m - 0.5, 0, 0))[:2], face.size * t.scale, face.size * t.scale)
        layer = self._mask if pane == 0 else self._predicted
        if self._mode == "mask":
            p.fillRect(canvas, QColor(0, 0, 0))
            layer.paint(p, t, size)
        else:
            if self._picture.size is None:
                p.fillRect(canvas, LOADING)
            else:
                self._picture.paint(p, t, size, self.devicePixelRatioF())
            if self._mode == "overlay" or pane == 1:
                p.setOpacity(self._opacity)
                layer.paint(p, t, size)
                p.setOpacity(1.0)
            outside = QRegion(canvas.toAlignedRect()) - QRegion(crop.toAlignedRect())
            for r in outside:
                p.fillRect(r, VEIL)
        p.setPen(QPen(CROP_EDGE, 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(crop)
        if pane == 0:
            paint_shapes(p, self.model, t)
        paint_cursor(p, self.model, t, mirrored=pane == 1)

    # ================================================================== input
    def _event(self, kind: str, e: QMouseEvent, button: Button) -> object:
        mods = e.modifiers()
        _, (x, y) = self._locate(e.position())
        return self.model.handle(PointerEvent(kind, x, y, button,  # type: ignore[arg-type]
                                              bool(mods & Qt.KeyboardModifier.ControlModifier),
                                              bool(mods & Qt.KeyboardModifier.ShiftModifier)))

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if e.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = e.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        edit = self._event("press", e, _BUTTONS.get(e.button(), "none"))
        self._sync(edit, partial=self.model.stroke is not None)

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802 - Qt override
        pos = e.position()
        if self._pan_from is not None:
            d = pos - self._pan_from
            self._pan_from = pos
            self.set_transform(self._t.panned(d.x(), d.y()))
            return
        if self._lock_from is not None:
            if e.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self._follow_cursor(pos)
            else:
                self._lock_from = None
        buttons = e.buttons()
        button: Button = "left" if buttons & Qt.MouseButton.LeftButton else \
            "right" if buttons & Qt.MouseButton.RightButton else "none"
        brush = self.model.tool not in POLYGON_TOOLS
        edit = self._event("move", e, button)
        self._sync(edit, partial=brush and self._lock_from is None)

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if e.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = None
            self._update_cursor_shape()
            return
        edit = self._event("release", e, _BUTTONS.get(e.button(), "none"))
        self._sync(edit, partial=False)

    def wheelEvent(self, e: QWheelEvent) -> None:  # noqa: N802 - Qt override
        notches = e.angleDelta().y() / 120.0
        if notches:
            index, _ = self._locate(e.position())
            origin = self._panes()[index].topLeft()
            self.zoom(ZOOM_STEP**notches, e.position() - origin)
        e.accept()

    def leaveEvent(self, e: QEvent) -> None:  # noqa: N802 - Qt override
        if self.model.stroke is None and self.model.drag is None:
            self.model.cursor = None
            self.model.hover = None
            self.update()
        super().leaveEvent(e)

    def event(self, e: QEvent) -> bool:
        # Keys the canvas owns while it has focus win over window shortcuts (Delete,
        # Ctrl+Z with a polygon draft open: it takes back a point, not a committed step).
        if e.type() == QEvent.Type.ShortcutOverride and isinstance(e, QKeyEvent):
            if (e.key() in _KEYS and _plain(e)) or (self.model.draft and e.matches(QKeySequence.StandardKey.Undo)):
                e.accept()
                return True
        return super().event(e)

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key = e.key()
        shift = bool(e.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if self.model.draft and e.matches(QKeySequence.StandardKey.Undo):
            self.model.key("backspace")
            self.update()
        elif key in _KEYS and _plain(e):
            name = _KEYS[key]
            if shift and name in ("[", "]"):
                name = "{" if name == "[" else "}"
            before = (self.model.brush_size, self.model.hardness)
            edit = self.model.key(name)
            if (self.model.brush_size, self.model.hardness) != before:
                self.brush_changed.emit(self.model.brush_size, self.model.hardness)
            self._sync(edit, partial=False)
        elif key == Qt.Key.Key_Shift and not e.isAutoRepeat():
            self._start_lock()
        elif key == Qt.Key.Key_F and not e.modifiers():
            self.fit()
        elif key in (Qt.Key.Key_Question, Qt.Key.Key_F1):
            self.toggle_help()
        else:
            super().keyPressEvent(e)
            return
        e.accept()

    def keyReleaseEvent(self, e: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if e.key() == Qt.Key.Key_Shift and not e.isAutoRepeat():
            self._lock_from = None
        super().keyReleaseEvent(e)

    def resizeEvent(self, e: QResizeEvent) -> None:  # noqa: N802 - Qt override
        if self._fitted:
            self._fit()
        if self.help.isVisible():
            self.help.setGeometry(self.rect())
        super().resizeEvent(e)

    def sizeHint(self) -> QSize:
        return QSize(520, 520)

    # ------------------------------------------------------------------ Shift: view lock
    def _start_lock(self) -> None:
        """Shift held: centre the view on the point under the cursor and keep it there —
        moving the mouse scrolls the view with it (DeepFaceLab's centre lock)."""
        cursor = self.model.cursor
        if cursor is None or self.model.face is None:
            return
        pane = self._panes()[0]
        m = self.model.face.margin
        ux, uy = cursor[0] + m + 0.5, cursor[1] + m + 0.5
        centre = QPointF(pane.width() / 2, pane.height() / 2)
        self.set_transform(ViewTransform(self._t.scale, centre.x() - ux * self._t.scale,
                                         centre.y() - uy * self._t.scale))
        self._lock_from = centre
        self._warp_cursor(centre)

    def _follow_cursor(self, pos: QPointF) -> None:
        assert self._lock_from is not None
        d = pos - self._lock_from
        if d.isNull():
            return
        self.set_transform(self._t.panned(-d.x(), -d.y()))
        if not self._warp_cursor(self._lock_from):
            self._lock_from = pos

    def _warp_cursor(self, pos: QPointF) -> bool:
        """Move the mouse pointer (where the platform lets us); False when it cannot."""
        if QGuiApplication.platformName() in ("offscreen", "minimal", "wayland") or not self.isVisible():
            return False
        QCursor.setPos(self.mapToGlobal(pos.toPoint()))
        return True

    def _update_cursor_shape(self) -> None:
        self.setCursor(Qt.CursorShape.CrossCursor if self.model.tool in POLYGON_TOOLS
                       else Qt.CursorShape.BlankCursor)
