"""A mask as a coloured, see-through picture: built once per label, patched per brush dab.

The layer holds a premultiplied ARGB32 buffer the size of the mask and a QImage that
*wraps* it (no copy), so a brush dab updates only the pixels it touched (one table
look-up over the dab's rectangle) and the next repaint shows them. Its colour is the
tint of the overlay view, or white for the mask view; opacity is applied when painting
(``QPainter.setOpacity``), so the opacity slider never rebuilds anything.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter

from widgets.frame_view.transform import ViewTransform
from widgets.mask_painter.geometry import Rect


def colour_table(colour: tuple[int, int, int]) -> np.ndarray:
    """mask value -> premultiplied 0xAARRGGBB with alpha = the mask value."""
    a = np.arange(256, dtype=np.uint32)
    r, g, b = (np.uint32(c) * a // 255 for c in colour)
    return (a << 24) | (r << 16) | (g << 8) | b


class MaskLayer:
    """One mask drawn in a colour over the canvas, ``offset`` canvas pixels from its origin."""

    def __init__(self) -> None:
        self._buffer: np.ndarray | None = None
        self._image: QImage | None = None
        self._table = colour_table((255, 255, 255))
        self._colour = (255, 255, 255)
        self.offset = 0

    @property
    def empty(self) -> bool:
        return self._image is None

    def set(self, mask: np.ndarray | None, colour: tuple[int, int, int], offset: int = 0) -> None:
        """Rebuild from a uint8 ``(h, w)`` mask (``None`` clears the layer)."""
        self.offset = int(offset)
        if colour != self._colour:
            self._colour = colour
            self._table = colour_table(colour)
        if mask is None or mask.size == 0:
            self._buffer = self._image = None
            return
        self._buffer = np.ascontiguousarray(self._table[mask])
        h, w = mask.shape
        self._image = QImage(self._buffer.data, w, h, w * 4, QImage.Format.Format_ARGB32_Premultiplied)

    def update(self, mask: np.ndarray, rect: Rect) -> None:
        """Patch the pixels of ``rect`` (``x0, y0, x1, y1`` in mask pixels) from ``mask``."""
        if self._buffer is None or self._buffer.shape != mask.shape:
            self.set(mask, self._colour, self.offset)
            return
        x0, y0, x1, y1 = rect
        self._buffer[y0:y1, x0:x1] = self._table[mask[y0:y1, x0:x1]]

    def paint(self, painter: QPainter, t: ViewTransform, view_size: tuple[int, int]) -> None:
        """Draw the visible part of the layer under the view transform (canvas -> view)."""
        image = self._image
        if image is None:
            return
        w, h = image.width(), image.height()
        ox = t.dx + self.offset * t.scale
        oy = t.dy + self.offset * t.scale
        u0 = max(0, math.floor(-ox / t.scale))
        v0 = max(0, math.floor(-oy / t.scale))
        u1 = min(w, math.ceil((view_size[0] - ox) / t.scale))
        v1 = min(h, math.ceil((view_size[1] - oy) / t.scale))
        if u1 <= u0 or v1 <= v0:
            return
        source = QRectF(u0, v0, u1 - u0, v1 - v0)
        target = QRectF(ox + u0 * t.scale, oy + v0 * t.scale, (u1 - u0) * t.scale, (v1 - v0) * t.scale)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, t.scale <= 2.0)
        painter.drawImage(target, image, source)
