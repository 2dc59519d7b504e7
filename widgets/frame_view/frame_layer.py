"""The frame picture of the frame view: one conversion in, cheap repaints out.

``set`` wraps the numpy array in a QImage without copying and converts it once to Qt's
native 32-bit format (the one copy). ``paint`` then has two paths:

- zoomed out (fewer device pixels than frame pixels): a smoothly area-averaged copy at
  the current zoom, made once per frame and zoom and blitted on every repaint, so a 4K
  frame at fit repaints as a plain copy of a view-sized image;
- zoomed in: only the whole frame pixels that reach the view are drawn, bilinear up to
  2x and as sharp squares (nearest neighbour) above, so single pixels can be judged.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QImage, QPainter

from widgets.frame_view.transform import ViewTransform

#: Above this zoom (device pixels per frame pixel) pixels are drawn as sharp squares.
NEAREST_ABOVE: Final = 2.0

_FORMATS: Final = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888,
                   4: QImage.Format.Format_RGBA8888}


class FrameLayer:
    """Holds the frame shown and its zoomed-out copy."""

    def __init__(self) -> None:
        self._array: np.ndarray | None = None
        self._image: QImage | None = None
        self._serial = 0
        self._scaled: tuple[tuple[int, float], QImage] | None = None  # ((serial, device scale), image)

    def set(self, image: np.ndarray | None) -> None:
        """``uint8`` RGB ``(H, W, 3)``; grey ``(H, W)`` and RGBA ``(H, W, 4)`` are accepted too."""
        self._serial += 1
        self._scaled = None
        if image is None:
            self._array = self._image = None
            return
        array = np.ascontiguousarray(image)
        if array.dtype != np.uint8:
            raise TypeError(f"frames must be uint8, got {array.dtype}")
        channels = 1 if array.ndim == 2 else (array.shape[2] if array.ndim == 3 else 0)
        if channels not in _FORMATS:
            raise ValueError(f"frames must be (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
        height, width = array.shape[:2]
        wrapper = QImage(array.data, width, height, array.strides[0], _FORMATS[channels])
        # The one copy: a Qt-owned image in the format the raster painter draws fastest.
        self._image = wrapper.convertToFormat(QImage.Format.Format_RGB32)
        self._array = array

    @property
    def array(self) -> np.ndarray | None:
        return self._array

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height), or None when there is no frame."""
        return None if self._image is None else (self._image.width(), self._image.height())

    def paint(self, painter: QPainter, t: ViewTransform, view_size: tuple[int, int], dpr: float) -> None:
        image = self._image
        if image is None:
            return
        w, h = image.width(), image.height()
        device_scale = t.scale * dpr
        if device_scale < 1.0:
            key = (self._serial, device_scale)
            if self._scaled is None or self._scaled[0] != key:
                size = (max(1, round(w * device_scale)), max(1, round(h * device_scale)))
                scaled = image.scaled(*size, Qt.AspectRatioMode.IgnoreAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation)
                scaled.setDevicePixelRatio(dpr)
                self._scaled = (key, scaled)
            painter.drawImage(QPointF(round(t.dx), round(t.dy)), self._scaled[1])
            return
        u0 = max(0, math.floor(-t.dx / t.scale))
        v0 = max(0, math.floor(-t.dy / t.scale))
        u1 = min(w, math.ceil((view_size[0] - t.dx) / t.scale))
        v1 = min(h, math.ceil((view_size[1] - t.dy) / t.scale))
        if u1 <= u0 or v1 <= v0:
            return
        source = QRectF(u0, v0, u1 - u0, v1 - v0)
        target = QRectF(t.dx + u0 * t.scale, t.dy + v0 * t.scale, (u1 - u0) * t.scale, (v1 - v0) * t.scale)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, 1.0 < device_scale <= NEAREST_ABOVE)
        painter.drawImage(target, image, source)
