"""PlaybackClock: the timeline's transport clock, for Space and J/K/L playback."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Final

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal

#: Never tick faster than this, whatever the speed: 16x of 60 fps would be 960 frames a
#: second, far more than can be decoded or seen; the clock skips frames instead.
MIN_TICK_MS: Final = 10


class PlaybackClock(QObject):
    """Says which frame is due, from the wall clock: ``start + elapsed * fps * speed``.

    Frames are derived from elapsed time rather than counted per tick, so a slow tick or
    a slow frame view makes playback skip frames instead of drifting behind real time.
    The timer ticks at twice the frame rate (capped), and ``frame_due`` is emitted only
    when the due frame changes.

    Signals: ``frame_due(int)``; ``finished()`` after the first or last frame was reached
    (the clock has then stopped).
    """

    frame_due = Signal(int)
    finished = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._elapsed = QElapsedTimer()
        self._start_frame = 0
        self._frame = 0
        self._last_frame = 0
        self._speed = 0
        self._fps = Fraction(25)

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    @property
    def speed(self) -> int:
        return self._speed if self.running else 0

    def start(self, *, frame: int, speed: int, fps: Fraction, last_frame: int) -> None:
        """Play from ``frame`` at ``speed`` times ``fps`` (negative: backwards)."""
        if speed == 0:
            self.stop()
            return
        self._speed = speed
        self._fps = Fraction(fps)
        self._last_frame = last_frame
        self.rebase(frame)
        period_ms = 1000.0 / (float(self._fps) * abs(speed))
        self._timer.start(max(MIN_TICK_MS, int(period_ms / 2)))

    def rebase(self, frame: int) -> None:
        """Continue from ``frame`` now (a seek during playback)."""
        self._start_frame = self._frame = frame
        self._elapsed.start()

    def stop(self) -> None:
        self._timer.stop()
        self._speed = 0

    def _tick(self) -> None:
        seconds = self._elapsed.nsecsElapsed() / 1e9
        advance = seconds * float(self._fps) * self._speed
        frame = self._start_frame + (math.floor(advance) if advance >= 0 else math.ceil(advance))
        at_end = frame >= self._last_frame if self._speed > 0 else frame <= 0
        frame = min(max(frame, 0), self._last_frame)
        if frame != self._frame:
            self._frame = frame
            self.frame_due.emit(frame)
        if at_end:
            self.stop()
            self.finished.emit()
