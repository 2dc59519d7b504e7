"""TimelineView: the clip timeline of the editor, one track per clip.

A pull-style view (like Orange's ``OWScatterPlotBase``): the presenter pushes plain
:class:`~widgets.timeline.model.TimelineTrack` values and the current frame in, and the
view emits what the user asks for. It never decodes, never opens the project, and keeps
no state a presenter would have to read back, except what the user is doing right now.
Painting is :mod:`~widgets.timeline.painting` (cuts: :mod:`~widgets.timeline.cuts_painting`),
the zoom, scroll and scrollbar :class:`~widgets.timeline.scroller.TimelineScroller`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from widgets.qt_utils import signals_blocked
from widgets.timeline import painting as paint
from widgets.timeline.cuts_painting import paint_cuts
from widgets.timeline.model import (
    TimelineTrack,
    Viewport,
    mark_range,
    next_keyframe,
    prev_keyframe,
    shuttle_speed,
)
from widgets.timeline.playback import PlaybackClock
from widgets.timeline.scroller import TimelineScroller

_Drag = Literal["scrub", "in", "out"]
_WHEEL_ZOOM = 1.25  # per wheel notch (120 units of angle delta)
_WHEEL_SCROLL = 0.1  # of the visible frames per wheel notch
_SHUTTLE_KEYS = {Qt.Key.Key_J: "j", Qt.Key.Key_K: "k", Qt.Key.Key_L: "l"}


class TimelineView(QWidget):
    """The clip timeline: a frame ruler with timecode, one row per clip (presence strip,
    keyframe diamonds, in/out range), and the playhead.

    Signals
    -------
    frame_requested(int)
        The user wants this frame of the current clip shown: a click or drag on the ruler
        or a track (scrubbing), a key, or a playback tick. While dragging it is emitted
        at most once per event-loop turn, however many mouse moves arrived.
    range_changed(int, int)
        The user set the current clip's in/out frames (inclusive): once when a handle
        drag ends, or on I/O. The view already shows the new range.
    play_toggled(bool)
        Playback started or stopped by the user (Space, J/K/L, a click) or at a clip end.
    shuttle_changed(int)
        The signed playback speed in multiples of the clip's fps (0: paused).
    track_selected(int)
        The user clicked another clip's row (or pressed Up/Down). The view makes it
        current at once and keeps its playhead frame (clamped to the clip); the click
        does not scrub. The presenter shows that clip and may ``set_frame``.

    What the presenter must do
    --------------------------
    Decode asynchronously and drop stale requests: keep only the latest requested frame,
    decode it when the decoder is free, and skip any that were superseded meanwhile.
    ``frame_requested`` can come 60 times a second while scrubbing and the view has
    already moved its playhead, so a decoder that queues every request lags behind the
    mouse. Do not echo those frames back with ``set_frame``: it is for frame changes
    made elsewhere (a face grid click, undo); ``set_frame`` is ignored while the user
    drags. The view is the transport: while playing it emits ``frame_requested`` from its
    own wall clock at fps x speed, skipping frames rather than falling behind.

    ``set_*`` methods never emit; they are the model-to-view direction.

    Keys: Space play/pause, J/K/L shuttle back/pause/forward (repeat to speed up),
    Left/Right one frame, Shift+Left/Right ten frames, Ctrl+Left/Right previous/next
    keyframe, Home/End first/last frame, I/O set in/out at the playhead, Up/Down
    previous/next clip. Wheel scrolls, Ctrl+wheel zooms around the cursor.
    """

    frame_requested = Signal(int)
    range_changed = Signal(int, int)
    play_toggled = Signal(bool)
    shuttle_changed = Signal(int)
    track_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._tracks: list[TimelineTrack] = []
        self._images = paint.ZoomedImages()
        self._current = -1
        self._frame = 0
        self._speed = 0
        self._drag: _Drag | None = None
        self._drag_range: tuple[int, int] | None = None  # live range while a handle moves
        self._pending: int | None = None
        self._last_emitted: int | None = None
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(0)
        self._flush.timeout.connect(self._flush_pending)
        self._clock = PlaybackClock(self)
        self._clock.frame_due.connect(self._on_clock_frame)
        self._clock.finished.connect(self._on_clock_finished)
        self._scroll = TimelineScroller(self, self._current_frame_count)
        self._font = paint.ui_font(self.font(), 10)
        self._font_bold = paint.ui_font(self.font(), 11, bold=True)
        self._font_small = paint.ui_font(self.font(), 9)

    # ================================================================== data in
    def set_tracks(self, tracks: Sequence[TimelineTrack]) -> None:
        """Show these clips, one row each, in this order. The current clip stays current
        if it is still there (else the first becomes current); a changed current clip
        stops playback. The zoom is kept (clamped), or fits the new clip at fit zoom."""
        with signals_blocked(self):
            previous = self.current_track()
            self._tracks = list(tracks)
            ids = [t.clip_id for t in self._tracks]
            if len(set(ids)) != len(ids):
                raise ValueError(f"clip ids repeat: {ids}")
            self._images.set_tracks(self._tracks)
            keep = previous is not None and previous.clip_id in ids
            self._current = ids.index(previous.clip_id) if keep else (0 if ids else -1)
            current = self.current_track()
            if current is None or previous is None or current.clip_id != previous.clip_id:
                self._stop_silently()
                self._cancel_drag()
            self._frame = min(self._frame, current.last_frame) if current else 0
            self._scroll.refit()
        self.updateGeometry()
        self.update()

    def set_current_track(self, clip_id: int) -> None:
        """Make this clip current (its frames, range and ruler), without emitting. Stops
        playback; the zoom is kept (clamped), or fits the new clip at fit zoom."""
        index = self._index_of(clip_id)
        if index == self._current:
            return
        with signals_blocked(self):
            self._current = index
            self._stop_silently()
            self._cancel_drag()
            self._frame = min(self._frame, self._tracks[index].last_frame)
            self._scroll.refit()
        self.update()

    def set_frame(self, frame: int) -> None:
        """Move the playhead (no ``frame_requested``). Ignored while the user scrubs (a
        stale echo must not pull the playhead back from under the mouse); while playing,
        playback continues from here. The view scrolls along if the playhead was on
        screen."""
        track = self.current_track()
        if track is None or self._drag == "scrub":
            return
        frame = min(max(int(frame), 0), track.last_frame)
        with signals_blocked(self):
            was_visible = self._scroll.is_visible(self._frame)
            self._frame = frame
            if self._clock.running:
                self._clock.rebase(frame)
            if was_visible:
                self._scroll.ensure_visible(frame, page=True)
        self.update()

    def set_range(self, in_frame: int, out_frame: int) -> None:
        """Set the current clip's in/out frames (inclusive) without emitting."""
        track = self.current_track()
        if track is None:
            return
        if not 0 <= in_frame <= out_frame <= track.last_frame:
            raise ValueError(f"bad range {in_frame}..{out_frame} for {track.frame_count} frames")
        with signals_blocked(self):
            self._commit_range(in_frame, out_frame)
        self.update()

    def set_playing(self, playing: bool) -> None:
        """Start (at 1x) or stop playback without emitting ``play_toggled``."""
        with signals_blocked(self):
            if not playing:
                self._set_speed(0)
            elif self._speed == 0:
                self._set_speed(1)

    def zoom_to(self, frames_per_pixel: float, *, anchor_frame: float | None = None) -> None:
        """Zoom so a pixel spans ``frames_per_pixel`` frames (clamped between the whole
        clip and ``MAX_PIXELS_PER_FRAME`` px per frame). ``anchor_frame`` keeps its
        place on screen; by default the playhead if visible, else the centre."""
        track = self.current_track()
        if track is None:
            return
        if anchor_frame is None:
            vp = self._scroll.vp
            anchor = self._frame + 0.5 if self._scroll.is_visible(self._frame) else vp.position_at(vp.width / 2)
        else:
            anchor = anchor_frame
        self._scroll.zoom(frames_per_pixel, anchor, track.frame_count)
        self.update()

    def zoom_fit(self) -> None:
        """Show the whole current clip."""
        self._scroll.fit = True
        self._scroll.refit()
        self.update()

    # ================================================================== state out
    def tracks(self) -> list[TimelineTrack]:
        return list(self._tracks)

    def current_track(self) -> TimelineTrack | None:
        """The current clip's track; its range is the last one set or committed (``range()``
        also follows a handle being dragged)."""
        return self._tracks[self._current] if 0 <= self._current < len(self._tracks) else None

    def frame(self) -> int:
        return self._frame

    def range(self) -> tuple[int, int]:
        """The current clip's (in, out) frames, inclusive; (0, 0) without clips."""
        if self._drag_range is not None:
            return self._drag_range
        track = self.current_track()
        return track.range if track else (0, 0)

    def is_playing(self) -> bool:
        return self._speed != 0

    def shuttle(self) -> int:
        """Signed playback speed in multiples of fps (0: paused)."""
        return self._speed

    def viewport(self) -> Viewport:
        """Which frames the track area shows (x relative to ``track_area().left()``)."""
        return self._scroll.vp

    def track_area(self) -> QRect:
        """Where frames are drawn: right of the headers, ruler included, scrollbar excluded."""
        bottom = self.height() - (0 if self._scroll.bar.isHidden() else paint.SCROLLBAR_HEIGHT)
        return QRect(paint.HEADER_WIDTH, 0, max(1, self.width() - paint.HEADER_WIDTH), max(1, bottom))

    def frame_at(self, x: float) -> int:
        """The current clip's frame under widget x (clamped to the clip)."""
        track = self.current_track()
        return self._scroll.vp.frame_at(x - paint.HEADER_WIDTH, track.frame_count) if track else 0

    def x_of(self, frame: float) -> float:
        """Widget x of a frame position (frame ``i`` spans ``x_of(i) .. x_of(i + 1)``)."""
        return paint.HEADER_WIDTH + self._scroll.vp.x_of(frame)

    def next_keyframe(self, frame: int | None = None) -> int | None:
        """The current clip's first keyframe after ``frame`` (default: the playhead)."""
        track = self.current_track()
        return next_keyframe(track.keyframes, self._frame if frame is None else frame) if track else None

    def prev_keyframe(self, frame: int | None = None) -> int | None:
        """The current clip's last keyframe before ``frame`` (default: the playhead)."""
        track = self.current_track()
        return prev_keyframe(track.keyframes, self._frame if frame is None else frame) if track else None

    def sizeHint(self) -> QSize:
        return QSize(800, paint.content_height(len(self._tracks)))

    def minimumSizeHint(self) -> QSize:
        return QSize(paint.HEADER_WIDTH + 120, paint.content_height(1))

    # ================================================================== painting
    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), paint.BACKGROUND)
        track = self.current_track()
        area = self.track_area()
        speed = self._speed
        paint.paint_corner(p, rect=QRect(0, 0, paint.HEADER_WIDTH, paint.RULER_HEIGHT), frame=self._frame,
                           track=track, speed=speed, font=self._font_bold, small=self._font_small)
        if track is None:
            p.end()
            return
        vp = self._scroll.vp
        ruler = QRect(area.left(), 0, area.width(), paint.RULER_HEIGHT)
        ticks, labels = self._images.ruler(track, vp)
        paint.paint_ruler(p, rect=ruler, vp=vp, track=track, range_=self.range(), ticks=ticks, labels=labels,
                          font=self._font)
        for i, t in enumerate(self._tracks):
            top = paint.row_top(i)
            if top >= area.bottom():
                break
            current = i == self._current
            paint.paint_header(p, rect=QRect(0, top, paint.HEADER_WIDTH, paint.TRACK_HEIGHT), track=t,
                               current=current, font=self._font, small=self._font_small)
            row = QRect(area.left(), top, area.width(), min(paint.TRACK_HEIGHT, area.bottom() + 1 - top))
            range_ = self.range() if current else t.range
            paint.paint_track(p, rect=row, vp=vp, content=self._images.row(t, vp, current=current), range_=range_,
                              current=current, no_swap=t.no_swap)
            paint_cuts(p, rect=row, vp=vp, cuts=t.cuts)
        paint.paint_playhead(p, area=area, vp=vp, frame=self._frame)
        p.end()

    # ================================================================== mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self._tracks:
            super().mousePressEvent(event)
            return
        pos = event.position()
        x, y = pos.x(), pos.y()
        if self._speed:
            self._set_speed(0)
        row = self._row_at(y)
        if row is not None and row != self._current:
            self._select(row)  # picking a clip is not scrubbing it: its frames differ
            return
        if x < paint.HEADER_WIDTH:
            return
        handle = self._handle_at(x) if row is not None else None
        if handle is not None:
            self._drag = handle
            self._drag_range = self.range()
            self.setCursor(Qt.CursorShape.SizeHorCursor)
            return
        self._drag = "scrub"
        self._last_emitted = None
        self._request(self.frame_at(x), now=True)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self._drag == "scrub":
            frame = self.frame_at(x)
            self._scroll.ensure_visible(frame, page=False)  # dragging past an edge scrolls
            self._request(frame, now=False)
        elif self._drag in ("in", "out") and self._drag_range is not None:
            self._move_handle(x)
        elif self._drag is None:
            row = self._row_at(event.position().y())
            near = row == self._current and x >= paint.HEADER_WIDTH and self._handle_at(x) is not None
            if near:
                self.setCursor(Qt.CursorShape.SizeHorCursor)
            else:
                self.unsetCursor()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._drag is None:
            super().mouseReleaseEvent(event)
            return
        drag, self._drag = self._drag, None
        if drag == "scrub":
            self._flush.stop()
            self._flush_pending()
        else:
            live, self._drag_range = self._drag_range, None
            self.unsetCursor()
            if live is not None and live != self.range():
                self._commit_range(*live)
                self.range_changed.emit(*live)
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        track = self.current_track()
        if track is None:
            return
        delta = event.angleDelta()
        notches = (delta.y() or delta.x()) / 120.0
        if not notches:
            return
        x = event.position().x() - paint.HEADER_WIDTH
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            anchor = self._scroll.vp.position_at(x) if 0 <= x < self._scroll.vp.width else None
            self.zoom_to(self._scroll.vp.frames_per_pixel / (_WHEEL_ZOOM**notches), anchor_frame=anchor)
        else:
            span = self._scroll.vp.width * self._scroll.vp.frames_per_pixel
            self._scroll.scroll_to(self._scroll.vp.first_frame - notches * _WHEEL_SCROLL * span)
        event.accept()

    # ================================================================== keys
    def keyPressEvent(self, event: QKeyEvent) -> None:
        track = self.current_track()
        if track is None:
            super().keyPressEvent(event)
            return
        key = event.key()
        mods = event.modifiers()
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._set_speed(0 if self._speed else 1)
        elif key in _SHUTTLE_KEYS:
            if not event.isAutoRepeat():
                self._set_speed(shuttle_speed(self._speed, _SHUTTLE_KEYS[key]))
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            forward = key == Qt.Key.Key_Right
            self._set_speed(0)
            if ctrl:
                target = self.next_keyframe() if forward else self.prev_keyframe()
                if target is not None:
                    self._step_to(target)
            else:
                step = 10 if shift else 1
                self._step_to(self._frame + (step if forward else -step))
        elif key in (Qt.Key.Key_Home, Qt.Key.Key_End):
            self._set_speed(0)
            self._step_to(0 if key == Qt.Key.Key_Home else track.last_frame)
        elif key in (Qt.Key.Key_I, Qt.Key.Key_O):
            self._mark(in_point=key == Qt.Key.Key_I)
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and len(self._tracks) > 1:
            row = self._current + (1 if key == Qt.Key.Key_Down else -1)
            if 0 <= row < len(self._tracks):
                self._set_speed(0)
                self._select(row)
        elif key == Qt.Key.Key_Escape and self._drag in ("in", "out"):
            self._cancel_drag()
            self.update()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def _step_to(self, frame: int) -> None:
        track = self.current_track()
        assert track is not None
        frame = min(max(frame, 0), track.last_frame)
        if frame != self._frame:
            self._scroll.ensure_visible(frame, page=True)
            self._request(frame, now=True)

    def _mark(self, *, in_point: bool) -> None:
        track = self.current_track()
        assert track is not None
        marked = mark_range(self.range(), self._frame, track.last_frame, in_point=in_point)
        if marked != self.range():
            self._commit_range(*marked)
            self.update()
            self.range_changed.emit(*marked)

    # ================================================================== internals
    def resizeEvent(self, event: QResizeEvent) -> None:
        self._scroll.refit()
        super().resizeEvent(event)

    def _row_at(self, y: float) -> int | None:
        if y < paint.RULER_HEIGHT:
            return None
        index = int((y - paint.row_top(0)) // (paint.TRACK_HEIGHT + paint.TRACK_GAP))
        inside = 0 <= y - paint.row_top(index) < paint.TRACK_HEIGHT
        return index if inside and 0 <= index < len(self._tracks) else None

    def _handle_at(self, x: float) -> _Drag | None:
        lo, hi = self.range()
        d_in = abs(x - self.x_of(lo))
        d_out = abs(x - self.x_of(hi + 1))
        if min(d_in, d_out) > paint.HANDLE_GRAB_PX:
            return None
        return "in" if d_in < d_out else "out"

    def _move_handle(self, x: float) -> None:
        track = self.current_track()
        assert track is not None and self._drag_range is not None
        boundary = round(self._scroll.vp.position_at(x - paint.HEADER_WIDTH))
        lo, hi = self._drag_range
        if self._drag == "in":
            lo = min(max(boundary, 0), hi)
        else:
            hi = max(min(boundary - 1, track.last_frame), lo)
        if (lo, hi) != self._drag_range:
            self._drag_range = (lo, hi)
            self.update()

    def _commit_range(self, in_frame: int, out_frame: int) -> None:
        track = self._tracks[self._current]
        self._tracks[self._current] = dataclasses.replace(track, in_frame=in_frame, out_frame=out_frame)

    def _cancel_drag(self) -> None:
        """Forget a handle drag (Escape, or its clip went away) without a range change."""
        if self._drag in ("in", "out"):
            self.unsetCursor()
        self._drag = None
        self._drag_range = None

    def _select(self, row: int) -> None:
        """The user picked another clip: it becomes current at once, then we say so."""
        clip_id = self._tracks[row].clip_id
        self.set_current_track(clip_id)
        self.track_selected.emit(clip_id)

    def _current_frame_count(self) -> int | None:
        track = self.current_track()
        return None if track is None else track.frame_count

    def _index_of(self, clip_id: int) -> int:
        for i, t in enumerate(self._tracks):
            if t.clip_id == clip_id:
                return i
        raise KeyError(f"no track for clip {clip_id}")

    # ---------------------------------------------------------------- requests
    def _request(self, frame: int, *, now: bool) -> None:
        """Move the playhead and ask for ``frame``: now (clicks, keys), or coalesced to
        one request per event-loop turn (drag moves), skipping repeats."""
        if frame != self._frame:
            self._frame = frame
            self.update()
        if now:
            self._flush.stop()
            self._pending = None
            self._last_emitted = frame
            self.frame_requested.emit(frame)
        else:
            self._pending = frame
            if not self._flush.isActive():
                self._flush.start()

    def _flush_pending(self) -> None:
        frame, self._pending = self._pending, None
        if frame is not None and frame != self._last_emitted:
            self._last_emitted = frame
            self.frame_requested.emit(frame)

    # ---------------------------------------------------------------- playback
    def _set_speed(self, speed: int) -> None:
        """Change the shuttle speed; emits (unless blocked) what changed."""
        track = self.current_track()
        if track is None or speed == self._speed:
            return
        was_playing = self._speed != 0
        self._speed = speed
        if speed == 0:
            self._clock.stop()
        else:
            at_end = self._frame >= track.last_frame if speed > 0 else self._frame <= 0
            if not was_playing and at_end:  # play again from the other end
                self._request(0 if speed > 0 else track.last_frame, now=True)
                self._scroll.ensure_visible(self._frame, page=True)
            self._clock.start(frame=self._frame, speed=speed, fps=track.fps, last_frame=track.last_frame)
        self.update()
        self.shuttle_changed.emit(speed)
        if was_playing != (speed != 0):
            self.play_toggled.emit(speed != 0)

    def _stop_silently(self) -> None:
        self._clock.stop()
        self._speed = 0

    def _on_clock_frame(self, frame: int) -> None:
        if self._drag is not None:
            return
        self._scroll.ensure_visible(frame, page=True)
        self._request(frame, now=True)

    def _on_clock_finished(self) -> None:
        self._set_speed(0)
