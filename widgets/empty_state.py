"""EmptyState: what an empty panel says instead of nothing — the next step, as a button.

An overlay child centred on the panel it explains ("No faces yet" over the face grid,
with an "Extract Faces…" button), shown only while the panel has nothing to show. It
takes plain text in and emits ``action_requested``; the editor decides what the button
does, so widgets stay free of the app.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget


class EmptyState(QFrame):
    """Signals: ``action_requested()`` — the user pressed the next-step button."""

    action_requested = Signal()

    def __init__(self, host: QWidget, message: str, button_text: str) -> None:
        super().__init__(host)
        self.setObjectName("empty_state")
        self.setStyleSheet("QFrame#empty_state { background: rgba(30, 30, 34, 235); border: 1px solid #4a4a52;"
                           " border-radius: 6px; }")
        self.label = QLabel(message)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton(button_text)
        self.button.setDefault(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(self.label)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        self.button.clicked.connect(self.action_requested)
        host.installEventFilter(self)
        self.hide()

    def set_empty(self, empty: bool) -> None:
        """Show the overlay while the host panel is empty."""
        self.setVisible(empty)
        if empty:
            self._place()
            self.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show) and self.isVisible():
            self._place()
        return False

    def _place(self) -> None:
        host = self.parentWidget()
        width = min(max(host.width() - 24, 120), 360)
        self.setFixedWidth(width)
        layout = self.layout()
        height = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else layout.totalSizeHint().height()
        self.setFixedHeight(max(height, layout.totalMinimumSize().height()))
        self.move((host.width() - self.width()) // 2, max((host.height() - self.height()) // 2, 4))
