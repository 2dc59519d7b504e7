"""Shot cuts on the timeline: a thin line at the start of each new shot, across the row.

Kept apart from ``painting`` so the cut layer stays one small function: a clip has a
handful of cuts, so they are drawn with QPainter directly (no cached image), and the
lines of cuts closer than two pixels at the current zoom merge into one.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QPainter, QPen

from widgets.timeline.model import Viewport

CUT_COLOUR: Final = QColor(255, 122, 69, 220)


def cut_pixels(cuts: np.ndarray, vp: Viewport, width: int) -> list[int]:
    """The x of each visible cut (its frame's left edge) in a row of ``width`` pixels."""
    xs: list[int] = []
    for frame in np.asarray(cuts, dtype=np.int64):
        x = math.floor(vp.x_of(float(frame)))
        if 0 <= x < width and (not xs or x - xs[-1] >= 2):
            xs.append(x)
    return xs


def paint_cuts(p: QPainter, *, rect: QRect, vp: Viewport, cuts: np.ndarray) -> None:
    """Draw the cuts of one track row."""
    if len(cuts) == 0:
        return
    p.save()
    p.setPen(QPen(CUT_COLOUR, 1))
    for x in cut_pixels(cuts, vp, rect.width()):
        p.drawLine(rect.left() + x, rect.top() + 2, rect.left() + x, rect.bottom() - 2)
    p.restore()
