"""Demo: ``python -m widgets.timeline [--seconds N]``.

Two synthetic clips (25 fps and 29.97 fps) in a TimelineView, a stand-in frame view that
"decodes" the requested frame, and a log of the view's signals. With ``--seconds`` the
window closes itself (a test runs it for 1 s offscreen).
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QPlainTextEdit, QSplitter, QVBoxLayout, QWidget

from widgets.timeline import TimelineTrack, TimelineView, format_timecode


def synthetic_track(clip_id: int, name: str, frame_count: int, fps: Fraction, *, seed: int = 0) -> TimelineTrack:
    """A clip with runs of no face, one face and several faces, and some keyframes."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(20, 400, size=frame_count // 20 + 1)
    values = rng.choice([0, 1, 2], size=lengths.size, p=[0.25, 0.6, 0.15])
    counts = np.repeat(values, lengths)[:frame_count]
    with_face = np.flatnonzero(counts > 0)
    keyframes = rng.choice(with_face, size=min(with_face.size, frame_count // 150 + 1), replace=False)
    return TimelineTrack(clip_id, name, frame_count, fps, face_counts=counts, keyframes=keyframes,
                         in_frame=frame_count // 10, out_frame=frame_count - frame_count // 8)


class _FakeFrameView(QLabel):
    """Stands in for the frame view: draws the frame number and timecode."""

    def show_frame(self, track: TimelineTrack, frame: int) -> None:
        image = QImage(320, 180, QImage.Format.Format_RGB32)
        image.fill(QColor.fromHsv((frame * 3) % 360, 80, 90))
        p = QPainter(image)
        p.setPen(Qt.GlobalColor.white)
        p.drawText(image.rect(), Qt.AlignmentFlag.AlignCenter,
                   f"{track.name}\nframe {frame}\n{format_timecode(frame, track.fps)}")
        p.end()
        self.setPixmap(QPixmap.fromImage(image))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m widgets.timeline", description=__doc__)
    parser.add_argument("--seconds", type=float, default=None, help="close after this many seconds")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    tracks = [
        synthetic_track(1, "interview_a.mp4", 9000, Fraction(25), seed=1),
        synthetic_track(2, "broll_ntsc.mov", 5400, Fraction(30000, 1001), seed=2),
    ]
    window = QMainWindow()
    window.setWindowTitle("TimelineView demo")
    frame_view = _FakeFrameView()
    frame_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
    log = QPlainTextEdit()
    log.setReadOnly(True)
    log.setMaximumBlockCount(200)
    timeline = TimelineView()
    timeline.set_tracks(tracks)
    top = QSplitter()
    top.addWidget(frame_view)
    top.addWidget(log)
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.addWidget(top, 1)
    layout.addWidget(timeline)
    window.setCentralWidget(central)
    window.resize(1000, 480)

    def on_frame(frame: int) -> None:
        track = timeline.current_track()
        if track is not None:
            frame_view.show_frame(track, frame)

    timeline.frame_requested.connect(on_frame)
    timeline.range_changed.connect(lambda a, b: log.appendPlainText(f"range_changed({a}, {b})"))
    timeline.play_toggled.connect(lambda on: log.appendPlainText(f"play_toggled({on})"))
    timeline.shuttle_changed.connect(lambda s: log.appendPlainText(f"shuttle_changed({s})"))
    timeline.track_selected.connect(lambda c: log.appendPlainText(f"track_selected({c})"))
    timeline.track_selected.connect(lambda _c: on_frame(timeline.frame()))
    log.appendPlainText("Click or drag to scrub; Space/J/K/L play; arrows step; I/O mark; Ctrl+wheel zooms.")
    on_frame(0)
    window.show()
    timeline.setFocus()
    if args.seconds is not None:
        timeline.set_playing(True)  # exercise the transport too
        QTimer.singleShot(int(args.seconds * 1000), app.quit)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
