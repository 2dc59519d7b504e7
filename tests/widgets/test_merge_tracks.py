"""The key track and the quality strip under a real TimelineView (qtbot, offscreen): they
line up with the timeline's frames, keys are added, moved and deleted by mouse and key,
and the strip goes green to red and jumps on click."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from widgets.timeline import TimelineTrack, TimelineView
from widgets.timeline.merge_tracks import KeyTrack, QualityStrip, badness_color


def _setup(qtbot):
    host = QWidget()
    layout = QVBoxLayout(host)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    timeline = TimelineView()
    counts = np.ones(100, np.int32)
    timeline.set_tracks([TimelineTrack(1, "lbax4n", 100, Fraction(25), face_counts=counts, keyframes=[5])])
    keys, strip = KeyTrack(timeline), QualityStrip(timeline)
    for w in (timeline, keys, strip):
        layout.addWidget(w)
    qtbot.addWidget(host)
    host.resize(900, 200)
    host.show()
    qtbot.waitExposed(host)
    return host, timeline, keys, strip


def _x(timeline: TimelineView, frame: int) -> int:
    return int(round(timeline.x_of(frame + 0.5)))


def test_keys_line_up_and_are_edited_by_mouse_and_keyboard(qtbot) -> None:
    _host, timeline, keys, _strip = _setup(qtbot)
    keys.set_keys({10: [("erode", "linear")], 30: [("erode", "linear"), ("color", "hold")], 50: [("color", "hold")]})
    assert keys.frames() == [10, 30, 50]
    assert keys.key_at(_x(timeline, 30)) == 30 and keys.key_at(_x(timeline, 20)) is None
    y = keys.height() // 2
    with qtbot.waitSignal(keys.key_add_requested) as added:
        qtbot.mouseDClick(keys, Qt.MouseButton.LeftButton, pos=QPoint(_x(timeline, 20), y))
    assert added.args == [20]
    with qtbot.waitSignal(keys.frame_requested) as went:
        qtbot.mousePress(keys, Qt.MouseButton.LeftButton, pos=QPoint(_x(timeline, 30), y))
    assert went.args == [30] and keys.selected() == 30
    qtbot.mouseMove(keys, QPoint(_x(timeline, 36), y))
    with qtbot.waitSignal(keys.key_move_requested) as moved:
        qtbot.mouseRelease(keys, Qt.MouseButton.LeftButton, pos=QPoint(_x(timeline, 36), y))
    assert moved.args == [30, 36]
    keys.set_keys({10: [("erode", "linear")], 36: [("erode", "linear")]})
    keys.setFocus()
    with qtbot.waitSignal(keys.key_delete_requested) as deleted:
        qtbot.keyClick(keys, Qt.Key.Key_Delete)
    assert deleted.args == [36]
    with qtbot.waitSignal(keys.key_delete_requested) as deleted:
        qtbot.mousePress(keys, Qt.MouseButton.RightButton, pos=QPoint(_x(timeline, 10), y))
    assert deleted.args == [10]
    # Zooming the timeline moves the keys with the frames.
    before = timeline.x_of(10.5)
    timeline.zoom_to(0.05, anchor_frame=10)
    assert timeline.x_of(10.5) != before and keys.key_at(timeline.x_of(10.5)) == 10


def test_quality_strip_colours_and_jumps(qtbot, artifacts_dir: Path) -> None:
    host, timeline, keys, strip = _setup(qtbot)
    keys.set_keys({10: [("erode", "linear")], 30: [("erode", "hold")], 60: [("color", "hold")]})
    bad = [None if f < 3 else (0.9 if 40 <= f < 46 else 0.1) for f in range(100)]
    strip.set_scores(list(range(100)), bad, {42: "frame 42: seam 25"})
    assert strip.badness_at(42) == np.float32(0.9) and strip.badness_at(1) is None
    image = strip.grab().toImage()
    good_px = image.pixelColor(_x(timeline, 20), strip.height() // 2)
    bad_px = image.pixelColor(_x(timeline, 42), strip.height() // 2)
    assert good_px.green() > good_px.red() and bad_px.red() > bad_px.green()
    assert badness_color(0.0).green() > badness_color(0.0).red() and badness_color(1.0).red() > 200
    with qtbot.waitSignal(strip.frame_requested) as went:
        qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(_x(timeline, 43), strip.height() // 2))
    assert went.args == [43]
    timeline.set_frame(42)
    assert host.grab().save(str(artifacts_dir / "timeline_keys_quality_widgets.png"))


def test_rows_follow_the_timeline_scroll(qtbot) -> None:
    _host, timeline, keys, _strip = _setup(qtbot)
    keys.set_keys({80: [("blur", "linear")]})
    timeline.zoom_to(0.1, anchor_frame=0)
    assert keys.key_at(timeline.x_of(80.5)) == 80
    x0 = timeline.x_of(80.5)
    timeline.set_frame(95)  # scrolls the view to the playhead
    assert keys.key_at(timeline.x_of(80.5)) == 80 and QPointF(timeline.x_of(80.5), 0) != QPointF(x0, 0)
