"""How the timeline draws itself: geometry, colours and one function per part.

What depends on the zoom (presence strips, keyframe diamonds, ruler ticks) is rendered
with numpy into images the view caches until the zoom or scroll changes, so a paint
blits a few images and fills a few rectangles: O(width), not O(frames), and a handful of
QPainter calls however many keyframes are on screen.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QImage, QPainter, QPolygon

from widgets.timeline.model import (
    PresenceSummary,
    TimelineTrack,
    Viewport,
    format_timecode,
    keyframe_pixels,
    ruler_ticks,
)

# --------------------------------------------------------------------------- geometry
HEADER_WIDTH: Final = 112  # the track names column
RULER_HEIGHT: Final = 30
RULER_LABEL_HEIGHT: Final = 15  # timecode labels live in the ruler's top band
TRACK_HEIGHT: Final = 40
TRACK_GAP: Final = 2
SCROLLBAR_HEIGHT: Final = 12
STRIP_TOP: Final = 6  # presence strip, relative to the row
STRIP_HEIGHT: Final = 16
KEY_CENTRE: Final = 30  # keyframe diamonds, relative to the row
KEY_RADIUS: Final = 4
HANDLE_GRAB_PX: Final = 5
PLAYHEAD_CELL_MIN_PX: Final = 4  # from this frame width on, the current frame is shaded

# --------------------------------------------------------------------------- colours
BACKGROUND: Final = QColor("#1e1e20")
PANEL: Final = QColor("#26262a")
PANEL_CURRENT: Final = QColor("#2c323d")
TRACK: Final = QColor("#242428")
TRACK_CURRENT: Final = QColor("#2a2e35")
BORDER: Final = QColor("#3a3a40")
TEXT: Final = QColor("#d8d8de")
TEXT_DIM: Final = QColor("#8a8a92")
ACCENT: Final = QColor("#409cff")
TICK: Final = QColor("#5e5e66")
TICK_MAJOR: Final = QColor("#9a9aa2")
PLAYHEAD: Final = QColor("#ff4b4b")
PLAYHEAD_CELL: Final = QColor(255, 255, 255, 34)
OUTSIDE_RANGE: Final = QColor(0, 0, 0, 130)
KEYFRAME: Final = QColor("#409cff")
KEYFRAME_DIM: Final = QColor("#6f8fb8")
RANGE_BAR: Final = QColor(64, 156, 255, 150)

#: Presence level (+2, see ``model.OUTSIDE`` .. ``model.SEVERAL``) -> 0xAARRGGBB.
PRESENCE_LUT: Final = np.array(
    [0xFF1E1E20, 0xFF2E2E34, 0xFF3A3A42, 0xFF5CC878, 0xFFE0B040], dtype=np.uint32
)


def row_top(index: int) -> int:
    """y of track row ``index``."""
    return RULER_HEIGHT + TRACK_GAP + index * (TRACK_HEIGHT + TRACK_GAP)


def content_height(track_count: int) -> int:
    return row_top(max(1, track_count)) + SCROLLBAR_HEIGHT


def _image(argb: np.ndarray, fmt: QImage.Format) -> QImage:
    argb = np.ascontiguousarray(argb, dtype=np.uint32)
    h, w = argb.shape
    return QImage(argb.data, w, h, w * 4, fmt).copy()  # own the pixels: ``argb`` dies here


def track_image(levels: np.ndarray, key_xs: np.ndarray, *, current: bool) -> QImage:
    """The drawn content of one row at one zoom, computed with numpy: the presence strip
    (one colour per pixel from ``levels``) and a diamond at each of ``key_xs``, on a
    transparent background. Cached by the view until the zoom or scroll changes, so a
    paint blits one image per track whatever the clip's length."""
    width = levels.size
    rows = KEY_CENTRE + KEY_RADIUS + 1 - STRIP_TOP
    argb = np.zeros((rows, width), np.uint32)
    argb[:STRIP_HEIGHT] = PRESENCE_LUT[levels.astype(np.intp) + 2]
    colour = np.uint32((KEYFRAME if current else KEYFRAME_DIM).rgba())
    centre = KEY_CENTRE - STRIP_TOP
    for dy in range(-KEY_RADIUS, KEY_RADIUS + 1):
        half = KEY_RADIUS - abs(dy)
        cols = (key_xs[:, None] + np.arange(-half, half + 1)[None, :]).ravel()
        argb[centre + dy, cols[(cols >= 0) & (cols < width)]] = colour
    return _image(argb, QImage.Format.Format_ARGB32_Premultiplied)


