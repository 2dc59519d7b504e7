"""TimelineView: the pure arithmetic, round trips with qtbot, the demo, and a pixel snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from widgets.timeline import TimelineTrack, TimelineView, Viewport, downsample_presence, format_timecode, tick_steps
from widgets.timeline import model, painting
from widgets.timeline.model import next_keyframe, prev_keyframe, shuttle_speed

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
H = painting.HEADER_WIDTH
NTSC = Fraction(30000, 1001)


# ============================================================================ pure helpers


@pytest.mark.parametrize(
    ("frame", "expected"),
    [(0, "00:00:00:00"), (24, "00:00:00:24"), (25, "00:00:01:00"), (1500, "00:01:00:00"),
     (90_000, "01:00:00:00"), (25 * 3661 + 7, "01:01:01:07"), (99_999, "01:06:39:24")],
)
def test_timecode_at_25_fps(frame: int, expected: str) -> None:
    assert format_timecode(frame, Fraction(25)) == expected


@pytest.mark.parametrize(
    ("frame", "expected"),
    [(0, "00:00:00;00"), (29, "00:00:00;29"), (30, "00:00:01;00"), (1799, "00:00:59;29"),
     (1800, "00:01:00;02"), (3597, "00:01:59;29"), (3598, "00:02:00;02"),
     (17_981, "00:09:59;29"), (17_982, "00:10:00;00"), (107_892, "01:00:00;00")],
)
def test_timecode_at_29_97_fps_is_drop_frame(frame: int, expected: str) -> None:
    assert format_timecode(frame, NTSC) == expected


def test_timecode_non_drop_and_other_rates() -> None:
    assert format_timecode(1800, NTSC, drop_frame=False) == "00:01:00:00"
    assert format_timecode(107_892, NTSC, drop_frame=False) == "00:59:56:12"  # drifts from the clock
    assert format_timecode(3600, Fraction(60000, 1001)) == "00:01:00;04"
    assert format_timecode(24, Fraction(24000, 1001)) == "00:00:01:00"  # 23.976: non-drop at 24
    with pytest.raises(ValueError):
        format_timecode(-1, Fraction(25))


def _presence_reference(counts: np.ndarray, first: float, fpp: float, width: int) -> np.ndarray:
    """Per pixel, by brute force: the max level of every frame the pixel overlaps."""
    out = np.full(width, model.OUTSIDE, np.int8)
    for x in range(width):
        a, b = first + x * fpp, first + (x + 1) * fpp
        lo, hi = int(np.floor(a)), max(int(np.ceil(b)), int(np.floor(a)) + 1)
        lo, hi = max(lo, 0), min(hi, counts.size)
        if lo < hi:
            out[x] = min(int(counts[lo:hi].max()), 2)
    return out


def test_presence_downsampling_keeps_the_strongest_frame() -> None:
    counts = np.array([0, 0, 1, 0, 3, 0, 0, 0])
    assert downsample_presence(counts, first_frame=0, frames_per_pixel=2, width=4).tolist() == [0, 1, 2, 0]
    assert downsample_presence(counts, first_frame=0, frames_per_pixel=8, width=1).tolist() == [2]
    # zoomed in: 2 pixels per frame, starting at frame 2
    assert downsample_presence(counts, first_frame=2, frames_per_pixel=0.5, width=4).tolist() == [1, 1, 0, 0]
    # before frame 0 and after the last frame
    assert downsample_presence(counts, first_frame=-2, frames_per_pixel=1, width=3).tolist() == [-2, -2, 0]
    assert downsample_presence(counts, first_frame=6, frames_per_pixel=1, width=4).tolist() == [0, 0, -2, -2]
    # a one-frame face is kept at any zoom out
    single = np.zeros(100_000, np.int32)
    single[54_321] = 1
    levels = downsample_presence(single, first_frame=0, frames_per_pixel=100_000 / 700, width=700)
    assert (levels == 1).sum() == 1 and levels.max() == 1


def test_presence_downsampling_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    counts = np.repeat(rng.choice([0, 1, 2, 4], size=300), rng.integers(1, 30, size=300))
    for first, fpp, width in [(0, counts.size / 97, 97), (13.3, 1.7, 50), (-5.5, 0.3, 40), (100.25, 0.125, 33),
                              (counts.size - 20, 1.0, 30), (0, 1.0, counts.size)]:
        got = downsample_presence(counts, first_frame=first, frames_per_pixel=fpp, width=width)
        np.testing.assert_array_equal(got, _presence_reference(counts, first, fpp, width), err_msg=f"{first} {fpp}")


def test_presence_of_an_unanalysed_clip_is_unknown() -> None:
    summary = model.PresenceSummary(np.zeros(0), 10)
    assert summary.levels(-1, 1, 12).tolist() == [-2] + [-1] * 10 + [-2]


def test_tick_steps() -> None:
    # 8 px per frame: a tick on every frame, labels on whole seconds or rate divisors
    assert tick_steps(1 / 8, Fraction(25)) == (25, 1)
    assert tick_steps(1 / 8, NTSC) == (10, 1)
    assert tick_steps(1 / 24, Fraction(25)) == (5, 1)
    major, minor = tick_steps(100_000 / 700, Fraction(25))
    px = 700 / 100_000
    assert major * px >= 80 and minor * px >= 7 and major % minor == 0 and major % 25 == 0
    for fpp in np.geomspace(1 / 24, 5000, 40):
        for fps in (Fraction(25), NTSC, Fraction(24000, 1001), Fraction(60)):
            major, minor = tick_steps(float(fpp), fps)
            assert major / fpp >= 80
            assert minor == 0 or (major % minor == 0 and minor / fpp >= 7)
            rate = model.nominal_rate(fps)
            assert rate % major == 0 if major < rate else major % rate == 0


def test_viewport_zoom_keeps_the_anchor_and_clamps() -> None:
    vp = Viewport(1000.0, 10.0, 500)
    zoomed = vp.zoomed(2.0, anchor=2234.0)
    assert zoomed.x_of(2234.0) == pytest.approx(vp.x_of(2234.0))
    assert Viewport(-50, 1, 100).clamped(1000).first_frame == 0
    assert Viewport(990, 1, 100).clamped(1000).first_frame == 900
    assert Viewport(0, 1e-4, 100).clamped(1000).frames_per_pixel == pytest.approx(1 / model.MAX_PIXELS_PER_FRAME)
    assert Viewport(0, 1e4, 100).clamped(1000).frames_per_pixel == 10  # no further out than the whole clip
    assert Viewport(0, 10, 100).frame_at(0, 1000) == 5 and Viewport(0, 10, 100).frame_at(1e6, 1000) == 999


def test_mark_range() -> None:
    assert model.mark_range((10, 90), 20, 99, in_point=True) == (20, 90)
    assert model.mark_range((10, 90), 95, 99, in_point=True) == (95, 99)  # past the out point
    assert model.mark_range((10, 90), 50, 99, in_point=False) == (10, 50)
    assert model.mark_range((10, 90), 5, 99, in_point=False) == (0, 5)  # before the in point


def test_keyframe_pixels() -> None:
    keys = np.array([0, 5, 6, 50, 99])
    assert model.keyframe_pixels(keys, Viewport(0, 0.5, 100)).tolist() == [1, 11, 13]  # frame centres
    assert model.keyframe_pixels(keys, Viewport(0, 1, 100), margin=0).tolist() == [0, 5, 6, 50, 99]
    # crowded: binned to one marker per 6 px
    crowded = model.keyframe_pixels(np.arange(0, 1000, 3), Viewport(0, 1, 100), min_spacing=6)
    assert crowded.tolist() == list(range(3, 100, 6))


def test_keyframe_navigation_and_shuttle() -> None:
    keys = np.array([10, 20, 30])
    assert next_keyframe(keys, 10) == 20 and next_keyframe(keys, 5) == 10 and next_keyframe(keys, 30) is None
    assert prev_keyframe(keys, 20) == 10 and prev_keyframe(keys, 35) == 30 and prev_keyframe(keys, 10) is None
    speeds = [0]
    for key in "lllllljjkj":
        speeds.append(shuttle_speed(speeds[-1], key))
    assert speeds == [0, 1, 2, 4, 8, 16, 16, -1, -2, 0, -1]


def test_track_validates_and_freezes_its_data() -> None:
    t = TimelineTrack(1, "a", 5, Fraction(25), face_counts=[0, 1, 2, 1, 0], keyframes=[3, 1, 3])
    assert t.keyframes.tolist() == [1, 3] and t.range == (0, 4)
    with pytest.raises(ValueError):
        t.face_counts[0] = 5
    with pytest.raises(ValueError, match="face_counts"):
        TimelineTrack(1, "a", 5, Fraction(25), face_counts=[0, 1])
    with pytest.raises(ValueError, match="keyframe"):
        TimelineTrack(1, "a", 5, Fraction(25), keyframes=[5])
    with pytest.raises(ValueError, match="range"):
        TimelineTrack(1, "a", 5, Fraction(25), in_frame=3, out_frame=2)


# ============================================================================ widget round trips

W, HEIGHT = 800, 120
AREA = W - H  # 688 px of frames


def _track_a() -> TimelineTrack:
    """688 frames: one frame per pixel at fit zoom in an 800 px view."""
    counts = np.zeros(AREA, np.int32)
    counts[50:200] = 1
    counts[200:260] = 2
    counts[300:500] = 1
    counts[520:540] = 3
    return TimelineTrack(1, "interview_a.mp4", AREA, Fraction(25), face_counts=counts,
                         keyframes=[60, 120, 210, 350, 351, 430, 525], in_frame=40, out_frame=599)


def _track_b() -> TimelineTrack:
    counts = np.zeros(2 * AREA, np.int32)
    counts[100:700] = 1
    counts[900:1000] = 2
    return TimelineTrack(2, "broll_ntsc.mov", 2 * AREA, NTSC, face_counts=counts, keyframes=[150, 600, 950])


@pytest.fixture
def view(qtbot) -> TimelineView:
    v = TimelineView()
    qtbot.addWidget(v)
    v.resize(W, HEIGHT)
    v.set_tracks([_track_a(), _track_b()])
    v.show()
    qtbot.waitExposed(v)
    return v


def _row_y(index: int) -> int:
    return painting.row_top(index) + painting.TRACK_HEIGHT // 2


def _mouse(view: TimelineView, kind: QMouseEvent.Type, x: float, y: float, *, held: bool = True) -> None:
    button = Qt.MouseButton.NoButton if kind == QMouseEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    pressed = held and kind != QMouseEvent.Type.MouseButtonRelease
    buttons = Qt.MouseButton.LeftButton if pressed else Qt.MouseButton.NoButton
    pos = QPointF(x, y)
    event = QMouseEvent(kind, pos, view.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view, event)


def _wheel(view: TimelineView, x: float, notches: float, *, ctrl: bool) -> None:
    pos = QPointF(x, _row_y(0))
    mods = Qt.KeyboardModifier.ControlModifier if ctrl else Qt.KeyboardModifier.NoModifier
    event = QWheelEvent(pos, view.mapToGlobal(pos), QPoint(), QPoint(0, int(120 * notches)),
                        Qt.MouseButton.NoButton, mods, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, event)


def _pixel(view: TimelineView, x: int, y: int) -> QColor:
    return view.grab().toImage().pixelColor(x, y)


def test_click_on_ruler_or_track_requests_the_frame_under_it(qtbot, view: TimelineView) -> None:
    assert view.viewport().frames_per_pixel == 1 and view.frame_at(H + 100) == 100
    with qtbot.waitSignal(view.frame_requested) as sig:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(H + 100, 10))
    assert sig.args == [100] and view.frame() == 100
    with qtbot.waitSignal(view.frame_requested) as sig:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(H + 333, _row_y(0)))
    assert sig.args == [333]
    view.zoom_to(0.25, anchor_frame=0)  # 4 px per frame from frame 0: pixel 41 is in frame 10
    with qtbot.waitSignal(view.frame_requested) as sig:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(H + 41, 10))
    assert sig.args == [10]


def test_set_frame_moves_the_playhead_and_emits_nothing(qtbot, view: TimelineView) -> None:
    with qtbot.assertNotEmitted(view.frame_requested), qtbot.assertNotEmitted(view.range_changed):
        view.set_frame(250)
        view.set_range(10, 600)
        view.set_playing(False)
        qtbot.wait(20)
    assert view.frame() == 250 and view.range() == (10, 600)
    x = int(view.x_of(250.5))
    assert _pixel(view, x, _row_y(1)) == painting.PLAYHEAD
    assert _pixel(view, x - 3, _row_y(1)) != painting.PLAYHEAD
    view.set_frame(10_000)  # clamped to the clip
    assert view.frame() == AREA - 1


def test_keyboard_moves_the_playhead(qtbot, view: TimelineView) -> None:
    view.set_frame(100)
    got: list[int] = []
    view.frame_requested.connect(got.append)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    qtbot.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(view, Qt.Key.Key_End)
    qtbot.keyClick(view, Qt.Key.Key_Right)  # at the end: nothing to do
    qtbot.keyClick(view, Qt.Key.Key_Home)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)  # next keyframe
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)
    assert got == [101, 111, 110, 100, AREA - 1, 0, 60, 120, 60]
    assert view.next_keyframe() == 120 and view.prev_keyframe(60) is None


def test_i_and_o_set_the_range(qtbot, view: TimelineView) -> None:
    view.set_frame(100)
    with qtbot.waitSignal(view.range_changed) as sig:
        qtbot.keyClick(view, Qt.Key.Key_I)
    assert sig.args == [100, 599]
    view.set_frame(300)
    with qtbot.waitSignal(view.range_changed) as sig:
        qtbot.keyClick(view, Qt.Key.Key_O)
    assert sig.args == [100, 300] and view.range() == (100, 300)
    view.set_frame(400)  # an in point past the out point resets the out point to the end
    with qtbot.waitSignal(view.range_changed) as sig:
        qtbot.keyClick(view, Qt.Key.Key_I)
    assert sig.args == [400, AREA - 1]
    assert view.current_track().range == (400, AREA - 1)


def test_dragging_a_range_handle_emits_range_changed_once(qtbot, view: TimelineView) -> None:
    got: list[tuple[int, int]] = []
    frames: list[int] = []
    view.range_changed.connect(lambda a, b: got.append((a, b)))
    view.frame_requested.connect(frames.append)
    y = _row_y(0)
    _mouse(view, QMouseEvent.Type.MouseButtonPress, view.x_of(40) + 2, y)
    for x in (view.x_of(60), view.x_of(80), view.x_of(90)):
        _mouse(view, QMouseEvent.Type.MouseMove, x, y)
    assert view.range() == (90, 599) and got == []  # live, but not yet a command
    _mouse(view, QMouseEvent.Type.MouseButtonRelease, view.x_of(90), y)
    # the out handle sits after frame 599; dragged left of the in point it stops there
    _mouse(view, QMouseEvent.Type.MouseButtonPress, view.x_of(600) - 1, y)
    _mouse(view, QMouseEvent.Type.MouseMove, view.x_of(500), y)
    _mouse(view, QMouseEvent.Type.MouseButtonRelease, view.x_of(500), y)
    _mouse(view, QMouseEvent.Type.MouseButtonPress, view.x_of(500), y)
    _mouse(view, QMouseEvent.Type.MouseMove, view.x_of(10), y)
    _mouse(view, QMouseEvent.Type.MouseButtonRelease, view.x_of(10), y)
    assert got == [(90, 599), (90, 499), (90, 90)] and frames == []


def test_scrubbing_coalesces_moves_into_one_request_per_turn(qtbot, view: TimelineView) -> None:
    got: list[int] = []
    view.frame_requested.connect(got.append)
    y = 10
    _mouse(view, QMouseEvent.Type.MouseButtonPress, H + 10, y)
    assert got == [10]
    for x in range(20, 220, 10):  # a burst of moves within one event-loop turn
        _mouse(view, QMouseEvent.Type.MouseMove, H + x, y)
    assert got == [10] and view.frame() == 210  # the playhead follows at once
    qtbot.waitUntil(lambda: len(got) == 2)
    assert got == [10, 210]
    _mouse(view, QMouseEvent.Type.MouseMove, H + 300, y)
    _mouse(view, QMouseEvent.Type.MouseButtonRelease, H + 300, y)  # release flushes at once
    assert got == [10, 210, 300]
    qtbot.wait(20)
    assert got == [10, 210, 300]
    view.set_frame(50)  # released: the presenter may move it again
    assert view.frame() == 50


def test_set_frame_is_ignored_while_dragging(view: TimelineView) -> None:
    _mouse(view, QMouseEvent.Type.MouseButtonPress, H + 100, 10)
    view.set_frame(5)  # a stale echo from the presenter
    assert view.frame() == 100
    _mouse(view, QMouseEvent.Type.MouseButtonRelease, H + 100, 10)


def test_ctrl_wheel_zooms_around_the_cursor_and_wheel_scrolls(qtbot, view: TimelineView) -> None:
    x = H + 300
    before = view.frame_at(x)
    position = view.viewport().position_at(x - H)
    for _ in range(6):
        _wheel(view, x, 1, ctrl=True)
        assert view.frame_at(x) == before
        assert view.viewport().position_at(x - H) == pytest.approx(position)
    vp = view.viewport()
    assert vp.frames_per_pixel == pytest.approx(1 / 1.25**6)
    for _ in range(20):  # as far as it goes: single frames, ticks on every frame
        _wheel(view, x, 1, ctrl=True)
    assert view.viewport().frames_per_pixel == pytest.approx(1 / model.MAX_PIXELS_PER_FRAME)
    assert view.frame_at(x) == before
    assert tick_steps(view.viewport().frames_per_pixel, Fraction(25))[1] == 1
    first = view.viewport().first_frame
    _wheel(view, x, -1, ctrl=False)
    assert view.viewport().first_frame > first
    view.zoom_fit()
    assert view.viewport() == Viewport(0.0, 1.0, AREA)


def test_the_view_follows_the_playhead_when_zoomed_in(qtbot, view: TimelineView) -> None:
    view.set_frame(100)
    view.zoom_to(1 / 8)  # around the playhead
    assert view.frame_at(int(view.x_of(100.5))) == 100 and view.viewport().first_frame > 0
    qtbot.keyClick(view, Qt.Key.Key_End)  # pages to the end
    assert view.viewport().last_position == pytest.approx(AREA)
    view.set_frame(20)  # the playhead was on screen: the view goes along
    assert view.viewport().first_frame <= 20 < view.viewport().last_position
    # dragging past the right edge scrolls the view
    first = view.viewport().first_frame
    _mouse(view, QMouseEvent.Type.MouseButtonPress, W - 20, 10)
    for _ in range(3):
        _mouse(view, QMouseEvent.Type.MouseMove, W + 40, 10)
    _mouse(view, QMouseEvent.Type.MouseButtonRelease, W + 40, 10)
    assert view.viewport().first_frame > first and view.frame() > view.frame_at(W - 20)


def test_without_tracks_or_face_data(qtbot) -> None:
    v = TimelineView()
    qtbot.addWidget(v)
    v.resize(400, 100)
    v.grab()  # nothing to show, nothing breaks
    qtbot.keyClick(v, Qt.Key.Key_Space)
    assert not v.is_playing() and v.range() == (0, 0) and v.next_keyframe() is None
    v.set_tracks([TimelineTrack(7, "not analysed", 50, Fraction(24))])
    image = v.grab().toImage()
    strip_y = painting.row_top(0) + painting.STRIP_TOP + 2
    assert image.pixelColor(H + 50, strip_y) == QColor(int(painting.PRESENCE_LUT[1]) & 0xFFFFFF)
    v.set_tracks([])
    assert v.current_track() is None


def test_clicking_another_track_selects_it(qtbot, view: TimelineView) -> None:
    view.set_frame(500)
    with qtbot.waitSignal(view.track_selected) as sig, qtbot.assertNotEmitted(view.frame_requested):
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(H + 100, _row_y(1)))
    assert sig.args == [2] and view.current_track().clip_id == 2
    assert view.frame() == 500 and view.viewport().frames_per_pixel == 2  # fit to the new clip
    view.set_tracks([_track_b(), _track_a()])  # the current clip stays current
    assert view.current_track().clip_id == 2
    with qtbot.waitSignal(view.track_selected) as sig:
        qtbot.keyClick(view, Qt.Key.Key_Down)
    assert sig.args == [1]
    with qtbot.assertNotEmitted(view.track_selected):
        view.set_current_track(2)
    with pytest.raises(KeyError):
        view.set_current_track(99)


def test_space_and_jkl_play_and_pause(qtbot, view: TimelineView) -> None:
    view.set_frame(10)
    frames: list[int] = []
    speeds: list[int] = []
    view.frame_requested.connect(frames.append)
    view.shuttle_changed.connect(speeds.append)
    with qtbot.waitSignal(view.play_toggled) as sig:
        qtbot.keyClick(view, Qt.Key.Key_Space)
    assert sig.args == [True] and view.is_playing()
    qtbot.waitUntil(lambda: len(frames) >= 2, timeout=3000)
    assert frames == sorted(frames) and frames[0] > 10
    qtbot.keyClick(view, Qt.Key.Key_L)
    assert view.shuttle() == 2
    qtbot.keyClick(view, Qt.Key.Key_J)
    assert view.shuttle() == -1
    with qtbot.waitSignal(view.play_toggled) as sig:
        qtbot.keyClick(view, Qt.Key.Key_K)
    assert sig.args == [False] and not view.is_playing()
    assert speeds == [1, 2, -1, 0]
    view.set_playing(True)  # the presenter's word: no echo
    assert view.is_playing()
    with qtbot.waitSignal(view.play_toggled) as sig:  # a click stops playback
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(H + 5, 10))
    assert sig.args == [False]


def test_playback_stops_at_the_end(qtbot, view: TimelineView) -> None:
    view.set_frame(AREA - 4)
    qtbot.keyClick(view, Qt.Key.Key_L)
    qtbot.keyClick(view, Qt.Key.Key_L)  # 2x: 50 frames/s
    with qtbot.waitSignal(view.play_toggled, timeout=3000) as sig:
        pass
    assert sig.args == [False] and view.frame() == AREA - 1 and view.shuttle() == 0


def test_demo_runs(tmp_path: Path) -> None:
    ours = ["__main__"] + [f"widgets.timeline.{m}" for m in ("model", "painting", "playback", "timeline_view")]
    warnings_ = ",".join(f"error:::{m}" for m in ours)  # warnings in our modules are errors, Qt's are not
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONWARNINGS": warnings_}
    r = subprocess.run([sys.executable, "-m", "widgets.timeline", "--seconds", "1"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "widgets/timeline" not in r.stderr, r.stderr


# ============================================================================ pixel snapshot

SNAPSHOT = SNAPSHOTS / "timeline_800x120.png"
TOLERANCE = 8  # per channel: absorbs antialiasing differences, not a changed colour
MAX_BAD_FRACTION = 0.0005  # about 36 of the 72,240 compared pixels


def _render(view: TimelineView) -> QImage:
    image = QImage(W, HEIGHT, QImage.Format.Format_RGB32)
    image.setDevicePixelRatio(1.0)
    image.fill(QColor("#ff00ff"))
    view.render(image)
    return image


def _rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    data = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return data.reshape(image.height(), image.bytesPerLine() // 4, 4)[:, : image.width(), :3].astype(np.int16)


def _text_free(a: np.ndarray) -> np.ndarray:
    """Everything but text: fonts differ between machines, so headers (names, timecode)
    and the ruler's label band are left out."""
    return a[:, H:][painting.RULER_LABEL_HEIGHT :]


