"""Two rows under the timeline for the merge: the clip's merge keys and its quality strip.

Both follow a :class:`~widgets.timeline.timeline_view.TimelineView` (they read its
viewport, current clip and playhead when they paint, and repaint whenever it does), so
they line up with its frames at any zoom and scroll without the timeline knowing them.

- :class:`KeyTrack`: a diamond at each frame with merge keys (a square when the key
  holds). Click: go to the frame; double-click: ``key_add_requested(frame)``; drag a
  key: ``key_move_requested(from, to)``; right-click or Delete on the selected key:
  ``key_delete_requested(frame)``.
- :class:`QualityStrip`: one cell per scored frame, green (good) to red (bad), grey
  where nothing was scored. Click: ``frame_requested(frame)``.

Widgets only: they know frames and numbers, not the project.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QToolTip, QWidget

from widgets.timeline import painting as paint
from widgets.timeline.timeline_view import TimelineView

ROW_HEIGHT = 22
_KEY = QColor(250, 200, 70)
_KEY_SELECTED = QColor(255, 255, 255)
_UNSCORED = QColor(70, 70, 76)


def badness_color(b: float) -> QColor:
    """Green (0) through yellow to red (1)."""
    b = float(np.clip(b, 0.0, 1.0))
    return QColor.fromHsvF((1.0 - b) * 0.33, 0.85, 0.85)


class _Row(QWidget):
    """A row that follows a timeline's frame axis."""

    frame_requested = Signal(int)
    title = ""

    def __init__(self, timeline: TimelineView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = timeline
        self.setMouseTracking(True)
        self.setFixedHeight(ROW_HEIGHT)
        timeline.installEventFilter(self)
        self._font = paint.ui_font(self.font(), 9)

    def sizeHint(self) -> QSize:
        return QSize(800, ROW_HEIGHT)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is self.timeline and event.type() in (QEvent.Type.Paint, QEvent.Type.Resize):
            self.update()
        return False

    def x_of(self, frame: float) -> float:
        return self.timeline.x_of(frame)

    def frame_at(self, x: float) -> int:
        return self.timeline.frame_at(x)

    def _paint_frame(self, p: QPainter) -> QRect:
        p.fillRect(self.rect(), paint.BACKGROUND)
        p.setPen(QColor(200, 200, 205))
        p.setFont(self._font)
        p.drawText(QRect(8, 0, paint.HEADER_WIDTH - 12, self.height()),
                   Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self.title)
        return QRect(paint.HEADER_WIDTH, 0, max(1, self.width() - paint.HEADER_WIDTH), self.height())

    def _paint_playhead(self, p: QPainter) -> None:
        x = self.x_of(self.timeline.frame() + 0.5)
        p.setPen(QPen(QColor(255, 80, 80), 1))
        p.drawLine(QPointF(x, 0), QPointF(x, self.height()))


class KeyTrack(_Row):
    """The clip's merge keys (see the module docstring)."""

    key_add_requested = Signal(int)
    key_move_requested = Signal(int, int)
    key_delete_requested = Signal(int)
    title = "merge keys"

    def __init__(self, timeline: TimelineView, parent: QWidget | None = None) -> None:
        super().__init__(timeline, parent)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self._keys: dict[int, tuple[tuple[str, ...], bool]] = {}
        self._selected: int | None = None
        self._drag_from: int | None = None
        self._drag_to: int | None = None

    def set_keys(self, keys: Mapping[int, Sequence[tuple[str, str]]]) -> None:
        """frame -> [(setting, interp), ...] of the current clip."""
        self._keys = {int(f): (tuple(s for s, _ in ks), all(i == "hold" for _, i in ks)) for f, ks in keys.items() if ks}
        if self._selected not in self._keys:
            self._selected = None
        self.update()

    def frames(self) -> list[int]:
        return sorted(self._keys)

    def selected(self) -> int | None:
        return self._selected

    def key_at(self, x: float) -> int | None:
        """The keyed frame drawn under widget x (within 5 px), nearest first."""
        best, dist = None, 6.0
        for f in self._keys:
            d = abs(self.x_of(f + 0.5) - x)
            if d < dist:
                best, dist = f, d
        return best

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = self._paint_frame(p)
        p.setClipRect(area)
        mid = self.height() / 2.0
        for frame, (names, hold) in self._keys.items():
            shown = self._drag_to if frame == self._drag_from and self._drag_to is not None else frame
            x = self.x_of(shown + 0.5)
            if x < area.left() - 6 or x > area.right() + 6:
                continue
            p.setPen(QPen(QColor(20, 20, 20), 1))
            p.setBrush(_KEY_SELECTED if frame == self._selected else _KEY)
            r = 5.0
            if hold:
                p.drawRect(QRect(int(x - r + 1), int(mid - r + 1), int(2 * r - 1), int(2 * r - 1)))
            else:
                p.drawPolygon(QPolygonF([QPointF(x, mid - r), QPointF(x + r, mid), QPointF(x, mid + r),
                                         QPointF(x - r, mid)]))
        self._paint_playhead(p)
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if x < paint.HEADER_WIDTH:
            return
        key = self.key_at(x)
        if event.button() == Qt.MouseButton.RightButton and key is not None:
            self.key_delete_requested.emit(key)
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self._selected = key
        if key is not None:
            self._drag_from, self._drag_to = key, key
        self.frame_requested.emit(key if key is not None else self.frame_at(x))
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self._drag_from is not None:
            self._drag_to = self.frame_at(x)
            self.update()
            return
        key = self.key_at(x)
        if key is not None:
            names, hold = self._keys[key]
            QToolTip.showText(event.globalPosition().toPoint(),
                              f"frame {key}: {', '.join(names)}{' (hold)' if hold else ''}", self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        start, end = self._drag_from, self._drag_to
        self._drag_from = self._drag_to = None
        if start is not None and end is not None and end != start:
            self._selected = end
            self.key_move_requested.emit(start, end)
        self.update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if x >= paint.HEADER_WIDTH and event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = self._drag_to = None
            self.key_add_requested.emit(self.frame_at(x))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self._selected is not None:
            self.key_delete_requested.emit(self._selected)
            return
        super().keyPressEvent(event)


class QualityStrip(_Row):
    """Per-frame badness of a merged result, green to red (see the module docstring)."""

    title = "quality"

    def __init__(self, timeline: TimelineView, parent: QWidget | None = None) -> None:
        super().__init__(timeline, parent)
        self._frames = np.zeros(0, np.int64)
        self._bad = np.zeros(0, np.float32)
        self._tips: dict[int, str] = {}

    def set_scores(self, frames: Sequence[int], badness: Sequence[float | None],
                   tips: Mapping[int, str] | None = None) -> None:
        """Badness 0..1 (None: not scored) per frame, and a tooltip per frame."""
        self._frames = np.asarray(frames, np.int64)
        self._bad = np.array([np.nan if b is None else b for b in badness], np.float32)
        self._tips = dict(tips or {})
        self.update()

    def badness_at(self, frame: int) -> float | None:
        hit = np.flatnonzero(self._frames == frame)
        if not len(hit) or np.isnan(self._bad[hit[0]]):
            return None
        return float(self._bad[hit[0]])

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        area = self._paint_frame(p)
        p.setClipRect(area)
        if len(self._frames):
            vp = self.timeline.viewport()
            per_px = max(vp.frames_per_pixel, 1e-9)
            # At coarse zoom several frames share a pixel: each pixel shows its worst frame.
            xs = np.floor((self._frames - vp.first_frame) / per_px).astype(np.int64)
            ws = max(1, int(np.ceil(1.0 / per_px)))
            visible = (xs + ws >= 0) & (xs < area.width())
            order = np.argsort(np.nan_to_num(self._bad, nan=-1.0))  # worst painted last
            for i in order[visible[order]]:
                b = self._bad[i]
                p.fillRect(QRect(area.left() + int(xs[i]), 3, ws, self.height() - 6),
                           _UNSCORED if np.isnan(b) else badness_color(float(b)))
        self._paint_playhead(p)
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if event.button() == Qt.MouseButton.LeftButton and x >= paint.HEADER_WIDTH:
            self.frame_requested.emit(self.frame_at(x))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if x >= paint.HEADER_WIDTH:
            tip = self._tips.get(self.frame_at(x))
            if tip:
                QToolTip.showText(event.globalPosition().toPoint(), tip, self)
