"""The coverage layer under the face graph's points: shaded bins and outlined gaps.

All bins are one ``ImageItem`` (one pixel per bin, stretched over the grid), and all gap
outlines one ``QGraphicsPathItem``: a 19×19 pose grid or a fine 1° grid costs the same
one item, where an item per bin would make the scene slow to paint and to hit-test.

Shading, per bin:

- dst demand sets the opacity (log scale: 1 face is visible, the busiest bin is
  strongest); the hue says how well src supplies it, from red (no src faces) through
  amber to green (``min_src`` or more);
- bins with src faces but no dst faces are a faint blue: supply nobody asks for.

Gaps (``dst >= min_dst``, ``src < min_src``) get a red outline; the selected gap a
thicker yellow one.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from engine.curation.coverage import Coverage, Gap

_RED = np.array((215, 48, 39), dtype=np.float64)
_AMBER = np.array((253, 174, 97), dtype=np.float64)
_GREEN = np.array((26, 152, 80), dtype=np.float64)
_SUPPLY = np.array((90, 140, 220), dtype=np.float64)


def coverage_rgba(cov: Coverage) -> np.ndarray:
    """uint8 ``(nx, ny, 4)`` colours of the bins, indexed ``[ix, iy]`` like the counts."""
    dst = cov.dst_counts.astype(np.float64)
    src = cov.src_counts.astype(np.float64)
    supply = np.clip(src / cov.min_src, 0.0, 1.0)[..., None]
    lower = _RED + (_AMBER - _RED) * np.clip(supply * 2.0, 0.0, 1.0)
    rgb = np.where(supply <= 0.5, lower, _AMBER + (_GREEN - _AMBER) * np.clip(supply * 2.0 - 1.0, 0.0, 1.0))
    top = np.log1p(dst.max()) if dst.size and dst.max() > 0 else 1.0
    alpha = np.where(dst > 0, 60.0 + 130.0 * np.log1p(dst) / top, 0.0)
    only_src = (dst == 0) & (src > 0)
    rgb = np.where(only_src[..., None], _SUPPLY, rgb)
    alpha = np.where(only_src, 35.0, alpha)
    out = np.empty(dst.shape + (4,), dtype=np.uint8)
    out[..., :3] = np.round(rgb)
    out[..., 3] = np.round(alpha)
    return out


def _cosmetic_pen(colour: QtGui.QColor, width: float) -> QtGui.QPen:
    pen = QtGui.QPen(colour, width)
    pen.setCosmetic(True)
    pen.setJoinStyle(QtCore.Qt.PenJoinStyle.MiterJoin)
    return pen


def _gap_rect(gap: Gap) -> QtCore.QRectF:
    (x0, x1), (y0, y1) = gap.x_range, gap.y_range
    return QtCore.QRectF(x0, y0, x1 - x0, y1 - y0)


class CoverageLayer:
    """Owns the bin image and the gap outlines; added once to a view box."""

    def __init__(self, view_box: pg.ViewBox) -> None:
        self.image = pg.ImageItem(axisOrder="col-major")
        self.image.setZValue(-10)
        self.outlines = QtWidgets.QGraphicsPathItem()
        self.outlines.setPen(_cosmetic_pen(QtGui.QColor(230, 40, 40), 2.0))
        self.outlines.setZValue(5)
        self.highlight = QtWidgets.QGraphicsPathItem()
        self.highlight.setPen(_cosmetic_pen(QtGui.QColor(255, 220, 0), 3.0))
        self.highlight.setZValue(30)  # above the selected points' rings
        for item in (self.image, self.outlines, self.highlight):
            view_box.addItem(item, ignoreBounds=True)
        self.coverage: Coverage | None = None

    def set_coverage(self, cov: Coverage | None) -> None:
        self.coverage = cov
        self.highlight_gap(None)
        if cov is None:
            self.image.clear()
            self.image.hide()
            self.outlines.setPath(QtGui.QPainterPath())
            return
        self.image.setImage(coverage_rgba(cov), autoLevels=False)
        x0, x1, y0, y1 = cov.x_edges[0], cov.x_edges[-1], cov.y_edges[0], cov.y_edges[-1]
        self.image.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
        self.image.show()
        path = QtGui.QPainterPath()
        for gap in cov.gaps:
            path.addRect(_gap_rect(gap))
        self.outlines.setPath(path)

    def highlight_gap(self, gap: Gap | None) -> None:
        path = QtGui.QPainterPath()
        if gap is not None:
            path.addRect(_gap_rect(gap))
        self.highlight.setPath(path)

    def set_visible(self, visible: bool) -> None:
        for item in (self.image, self.outlines, self.highlight):
            item.setVisible(visible and (item is not self.image or self.coverage is not None))