def test_snapshot(view: TimelineView, tmp_path: Path) -> None:
    view.set_frame(275)
    image = _render(view)
    assert image.size().width() == W and image.devicePixelRatio() == 1.0
    if os.environ.get("FACESMITH_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        image.save(str(SNAPSHOT))
    assert SNAPSHOT.exists(), "no reference: run with FACESMITH_UPDATE_SNAPSHOTS=1 and look at it"
    actual = _text_free(_rgb(image))
    expected = _text_free(_rgb(QImage(str(SNAPSHOT))))
    bad = np.abs(actual - expected).max(axis=2) > TOLERANCE
    if bad.mean() > MAX_BAD_FRACTION:
        out = tmp_path / "timeline_actual.png"
        image.save(str(out))
        ys, xs = np.nonzero(bad)
        pytest.fail(f"{bad.sum()} pixels differ (first at x={xs[0] + H}, y={ys[0] + painting.RULER_LABEL_HEIGHT}); "
                    f"actual image: {out}; FACESMITH_UPDATE_SNAPSHOTS=1 to accept")
    # the parts are where they belong
    assert QColor(image.pixel(int(view.x_of(275.5)), _row_y(1))) == painting.PLAYHEAD
    assert QColor(image.pixel(int(view.x_of(100)), painting.row_top(0) + painting.STRIP_TOP + 2)) == QColor("#5cc878")
    assert QColor(image.pixel(int(view.x_of(230)), painting.row_top(0) + painting.STRIP_TOP + 2)) == QColor("#e0b040")