def ticks_image(minor_xs: np.ndarray, major_xs: np.ndarray, width: int) -> QImage:
    """The ruler's tick marks as one image (band from the labels down to the range bar)."""
    rows = RULER_HEIGHT - RULER_LABEL_HEIGHT - 5
    argb = np.zeros((rows, width), np.uint32)
    argb[rows - 6 :, minor_xs] = np.uint32(TICK.rgba())
    argb[:, major_xs] = np.uint32(TICK_MAJOR.rgba())
    return _image(argb, QImage.Format.Format_ARGB32_Premultiplied)


class ZoomedImages:
    """The view's zoom-dependent images, cached until the zoom, scroll or width changes:
    one per row (presence strip and keyframes) and one for the ruler's ticks. Playback
    and scrubbing only move the playhead, so their paints reuse every image."""

    def __init__(self) -> None:
        self._summaries: dict[int, PresenceSummary] = {}
        self._rows: dict[int, tuple[tuple[float, float, int, bool], QImage]] = {}
        self._ruler: tuple[tuple[float, float, int, int], QImage, tuple[list[int], list[int]]] | None = None

    def set_tracks(self, tracks: list[TimelineTrack]) -> None:
        self._summaries = {t.clip_id: PresenceSummary(t.face_counts, t.frame_count) for t in tracks}
        self._rows.clear()
        self._ruler = None

    def row(self, track: TimelineTrack, vp: Viewport, *, current: bool) -> QImage:
        key = (vp.first_frame, vp.frames_per_pixel, vp.width, current)
        cached = self._rows.get(track.clip_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        levels = self._summaries[track.clip_id].levels(vp.first_frame, vp.frames_per_pixel, vp.width)
        xs = keyframe_pixels(track.keyframes, vp, margin=KEY_RADIUS, min_spacing=KEY_RADIUS + 2)
        image = track_image(levels, xs, current=current)
        self._rows[track.clip_id] = (key, image)
        return image

    def ruler(self, track: TimelineTrack, vp: Viewport) -> tuple[QImage, tuple[list[int], list[int]]]:
        """The ticks image and the labels' ``(xs, frames)``."""
        key = (vp.first_frame, vp.frames_per_pixel, vp.width, track.clip_id)
        if self._ruler is None or self._ruler[0] != key:
            minor, major, frames = ruler_ticks(vp, track.fps, track.frame_count)
            self._ruler = (key, ticks_image(minor, major, vp.width), (major.tolist(), frames.tolist()))
        return self._ruler[1], self._ruler[2]


def ui_font(base: QFont, pixels: int, *, bold: bool = False) -> QFont:
    font = QFont(base)
    font.setPixelSize(pixels)
    font.setBold(bold)
    return font


# --------------------------------------------------------------------------- parts


def paint_ruler(
    p: QPainter,
    *,
    rect: QRect,
    vp: Viewport,
    track: TimelineTrack,
    range_: tuple[int, int],
    ticks: QImage,
    labels: tuple[list[int], list[int]],
    font: QFont,
) -> None:
    """Ticks (a cached image), timecode labels at the majors, and the in/out range as a
    thin bar under the ticks."""
    p.fillRect(rect, PANEL)
    p.fillRect(QRect(rect.left(), rect.bottom(), rect.width(), 1), BORDER)
    p.drawImage(rect.left(), rect.top() + RULER_LABEL_HEIGHT + 1, ticks)
    x_in = rect.left() + vp.x_of(range_[0])
    x_out = rect.left() + vp.x_of(range_[1] + 1)
    bar = QRect(QPoint(max(rect.left(), math.floor(x_in)), rect.bottom() - 3),
                QPoint(min(rect.right(), math.ceil(x_out) - 1), rect.bottom() - 1))
    if bar.width() > 0:
        p.fillRect(bar, RANGE_BAR)
    p.setFont(font)
    p.setPen(TEXT_DIM)
    p.setClipRect(QRect(rect.left(), rect.top(), rect.width(), RULER_LABEL_HEIGHT))
    baseline = rect.top() + 2 + QFontMetrics(font).ascent()
    for x, frame in zip(*labels):
        p.drawText(rect.left() + x + 3, baseline, format_timecode(frame, track.fps))
    p.setClipping(False)


def paint_track(
    p: QPainter,
    *,
    rect: QRect,
    vp: Viewport,
    content: QImage,
    range_: tuple[int, int],
    current: bool,
    no_swap: tuple[tuple[int, int], ...] = (),
) -> None:
    """The row's background, its content image (strip and keyframes), the "don't swap
    here" ranges (amber hatching), and the shading outside the in/out range."""
    p.fillRect(rect, TRACK_CURRENT if current else TRACK)
    p.drawImage(rect.left(), rect.top() + STRIP_TOP, content)
    for a, b in no_swap:
        left, right = math.floor(rect.left() + vp.x_of(a)), math.floor(rect.left() + vp.x_of(b))
        left, right = max(left, rect.left()), min(right, rect.right() + 1)
        if right > left:
            band = QRect(left, rect.top(), right - left, rect.height())
            p.fillRect(band, QColor(240, 180, 40, 60))
            p.fillRect(band, QBrush(QColor(240, 180, 40, 170), Qt.BrushStyle.BDiagPattern))
    x_in = math.floor(rect.left() + vp.x_of(range_[0]))
    x_out = math.floor(rect.left() + vp.x_of(range_[1] + 1))
    if x_in > rect.left():
        right = min(x_in, rect.right() + 1)
        p.fillRect(QRect(rect.left(), rect.top(), right - rect.left(), rect.height()), OUTSIDE_RANGE)
    if x_out <= rect.right():
        left = max(x_out, rect.left())
        p.fillRect(QRect(left, rect.top(), rect.right() + 1 - left, rect.height()), OUTSIDE_RANGE)
    if current:
        _paint_handles(p, rect=rect, x_in=x_in, x_out=x_out)


def _paint_handles(p: QPainter, *, rect: QRect, x_in: int, x_out: int) -> None:
    """``[`` at the in point and ``]`` after the out frame, in the accent colour."""
    top, bottom = rect.top(), rect.bottom()
    if rect.left() - 4 <= x_in <= rect.right():
        p.fillRect(QRect(x_in, top, 2, rect.height()), ACCENT)
        p.fillRect(QRect(x_in, top, 6, 2), ACCENT)
        p.fillRect(QRect(x_in, bottom - 1, 6, 2), ACCENT)
    if rect.left() <= x_out <= rect.right() + 4:
        p.fillRect(QRect(x_out - 2, top, 2, rect.height()), ACCENT)
        p.fillRect(QRect(x_out - 6, top, 6, 2), ACCENT)
        p.fillRect(QRect(x_out - 6, bottom - 1, 6, 2), ACCENT)


def paint_header(p: QPainter, *, rect: QRect, track: TimelineTrack, current: bool, font: QFont, small: QFont) -> None:
    p.fillRect(rect, PANEL_CURRENT if current else PANEL)
    if current:
        p.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), ACCENT)
    text = rect.adjusted(8, 4, -4, -4)
    p.setFont(font)
    p.setPen(TEXT if current else TEXT_DIM)
    name = QFontMetrics(font).elidedText(track.name, Qt.TextElideMode.ElideMiddle, text.width())
    p.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, name)
    p.setFont(small)
    p.setPen(TEXT_DIM)
    fps = float(track.fps)
    info = f"{track.frame_count:,} f · {fps:.3g} fps"
    p.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, info)


