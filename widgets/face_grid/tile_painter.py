"""Drawing one face tile: the thumbnail (or a placeholder) and its overlays.

Overlays are pre-rendered once per tile size into small ``QImage``s (the excluded veil with
its red cross, the role tags, the mask badge), so painting a tile while scrolling is a handful
of blits and two ``fillRect``s, cheap enough to draw a page of 100+ tiles within a frame.
Colours are fixed (the editor's dark theme), which also keeps the pixel snapshots stable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen

if TYPE_CHECKING:
    from widgets.face_grid.model import FaceTable
    from widgets.face_grid.thumbnails import ThumbnailLoader

BACKGROUND: Final = QColor(30, 30, 32)
PLACEHOLDER: Final = QColor(46, 46, 50)
PLACEHOLDER_EDGE: Final = QColor(60, 60, 65)
ACCENT: Final = QColor(64, 156, 255)
SELECTION_TINT: Final = QColor(64, 156, 255, 56)
CURRENT: Final = QColor(235, 235, 240)
EXCLUDED_VEIL: Final = QColor(0, 0, 0, 150)
EXCLUDED_CROSS: Final = QColor(255, 72, 72, 230)
FAILED: Final = QColor(200, 70, 70)
MASK_BADGE: Final = QColor(92, 200, 120)
#: "Not swapped" (the merge leaves the face): an amber frame and a no-entry badge, so it
#: reads apart from "not trained" (the dark veil with the red cross).
NOT_SWAPPED: Final = QColor(240, 180, 40)
ROLE_COLOURS: Final = (QColor(217, 130, 43), QColor(43, 166, 179))  # src, dst
ROLE_TEXT: Final = ("src", "dst")
#: One colour per person (person id modulo the length), chosen to stay apart on a dark grey.
PERSON_COLOURS: Final = tuple(QColor(c) for c in (
    "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4",
    "#46f0f0", "#f032e6", "#bcf60c", "#fabebe", "#008080", "#e6beff",
))
#: Below this tile size the role tag and mask badge are left out: they would hide the face.
MIN_TAG_TILE: Final = 64


class TilePainter:
    """Paints tiles of one size; :meth:`configure` re-renders the overlays when the size changes."""

    def __init__(self) -> None:
        self.tile = 0
        self.dpr = 0.0
        self.stripe = 0
        self._veil: QImage | None = None
        self._tags: tuple[QImage, ...] = ()
        self._badge: QImage | None = None
        self._no_swap: QImage | None = None

    def configure(self, tile: int, dpr: float) -> None:
        if (tile, dpr) == (self.tile, self.dpr):
            return
        self.tile, self.dpr = tile, dpr
        self.stripe = max(3, tile // 24)
        self._veil = self._render_veil(tile, dpr)
        self._tags = tuple(self._render_tag(i, tile, dpr) for i in range(2)) if tile >= MIN_TAG_TILE else ()
        self._badge = self._render_badge(tile, dpr) if tile >= MIN_TAG_TILE else None
        self._no_swap = self._render_no_swap(tile, dpr)

    # ------------------------------------------------------------------ geometry the tests use
    def tag_rect(self, tile_rect: QRect) -> QRect:
        """Where the role tag of a tile is drawn (the only text in the grid)."""
        if not self._tags:
            return QRect()
        size = self._tags[0].deviceIndependentSize().toSize()
        return QRect(tile_rect.left() + 3, tile_rect.top() + 3, size.width(), size.height())

    # ------------------------------------------------------------------ painting
    def paint_rows(self, p: QPainter, table: FaceTable, rows: np.ndarray, selected: np.ndarray, current: int,
                   loader: ThumbnailLoader, *, origins: list[tuple[int, int]], scroll: int) -> None:
        """Draw the tiles of ``rows`` (table rows) at ``origins`` (content coordinates,
        one per row), ``scroll`` px up; ``selected`` is per table row, ``current`` a row."""
        tile = self.tile
        for (x, y), row, face_id, role, person, excluded, has_mask, chosen, no_swap in zip(
                origins, rows.tolist(), table.id[rows].tolist(), table.role[rows].tolist(),
                table.person_id[rows].tolist(), table.excluded[rows].tolist(), table.has_mask[rows].tolist(),
                selected[rows].tolist(), table.swap_excluded[rows].tolist(), strict=True):
            image = loader.get(face_id)
            self.paint(p, QRect(x, y - scroll, tile, tile), image, role=role, person=person, excluded=excluded,
                       has_mask=has_mask, selected=chosen, current=row == current,
                       failed=image is None and loader.failed(face_id), swap_excluded=no_swap)

    def paint(self, p: QPainter, rect: QRect, image: QImage | None, *, role: int, person: int,
              excluded: bool, has_mask: bool, selected: bool, current: bool, failed: bool,
              swap_excluded: bool = False) -> None:
        """Draw one tile in ``rect`` (a tile-sized square in viewport coordinates)."""
        if selected:
            p.fillRect(rect.adjusted(-3, -3, 3, 3), ACCENT)
        if image is None or image.isNull():
            p.fillRect(rect, PLACEHOLDER)
            p.setPen(PLACEHOLDER_EDGE)
            p.drawRect(rect.adjusted(0, 0, -1, -1))
            if failed:
                p.setPen(QPen(FAILED, 2))
                p.drawLine(rect.topRight(), rect.bottomLeft())
        else:
            self._draw_image(p, rect, image)
        if person >= 0:
            p.fillRect(rect.left(), rect.bottom() + 1 - self.stripe, rect.width(), self.stripe,
                       PERSON_COLOURS[person % len(PERSON_COLOURS)])
        if self._tags and 0 <= role < len(self._tags):
            tag = self._tags[role]
            p.drawImage(rect.left() + 3, rect.top() + 3, tag)
        if has_mask and self._badge is not None:
            size = self._badge.deviceIndependentSize().toSize()
            p.drawImage(rect.right() + 1 - 3 - size.width(), rect.top() + 3, self._badge)
        if excluded and self._veil is not None:
            p.drawImage(rect.topLeft(), self._veil)
        if swap_excluded and self._no_swap is not None:
            p.drawImage(rect.topLeft(), self._no_swap)
        if selected:
            p.fillRect(rect, SELECTION_TINT)
        if current:
            p.setPen(QPen(CURRENT, 1, Qt.PenStyle.DashLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(rect.adjusted(-5, -5, 4, 4))

    def _draw_image(self, p: QPainter, rect: QRect, image: QImage) -> None:
        w, h = image.width() / self.dpr, image.height() / self.dpr
        scale = min(rect.width() / w, rect.height() / h)
        if abs(scale - 1.0) < 1e-6 and image.width() == image.height():
            p.drawImage(rect, image)  # the usual case: a square crop at exactly the tile size
            return
        p.fillRect(rect, PLACEHOLDER)
        tw, th = w * scale, h * scale
        target = QRectF(rect.left() + (rect.width() - tw) / 2, rect.top() + (rect.height() - th) / 2, tw, th)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(target, image)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)

    # ------------------------------------------------------------------ overlay images
    @staticmethod
    def _canvas(w: int, h: int, dpr: float) -> QImage:
        image = QImage(max(1, round(w * dpr)), max(1, round(h * dpr)), QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(dpr)
        image.fill(Qt.GlobalColor.transparent)
        return image

    def _render_veil(self, tile: int, dpr: float) -> QImage:
        image = self._canvas(tile, tile, dpr)
        p = QPainter(image)
        p.fillRect(QRectF(0, 0, tile, tile), EXCLUDED_VEIL)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(QPen(EXCLUDED_CROSS, max(2.0, tile / 24), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        a, b = tile * 0.28, tile * 0.72
        p.drawLine(QRectF(a, a, b - a, b - a).topLeft(), QRectF(a, a, b - a, b - a).bottomRight())
        p.drawLine(QRectF(a, a, b - a, b - a).topRight(), QRectF(a, a, b - a, b - a).bottomLeft())
        p.end()
        return image

    def _render_tag(self, role: int, tile: int, dpr: float) -> QImage:
        font = QFont()
        font.setPixelSize(max(8, tile // 10))
        font.setBold(True)
        height = font.pixelSize() + 4
        width = round(font.pixelSize() * 2.2) + 6
        image = self._canvas(width, height, dpr)
        p = QPainter(image)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(ROLE_COLOURS[role])
        p.drawRoundedRect(QRectF(0, 0, width, height), 3, 3)
        p.setFont(font)
        p.setPen(QColor(255, 255, 255))
        p.drawText(QRectF(0, 0, width, height), Qt.AlignmentFlag.AlignCenter, ROLE_TEXT[role])
        p.end()
        return image

    def _render_no_swap(self, tile: int, dpr: float) -> QImage:
        image = self._canvas(tile, tile, dpr)
        p = QPainter(image)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        w = max(2.0, tile / 32)
        p.setPen(QPen(NOT_SWAPPED, w, Qt.PenStyle.DashLine))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(QRectF(w / 2, w / 2, tile - w, tile - w))
        d = max(10.0, tile / 5)
        box = QRectF(tile - d - 3, tile - d - 3 - max(3, tile // 24), d, d)
        p.setPen(QPen(QColor(40, 30, 0), 1.0))
        p.setBrush(NOT_SWAPPED)
        p.drawEllipse(box)
        p.setPen(QPen(QColor(40, 30, 0), max(1.5, d / 6), Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap))
        p.drawLine(box.left() + d * 0.25, box.center().y(), box.right() - d * 0.25, box.center().y())
        p.end()
        return image

    def _render_badge(self, tile: int, dpr: float) -> QImage:
        d = max(8, min(16, tile // 8))
        image = self._canvas(d, d, dpr)
        p = QPainter(image)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(QPen(QColor(20, 60, 30), 1.5))
        p.setBrush(MASK_BADGE)
        p.drawEllipse(QRectF(0.75, 0.75, d - 1.5, d - 1.5))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(20, 60, 30))
        p.drawEllipse(QRectF(d * 0.3, d * 0.3, d * 0.4, d * 0.4))
        p.end()
        return image
