"""Drawing a box over a missed face: the Qt-free state behind "add a face here".

A left press on empty frame space (no face there) arms the drawer; once the cursor has
moved a few view pixels it draws a box from the press point, clamped to the frame;
release hands back the box in frame pixels as ``(x, y, w, h)``, or nothing when it
never grew (that was a plain click, which clears the selection as before). Boxes under
:data:`MIN_BOX` frame pixels are dropped here already: the engine would refuse them.
"""

from __future__ import annotations

from typing import Final

#: The smallest box side (frame pixels) worth sending; the engine's own limit.
MIN_BOX: Final = 16


class BoxDrawer:
    def __init__(self) -> None:
        self._start: tuple[float, float] | None = None
        self._end: tuple[float, float] | None = None
        self._frame_size: tuple[int, int] = (0, 0)
        self.drawing = False

    @property
    def armed(self) -> bool:
        return self._start is not None

    def begin(self, point: tuple[float, float], frame_size: tuple[int, int]) -> None:
        self._frame_size = frame_size
        self._start = self._clamp(point)
        self._end = self._start
        self.drawing = False

    def move(self, point: tuple[float, float], moved_view_px: float, slop_px: float) -> None:
        if self._start is None:
            return
        self._end = self._clamp(point)
        if moved_view_px > slop_px:
            self.drawing = True

    def box(self) -> tuple[float, float, float, float] | None:
        """The box so far as ``(x, y, w, h)`` frame pixels (None before it is drawn)."""
        if self._start is None or self._end is None or not self.drawing:
            return None
        x0, x1 = sorted((self._start[0], self._end[0]))
        y0, y1 = sorted((self._start[1], self._end[1]))
        return (x0, y0, x1 - x0, y1 - y0)

    def end(self) -> tuple[float, float, float, float] | None:
        """Finish: the box to add, or None (a click, or a box too small to be a face)."""
        box = self.box()
        self.abort()
        if box is None or box[2] < MIN_BOX or box[3] < MIN_BOX:
            return None
        return box

    def abort(self) -> None:
        self._start = self._end = None
        self.drawing = False

    def _clamp(self, point: tuple[float, float]) -> tuple[float, float]:
        w, h = self._frame_size
        return (min(max(point[0], 0.0), float(w)), min(max(point[1], 0.0), float(h)))
