"""Drag-to-select in the face grid: a rubber band that scrolls the grid when dragged past an edge.

The band lives in *content* coordinates (viewport y + scroll offset), so a drag that scrolls
keeps its starting corner on the face where it began. It knows nothing about faces: it reports
the content rectangle to a callback, and the grid turns that into positions and a selection.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, QPoint, QRect, QTimer
from PySide6.QtWidgets import QApplication, QRubberBand, QScrollBar, QWidget

#: Autoscroll: every 30 ms, as many px as the pointer is past the edge (at most 200).
_AUTOSCROLL_MS = 30
_AUTOSCROLL_MAX = 200


class RubberBandDrag(QObject):
    """Tracks one left-button drag over ``viewport``; ``on_rect(QRect)`` gets the band's content
    rectangle whenever it changes."""

    def __init__(self, viewport: QWidget, scroll_bar: QScrollBar, on_rect: Callable[[QRect], None]) -> None:
        super().__init__(viewport)
        self._viewport = viewport
        self._bar = scroll_bar
        self._on_rect = on_rect
        self._band = QRubberBand(QRubberBand.Shape.Rectangle, viewport)
        self._start: QPoint | None = None   # content point of the press
        self._pointer: QPoint | None = None  # latest viewport point
        self._timer = QTimer(self)
        self._timer.setInterval(_AUTOSCROLL_MS)
        self._timer.timeout.connect(self._autoscroll)

    def press(self, point: QPoint) -> None:
        self._start = point + QPoint(0, self._bar.value())
        self._pointer = None

    def move(self, point: QPoint) -> bool:
        """The pointer moved with the button down; True once the drag has become a band."""
        if self._start is None:
            return False
        if not self._band.isVisible():
            moved = point + QPoint(0, self._bar.value()) - self._start
            if moved.manhattanLength() < QApplication.startDragDistance():
                return False
            self._band.show()
        self._pointer = point
        self._update()
        outside = point.y() < 0 or point.y() > self._viewport.height()
        if outside and not self._timer.isActive():
            self._timer.start()
        elif not outside:
            self._timer.stop()
        return True

    def release(self) -> bool:
        """The button went up; True if it ended a band (rather than a click)."""
        active = self._band.isVisible()
        self._band.hide()
        self._timer.stop()
        self._start = self._pointer = None
        return active

    def _update(self) -> None:
        if self._start is None or self._pointer is None:
            return
        scroll = self._bar.value()
        rect = QRect(self._start, self._pointer + QPoint(0, scroll)).normalized()
        self._band.setGeometry(rect.translated(0, -scroll).intersected(self._viewport.rect().adjusted(0, 0, 1, 1)))
        self._on_rect(rect)

    def _autoscroll(self) -> None:
        if self._pointer is None:
            self._timer.stop()
            return
        y, height = self._pointer.y(), self._viewport.height()
        step = y if y < 0 else y - height if y > height else 0
        self._bar.setValue(self._bar.value() + int(np.clip(step, -_AUTOSCROLL_MAX, _AUTOSCROLL_MAX)))
        self._update()
