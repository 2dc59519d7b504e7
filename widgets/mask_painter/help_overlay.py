"""The painter's key map, drawn over the canvas (``?`` shows and hides it)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QAction, QColor, QFont, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

#: Mouse gestures and canvas keys (the tools' and navigation keys come from their actions).
CANVAS_HELP: Final[tuple[tuple[str, str], ...]] = (
    ("Click", "add a polygon point (Q/W tools)"),
    ("Click first point / Enter", "close the polygon"),
    ("Drag a point", "move it"),
    ("Ctrl+click edge / point", "insert / delete a point"),
    ("Right click", "delete a point · take back a draft point"),
    ("Backspace · Ctrl+Z", "take back the last draft point"),
    ("Delete", "delete the point or polygon under the cursor"),
    ("Esc", "drop the draft or the stroke in progress"),
    ("Drag (E/R)", "paint · right drag paints the other way"),
    ("[ ]", "brush size"),
    ("Shift+[ ]", "brush hardness"),
    ("Wheel · middle drag", "zoom · pan"),
    ("Hold Shift", "lock the view to the cursor"),
    ("F", "fit the face"),
)


def action_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """``(shortcut, text)`` rows for actions that have a shortcut."""
    rows = []
    for a in actions:
        seq = a.shortcut().toString(a.shortcut().SequenceFormat.NativeText)
        if seq:
            rows.append((seq, a.text().replace("&", "").rstrip("…")))
    return rows


class HelpOverlay(QWidget):
    """A see-through panel listing ``(keys, what they do)`` rows; a click hides it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, str]] = list(CANVAS_HELP)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.hide()

    def set_rows(self, rows: Sequence[tuple[str, str]]) -> None:
        self._rows = list(rows)
        self.update()

    def rows(self) -> list[tuple[str, str]]:
        return list(self._rows)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self.hide()
        event.accept()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(12, 12, 16, 215))
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() * 0.95, 7.0))
        p.setFont(font)
        metrics = p.fontMetrics()
        line = metrics.height() + 3
        half = (len(self._rows) + 1) // 2
        columns = [self._rows[:half], self._rows[half:]] if self.width() > 620 else [self._rows]
        col_width = (self.width() - 24) / len(columns)
        p.setPen(QColor(255, 255, 255))
        p.drawText(QRectF(12, 8, self.width() - 24, line), "Mask painter keys  (? or click to close)")
        for c, rows in enumerate(columns):
            x = 12 + c * col_width
            key_width = min(col_width * 0.45, max((metrics.horizontalAdvance(k) for k, _ in rows), default=0) + 14)
            for r, (keys, text) in enumerate(rows):
                y = 12 + line * (r + 1.3)
                p.setPen(QColor(255, 214, 110))
                p.drawText(QRectF(x, y, key_width, line), Qt.AlignmentFlag.AlignLeft, keys)
                p.setPen(QColor(225, 225, 230))
                p.drawText(QRectF(x + key_width, y, col_width - key_width, line), Qt.AlignmentFlag.AlignLeft,
                           metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(col_width - key_width)))
