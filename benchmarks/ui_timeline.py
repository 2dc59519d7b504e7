"""Timeline speed (offscreen): repaint of a 100,000-frame clip, and scrubbing throughput.

Repaint: a 1920 px TimelineView with four tracks (100,000 frames with 5,000 keyframes,
plus three shorter clips) is rendered into a QImage; the median over many paints counts,
at fit zoom and at single-frame zoom (8 px per frame, a tick on every frame), with the
playhead moving each paint as during playback. A third figure repaints at a new zoom
every time, so the presence strips are recomputed each paint. Target: <= 16 ms.

Scrubbing: a mouse drag is simulated across the 75-frame GRID clip ``bbaf2n.mpg`` (a
mouse move every 8 ms, at 1,500 and 6,000 px/s, back and forth for a few seconds); the slot on
``frame_requested`` decodes the 360x288 frame with ``FrameReader.read`` on the GUI
thread (the naive presenter) and shows it in a QLabel. Frames shown per second count
the label's paints with a new frame; the slower of the two drags counts. Target: >= 30
frames/s.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from fractions import Fraction  # noqa: E402

import numpy as np  # noqa: E402
from _common import ROOT, report  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QEventLoop, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QImage, QMouseEvent, QPaintEvent, QPixmap  # noqa: E402
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget  # noqa: E402

from engine.media import FrameReader  # noqa: E402
from widgets.timeline import TimelineTrack, TimelineView  # noqa: E402
from widgets.timeline import painting  # noqa: E402
from widgets.timeline.__main__ import synthetic_track  # noqa: E402

CLIP = ROOT / "resources" / "sample" / "bbaf2n.mpg"
WIDTH = 1920
PAINTS = 80
SCRUB_SECONDS = 4.0
MOVE_MS = 8
MOVE_PX = (12, 48)  # a steady drag (about 60 frames/s of the 75-frame clip) and a fast one (250)


def _tracks(grid_frames: int) -> list[TimelineTrack]:
    long = synthetic_track(1, "long_take.mp4", 100_000, Fraction(25), seed=1)
    rng = np.random.default_rng(3)
    long = TimelineTrack(1, long.name, long.frame_count, long.fps, face_counts=long.face_counts,
                         keyframes=rng.choice(100_000, 5_000, replace=False), in_frame=2_000, out_frame=97_000)
    return [
        long,
        synthetic_track(2, "interview_ntsc.mov", 30_000, Fraction(30000, 1001), seed=2),
        synthetic_track(3, "broll.mp4", 4_000, Fraction(25), seed=3),
        TimelineTrack(4, CLIP.name, grid_frames, Fraction(25), face_counts=np.ones(grid_frames, np.int32),
                      keyframes=[10, 40, 70]),
    ]


def _median_paint_ms(view: TimelineView, image: QImage, step) -> float:
    times = []
    for i in range(PAINTS):
        step(i)
        t = time.perf_counter()
        view.render(image)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


class _FrameLabel(QLabel):
    """The frame view: counts the paints that show a frame not shown before."""

    def __init__(self) -> None:
        super().__init__()
        self.fresh = False
        self.shown: list[float] = []
        self.clock = QElapsedTimer()
        self.clock.start()

    def show_frame(self, rgb: np.ndarray) -> None:
        h, w, _ = rgb.shape
        image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self.setPixmap(QPixmap.fromImage(image))  # copies the pixels
        self.fresh = True

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.fresh:
            self.fresh = False
            self.shown.append(self.clock.nsecsElapsed() / 1e9)


def scrub(
    app: QApplication, view: TimelineView, reader: FrameReader, move_px: int
) -> tuple[float, float, float, float]:
    """(frames shown per second, p95 gap between shown frames in ms, median decode ms,
    requests per second) for a simulated drag moving ``move_px`` every ``MOVE_MS``."""
    label = _FrameLabel()
    window = QWidget()
    layout = QVBoxLayout(window)
    layout.addWidget(label)
    layout.addWidget(view)
    window.resize(WIDTH, 288 + view.sizeHint().height() + 30)
    window.show()
    view.set_current_track(4)
    view.zoom_fit()
    app.processEvents()
    decode: list[float] = []
    requests = 0

    def on_frame(frame: int) -> None:
        nonlocal requests
        requests += 1
        t = time.perf_counter()
        rgb = reader.read(frame)
        decode.append(time.perf_counter() - t)
        label.show_frame(rgb)

    view.frame_requested.connect(on_frame)
    left, right = painting.HEADER_WIDTH + 2, view.width() - 3
    y = 10.0
    state = {"x": float(left), "dx": move_px}

    def send(kind: QMouseEvent.Type, x: float) -> None:
        held = Qt.MouseButton.LeftButton
        button = Qt.MouseButton.NoButton if kind == QMouseEvent.Type.MouseMove else held
        pos = QPointF(x, y)
        app.postEvent(view, QMouseEvent(kind, pos, view.mapToGlobal(pos), button, held, Qt.KeyboardModifier.NoModifier))

    def move() -> None:
        x = state["x"] + state["dx"]
        if not left <= x <= right:
            state["dx"] = -state["dx"]
            x = state["x"] + state["dx"]
        state["x"] = x
        send(QMouseEvent.Type.MouseMove, x)

    send(QMouseEvent.Type.MouseButtonPress, left)
    mouse = QTimer()
    mouse.setTimerType(Qt.TimerType.PreciseTimer)
    mouse.timeout.connect(move)
    loop = QEventLoop()
    start = label.clock.nsecsElapsed() / 1e9
    mouse.start(MOVE_MS)
    QTimer.singleShot(int(SCRUB_SECONDS * 1000), loop.quit)
    loop.exec()
    mouse.stop()
    send(QMouseEvent.Type.MouseButtonRelease, state["x"])
    app.processEvents()
    shown = [t for t in label.shown if t >= start]
    gaps = np.diff([start, *shown]) * 1000
    view.frame_requested.disconnect(on_frame)
    window.hide()
    view.setParent(None)  # keep the view for the next run; the window goes
    return (len(shown) / SCRUB_SECONDS, float(np.percentile(gaps, 95)) if gaps.size else float("inf"),
            statistics.median(decode) * 1000 if decode else float("nan"), requests / SCRUB_SECONDS)


def _none_survives_qt_calls() -> bool:
    """Whether calling Qt methods leaves ``None``'s reference count alone. PySide6 6.12.0 on
    CPython 3.11 (where ``None`` is not immortal) drops one reference per call of a void
    method, so any Qt program aborts with "none_dealloc" after some thousands of calls."""
    image = QImage(4, 4, QImage.Format.Format_RGB32)
    before = sys.getrefcount(None)
    for _ in range(200):
        image.fill(0)
    return sys.getrefcount(None) > before - 100


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    if not _none_survives_qt_calls():
        import PySide6

        print(f"cannot measure: PySide6 {PySide6.__version__} on Python {sys.version.split()[0]} loses a reference "
              "to None on every void Qt call and would abort this run (fixed by PySide6 != 6.12.0 or Python >= 3.12)")
        return 2
    reader = FrameReader(CLIP)
    view = TimelineView()
    view.set_tracks(_tracks(reader.frame_count))
    height = view.sizeHint().height()
    view.resize(WIDTH, height)
    view.show()
    app.processEvents()
    image = QImage(WIDTH, height, QImage.Format.Format_RGB32)
    image.setDevicePixelRatio(1.0)
    print(f"view: {WIDTH}x{height} px, tracks: {[t.frame_count for t in view.tracks()]} frames")

    view.zoom_fit()
    fit = _median_paint_ms(view, image, lambda i: view.set_frame(i * 997 % 100_000))
    view.set_frame(50_000)
    view.zoom_to(1 / 8)
    close = _median_paint_ms(view, image, lambda i: view.set_frame(50_000 + i % 100))
    zooms = np.geomspace(1 / 8, 100_000 / view.viewport().width, PAINTS)
    zooming = _median_paint_ms(view, image, lambda i: view.zoom_to(float(zooms[i]), anchor_frame=50_000))
    t = time.perf_counter()
    for _ in range(PAINTS):
        view.repaint()
    on_screen = (time.perf_counter() - t) / PAINTS * 1000
    print(f"timeline_repaint_on_screen_ms: {on_screen:.2f} ms (QWidget.repaint into the offscreen backing store)")

    shown = []
    for px in MOVE_PX:
        shown_fps, p95_gap, decode_ms, request_rate = scrub(app, view, reader, px)
        shown.append(shown_fps)
        print(f"scrub at {px * 1000 // MOVE_MS} px/s: {request_rate:.0f} frame requests/s, {shown_fps:.0f} shown/s, "
              f"decode median {decode_ms:.1f} ms, p95 gap between shown frames {p95_gap:.0f} ms")
    uncached = FrameReader(CLIP, cache_frames=0)
    shown_fps, p95_gap, decode_ms, request_rate = scrub(app, view, uncached, MOVE_PX[-1])
    uncached.close()
    print(f"scrub without the reader's frame cache: {request_rate:.0f} requests/s, {shown_fps:.0f} shown/s, "
          f"decode median {decode_ms:.1f} ms, p95 gap {p95_gap:.0f} ms")
    shown_fps = min(shown)
    ok = all([
        report("timeline_repaint_fit_ms", fit, "ms", "<= 16"),
        report("timeline_repaint_single_frame_ms", close, "ms", "<= 16"),
        report("timeline_repaint_zooming_ms", zooming, "ms", "<= 16"),
        report("timeline_scrub_fps", shown_fps, "frames/s", ">= 30"),
    ])
    reader.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
