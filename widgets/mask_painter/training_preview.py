"""TrainingPreview: the latest preview image of a training job, fitted to the widget.

XSeg training writes ``image | label | prediction`` rows every ``preview_every``
iterations; the editor hands the newest one here with a caption (job and iteration).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class _Picture(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.image: QImage | None = None
        self.setMinimumSize(120, 80)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(30, 30, 34))
        if self.image is None or self.image.isNull():
            return
        w, h = self.image.width(), self.image.height()
        scale = min(self.width() / w, self.height() / h)
        target = QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(target, self.image)


class TrainingPreview(QWidget):
    """A caption over a fitted preview picture."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("No training preview yet: train XSeg on keyframes (Masks menu).")
        self.caption.setWordWrap(True)
        self.picture = _Picture()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.caption)
        layout.addWidget(self.picture, 1)

    def set_preview(self, image: np.ndarray | None, caption: str = "") -> None:
        """Show an RGB ``uint8`` ``(H, W, 3)`` image (``None`` clears it)."""
        if image is None:
            self.picture.image = None
        else:
            arr = np.ascontiguousarray(image, dtype=np.uint8)
            h, w = arr.shape[:2]
            self.picture.image = QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_RGB888).copy()
        self.caption.setText(caption)
        self.picture.update()

    def has_preview(self) -> bool:
        return self.picture.image is not None