def paint_corner(
    p: QPainter, *, rect: QRect, frame: int, track: TimelineTrack | None, speed: int, font: QFont, small: QFont
) -> None:
    """The current frame's timecode and number, and the shuttle speed while playing."""
    p.fillRect(rect, PANEL)
    p.setPen(BORDER)
    p.drawLine(rect.left(), rect.bottom(), rect.right(), rect.bottom())
    if track is None:
        return
    text = rect.adjusted(8, 1, -4, -2)
    p.setFont(font)
    p.setPen(ACCENT)
    p.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, format_timecode(frame, track.fps))
    p.setFont(small)
    p.setPen(TEXT_DIM)
    p.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, f"frame {frame}")
    if speed:
        arrow = "▶" if speed > 0 else "◀"
        p.setPen(TEXT)
        p.drawText(text, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom, f"{arrow} {abs(speed)}×")


def paint_playhead(p: QPainter, *, area: QRect, vp: Viewport, frame: int) -> None:
    """A red line through the frame's centre with a cap on the ruler; at close zoom the
    whole frame cell is lit, so it is clear which frame the line means."""
    left = area.left() + vp.x_of(frame)
    right = area.left() + vp.x_of(frame + 1)
    x = math.floor(area.left() + vp.x_of(frame + 0.5))
    if right < area.left() or left > area.right() + 1:
        return
    p.save()
    p.setClipRect(area)
    if right - left >= PLAYHEAD_CELL_MIN_PX:
        top = area.top() + RULER_LABEL_HEIGHT
        x0, x1 = math.floor(left), math.floor(right)
        p.fillRect(QRect(x0, top, x1 - x0, area.bottom() + 1 - top), PLAYHEAD_CELL)
    p.fillRect(QRect(x, area.top() + RULER_LABEL_HEIGHT, 1, area.height() - RULER_LABEL_HEIGHT), PLAYHEAD)
    cap_top = area.top() + RULER_HEIGHT - 10
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(PLAYHEAD)
    p.drawPolygon(QPolygon([QPoint(x - 5, cap_top), QPoint(x + 5, cap_top), QPoint(x + 5, cap_top + 4),
                            QPoint(x, cap_top + 9), QPoint(x - 5, cap_top + 4)]))
    p.restore()
