"""LogView: the tail of a log file, refreshed while it grows (the engine's log)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QWidget


class LogView(QPlainTextEdit):
    """Follows ``path``: reads only what was appended since the last look (cheap to poll)."""

    def __init__(self, parent: QWidget | None = None, *, poll_ms: int = 1000, max_lines: int = 5000) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(max_lines)
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        self._path: Path | None = None
        self._offset = 0
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.refresh)

    def follow(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self.clear()
        self.refresh()
        self._timer.start()

    def refresh(self) -> None:
        if self._path is None or not self._path.is_file():
            return
        size = self._path.stat().st_size
        if size < self._offset:  # rotated
            self._offset = 0
            self.clear()
        if size == self._offset:
            return
        with open(self._path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read(size - self._offset)
        self._offset = size
        at_end = self.verticalScrollBar().value() == self.verticalScrollBar().maximum()
        self.moveCursor(QTextCursor.MoveOperation.End)
        self.insertPlainText(data.decode("utf-8", errors="replace"))
        if at_end:
            self.moveCursor(QTextCursor.MoveOperation.End)
