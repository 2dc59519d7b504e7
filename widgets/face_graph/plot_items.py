"""pyqtgraph subclasses of the face graph (pyqtgraph's camelCase and ``sig*`` names live here).

:class:`FaceScatterItem` is a ``ScatterPlotItem`` whose points carry face ids
(``data=ids``) and whose brushes come from a small palette set in bulk. pyqtgraph looks
up every point's symbol in its atlas one Python call at a time (about 150 ms per 100,000
points on every ``setData``); with a palette there are only a handful of distinct symbols,
so we look those up once and assign each point's atlas rectangle with one numpy take.

:class:`SelectionViewBox` turns left clicks and drags into plain values (a position, a
polygon) for the widget: drags pan in pan mode, draw a rectangle in rectangle mode (or
with Shift held), draw a freehand lasso in lasso mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

MODES = ("pan", "rect", "lasso")


class FaceScatterItem(pg.ScatterPlotItem):
    """Scatter of faces: coordinates, face ids and palette brushes, all set in bulk."""

    def __init__(self, **kwargs: Any) -> None:
        self._codes: np.ndarray | None = None
        self._palette: np.ndarray | None = None
        super().__init__(pxMode=True, **kwargs)

    def setFaces(self, x: np.ndarray, y: np.ndarray, ids: np.ndarray,
                 codes: np.ndarray, brushes: Sequence[QtGui.QBrush]) -> None:
        """Replace every point: positions, ids (``data``) and a palette index per point."""
        self._setPalette(codes, brushes)
        self.setData(x=x, y=y, data=ids)

    def setBrushCodes(self, codes: np.ndarray, brushes: Sequence[QtGui.QBrush]) -> None:
        """Recolour every point from a palette without touching positions."""
        self._setPalette(codes, brushes)
        self.data["sourceRect"] = 0
        self.updateSpots(self.data)

    def faceIds(self) -> np.ndarray:
        """The face ids of the points, in point order."""
        return np.asarray(self.data["data"], dtype=np.int64) if len(self.data) else np.empty(0, np.int64)

    def _setPalette(self, codes: np.ndarray, brushes: Sequence[QtGui.QBrush]) -> None:
        palette = np.empty(len(brushes), dtype=object)
        palette[:] = list(brushes)
        self._codes = np.asarray(codes, dtype=np.int64)
        self._palette = palette

    def setBrush(self, *args: Any, **kargs: Any) -> None:
        # Per-point brushes set the pyqtgraph way replace the palette.
        if len(args) == 1 and isinstance(args[0], (np.ndarray, list)):
            self._codes = self._palette = None
        super().setBrush(*args, **kargs)

    def updateSpots(self, dataSet: np.ndarray | None = None) -> None:
        if dataSet is None:
            dataSet = self.data
        codes, palette = self._codes, self._palette
        if (codes is None or palette is None or len(dataSet) != len(self.data) or len(codes) != len(dataSet)
                or not (self.opts["pxMode"] and self.opts["useCache"])):
            super().updateSpots(dataSet)
            return
        dataSet["brush"] = palette[codes]
        symbol, size, pen = self.opts["symbol"], self.opts["size"], self.opts["pen"]
        coords = self.fragmentAtlas[[(symbol, size, pen, b) for b in palette]]
        rects = np.array([tuple(c) for c in coords], dtype=dataSet["sourceRect"].dtype)
        dataSet["sourceRect"] = rects[codes]
        self._updateMaxSpotSizes(data=dataSet)
        self.invalidate()

    def mouseClickEvent(self, ev: Any) -> None:
        # The base class would build a SpotItem per point (pointsAt) to find the one
        # clicked; the view box hit-tests the coordinate arrays instead.
        ev.ignore()


class SelectionViewBox(pg.ViewBox):
    """A view box that reports left clicks and selection gestures in data coordinates.

    Signals
    -------
    sigPointClicked(QPointF, Qt.KeyboardModifier) : a left click at a data position.
    sigRegionDrawn(np.ndarray, Qt.KeyboardModifier) : a finished rectangle or lasso as a
        closed ``(k, 2)`` polygon in data coordinates.
    """

    sigPointClicked = QtCore.Signal(object, object)
    sigRegionDrawn = QtCore.Signal(object, object)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mode = "pan"
        self._drag_shape: str | None = None
        self._drag_points: list[tuple[float, float]] = []
        self._outline = QtWidgets.QGraphicsPathItem()
        pen = QtGui.QPen(QtGui.QColor(255, 255, 255, 220), 1.5, QtCore.Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._outline.setPen(pen)
        self._outline.setBrush(QtGui.QBrush(QtGui.QColor(255, 255, 255, 30)))
        self._outline.setZValue(1e6)
        self._outline.hide()
        self.addItem(self._outline, ignoreBounds=True)

    def setMode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode

    def mouseClickEvent(self, ev: Any) -> None:
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            self.sigPointClicked.emit(self.mapToView(ev.pos()), ev.modifiers())
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:
        shift = bool(ev.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier)
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or axis is not None or (self.mode == "pan" and not shift):
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        pos = self.mapToView(ev.pos())
        if ev.isStart():
            start = self.mapToView(ev.buttonDownPos())
            self._drag_shape = "lasso" if self.mode == "lasso" else "rect"
            self._drag_points = [(start.x(), start.y())]
        if self._drag_shape is None:
            return
        if self._drag_shape == "rect":
            self._drag_points = self._drag_points[:1] + [(pos.x(), pos.y())]
        else:
            self._drag_points.append((pos.x(), pos.y()))
        polygon = self._polygon()
        self._outline.setPath(_path(polygon))
        self._outline.show()
        if ev.isFinish():
            self._outline.hide()
            self._drag_shape = None
            self.sigRegionDrawn.emit(polygon, ev.modifiers())

    def _polygon(self) -> np.ndarray:
        pts = np.asarray(self._drag_points, dtype=np.float64)
        if self._drag_shape == "rect":
            (x0, y0), (x1, y1) = pts[0], pts[-1]
            return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], dtype=np.float64)
        return pts


def _path(polygon: np.ndarray) -> QtGui.QPainterPath:
    path = QtGui.QPainterPath()
    if len(polygon):
        path.addPolygon(QtGui.QPolygonF([QtCore.QPointF(float(x), float(y)) for x, y in polygon]))
        path.closeSubpath()
    return path
