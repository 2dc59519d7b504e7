"""The painter's vector overlay: polygon outlines and points, the draft, the brush cursor.

Drawn over the mask layers in view pixels, from the Qt-free model's state (crop pixels)
through the canvas's view transform; nothing here changes the model.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF

from widgets.frame_view.transform import ViewTransform
from widgets.mask_painter.model import POLYGON_TOOLS, PainterModel

INCLUDE_PEN: Final = QColor(90, 235, 120)
EXCLUDE_PEN: Final = QColor(255, 96, 80)
HOVER: Final = QColor(255, 230, 90)
CURSOR_PEN: Final = QColor(255, 255, 255, 220)
CURSOR_SHADOW: Final = QColor(0, 0, 0, 160)


def to_view(t: ViewTransform, pts: np.ndarray, margin: int) -> QPolygonF:
    """Crop points -> a view polygon (the canvas is the crop shifted by ``margin``)."""
    v = t.to_view(np.asarray(pts, dtype=np.float64) + margin)
    return QPolygonF([QPointF(float(x), float(y)) for x, y in v])


def _points(p: QPainter, poly: QPolygonF, colour: QColor) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colour)
    for q in poly:
        p.drawRect(QRectF(q.x() - 2.5, q.y() - 2.5, 5, 5))


def paint_shapes(p: QPainter, model: PainterModel, t: ViewTransform) -> None:
    """The label's polygons (a dragged one as it is being dragged), what the pointer is
    over, and the draft polygon with its rubber band to the cursor."""
    assert model.face is not None
    m = model.face.margin
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    hover = model.hover
    for index, pts in model.polygons:
        if model.drag is not None and model.drag.shape == index:
            pts = model.drag.preview
        colour = INCLUDE_PEN if model.label.shapes[index].kind == "include" else EXCLUDE_PEN
        poly = to_view(t, pts, m)
        inside = hover is not None and hover.shape == index and hover.kind == "inside"
        p.setPen(QPen(HOVER if inside else colour, 1.5))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPolygon(poly)
        _points(p, poly, colour)
    if hover is not None and hover.kind in ("vertex", "edge"):
        c = to_view(t, np.array([hover.point]), m)[0]
        p.setPen(QPen(HOVER, 2))
        p.setBrush(Qt.BrushStyle.NoBrush)
        radius = 5.5 if hover.kind == "vertex" else 3.5
        p.drawEllipse(c, radius, radius)
    if model.draft:
        colour = INCLUDE_PEN if model.tool != "exclude" else EXCLUDE_PEN
        poly = to_view(t, np.array(model.draft), m)
        p.setPen(QPen(colour, 1.5))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPolyline(poly)
        if model.cursor is not None:
            c = to_view(t, np.array([model.cursor]), m)[0]
            p.setPen(QPen(colour, 1, Qt.PenStyle.DashLine))
            p.drawLine(poly[poly.size() - 1], c)
            if poly.size() >= 2:
                p.drawLine(c, poly[0])
        _points(p, poly, colour)
        p.setPen(QPen(HOVER, 2))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawEllipse(poly[0], 5.5, 5.5)  # click here (or Enter) to close
    p.setRenderHint(QPainter.RenderHint.Antialiasing, False)


def paint_cursor(p: QPainter, model: PainterModel, t: ViewTransform, *, mirrored: bool) -> None:
    """The brush (its full size dotted, the stored edge solid); in the prediction pane a
    cross mirrors the polygon tools' system cursor."""
    if model.cursor is None or model.face is None:
        return
    c = to_view(t, np.array([model.cursor]), model.face.margin)[0]
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setBrush(Qt.BrushStyle.NoBrush)
    if model.tool in POLYGON_TOOLS:
        if mirrored:
            p.setPen(QPen(CURSOR_PEN, 1))
            p.drawLine(QPointF(c.x() - 6, c.y()), QPointF(c.x() + 6, c.y()))
            p.drawLine(QPointF(c.x(), c.y() - 6), QPointF(c.x(), c.y() + 6))
    else:
        outer = model.brush_size / 2 * t.scale
        inner = model.brush_radius * t.scale
        for pen in (QPen(CURSOR_SHADOW, 3), QPen(CURSOR_PEN, 1)):
            p.setPen(pen)
            p.drawEllipse(c, inner, inner)
        if outer - inner > 1.0:
            p.setPen(QPen(CURSOR_PEN, 1, Qt.PenStyle.DotLine))
            p.drawEllipse(c, outer, outer)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
