"""The timeline's horizontal extent: which frames of the current clip the track area shows
(a :class:`~widgets.timeline.model.Viewport`), the zoom that fits the clip to the width
until the user zooms, and the scrollbar under the tracks.

Split out of :mod:`widgets.timeline.timeline_view`: the view asks the scroller to follow
its width and clip (:meth:`TimelineScroller.refit`), to zoom, and to bring a frame on
screen; the scroller repaints the view whenever the frames shown change.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QScrollBar, QWidget

from widgets.qt_utils import signals_blocked
from widgets.timeline import painting as paint
from widgets.timeline.model import Viewport, clamp_frames_per_pixel, fit_frames_per_pixel


class TimelineScroller(QObject):
    """The viewport and scrollbar of ``view``'s track area.

    Parameters
    ----------
    view : the timeline; the scrollbar is its child, along its bottom right of the headers.
    frame_count : the current clip's frame count, or None without a clip.

    Attributes
    ----------
    vp : the frames shown (x relative to the track area's left edge).
    fit : whether the zoom follows the width (the whole clip shown) until the user zooms.
    bar : the horizontal scrollbar, shown only when the clip is wider than the area.
    """

    def __init__(self, view: QWidget, frame_count: Callable[[], int | None]) -> None:
        super().__init__(view)
        self._view = view
        self._frame_count = frame_count
        self.vp = Viewport(0.0, 1.0, 1)
        self.fit = True
        self.bar = QScrollBar(Qt.Orientation.Horizontal, view)
        self.bar.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.bar.valueChanged.connect(self._on_scrolled)
        self.bar.hide()

    def refit(self) -> None:
        """Fit the viewport to the view's width and the current clip (fit zoom follows
        the width; otherwise the zoom stays and the scroll is clamped)."""
        frames = self._frame_count()
        width = max(1, self._view.width() - paint.HEADER_WIDTH)
        vp = self.vp.resized(width)
        if frames is None:
            self.vp = vp
        elif self.fit:
            self.vp = Viewport(0.0, fit_frames_per_pixel(frames, width), width)
        else:
            self.vp = vp.clamped(frames)
        self.sync_bar()

    def zoom(self, frames_per_pixel: float, anchor: float, frames: int) -> None:
        """Zoom to ``frames_per_pixel`` (clamped) keeping frame position ``anchor`` in place."""
        fpp = clamp_frames_per_pixel(frames_per_pixel, frames, self.vp.width)
        self.vp = self.vp.zoomed(fpp, anchor=anchor).clamped(frames)
        self.fit = self.vp.frames_per_pixel >= fit_frames_per_pixel(frames, self.vp.width)
        self.sync_bar()

    def sync_bar(self) -> None:
        frames = self._frame_count()
        vp = self.vp
        total_px = math.ceil(frames / vp.frames_per_pixel) if frames is not None else 0
        needed = frames is not None and total_px > vp.width + 1
        with signals_blocked(self.bar):
            self.bar.setRange(0, max(0, total_px - vp.width))
            self.bar.setPageStep(vp.width)
            self.bar.setSingleStep(max(1, vp.width // 20))
            self.bar.setValue(round(vp.first_frame / vp.frames_per_pixel))
        self.bar.setGeometry(paint.HEADER_WIDTH, self._view.height() - paint.SCROLLBAR_HEIGHT,
                             vp.width, paint.SCROLLBAR_HEIGHT)
        self.bar.setVisible(needed)

    def scroll_to(self, first_frame: float) -> None:
        frames = self._frame_count()
        if frames is None:
            return
        vp = self.vp.scrolled_to(first_frame).clamped(frames)
        if vp != self.vp:
            self.vp = vp
            self.sync_bar()
            self._view.update()

    def is_visible(self, frame: int) -> bool:
        return self.vp.first_frame <= frame + 0.5 < self.vp.last_position

    def ensure_visible(self, frame: int, *, page: bool) -> None:
        """Scroll so ``frame`` is on screen: by pages (playback, keys) so the view does
        not crawl, or just enough (dragging past an edge)."""
        if self.is_visible(frame):
            return
        span = self.vp.width * self.vp.frames_per_pixel
        forward = frame + 0.5 >= self.vp.last_position
        if page:
            first = frame - (0.1 if forward else 0.9) * span
        else:
            first = frame + 1 - span if forward else frame
        self.scroll_to(first)

    def _on_scrolled(self, value: int) -> None:
        frames = self._frame_count()
        if frames is not None:
            self.vp = self.vp.scrolled_to(value * self.vp.frames_per_pixel).clamped(frames)
            self._view.update()
