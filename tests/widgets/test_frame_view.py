"""FrameView: the Qt-free geometry and landmark drag state machine, then the widget's round
trips (selection, zoom and pan, landmark edits), pixel snapshots and the demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import compare_snapshot
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from widgets.frame_view import (
    LANDMARK_GROUPS,
    FaceOverlay,
    FrameView,
    LandmarkEditor,
    ViewTransform,
    face_at,
    group_of,
    landmark_at,
)
from widgets.frame_view.__main__ import landmarks_in_box, synthetic_faces, synthetic_frame

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
W, H = 640, 360
MOUTH = np.arange(48, 68)


# ---------------------------------------------------------------------------- Qt-free model
def test_groups_cover_the_68_points_once() -> None:
    covered = sorted(i for r in LANDMARK_GROUPS.values() for i in r)
    assert covered == list(range(68))
    assert group_of(0) == group_of(16) == "jaw" and group_of(17) == "right_brow"
    assert group_of(27) == group_of(35) == "nose" and group_of(36) == "right_eye"
    assert group_of(47) == "left_eye" and group_of(48) == group_of(67) == "mouth"


def test_face_overlay_validates_and_converts() -> None:
    face = FaceOverlay(3, (1, 2, 3, 4), np.zeros((68, 2), np.float64))
    assert face.landmarks is not None and face.landmarks.dtype == np.float32 and face.box == (1.0, 2.0, 3.0, 4.0)
    with pytest.raises(ValueError):
        FaceOverlay(1, (0, 0, 1, 1), np.zeros((5, 2)))


def test_hit_testing_boxes_and_landmarks() -> None:
    big = FaceOverlay(1, (0, 0, 100, 100), landmarks_in_box((0, 0, 100, 100)))
    small = FaceOverlay(2, (40, 40, 60, 60), landmarks_in_box((40, 40, 60, 60)))
    assert face_at([big, small], (50, 50)) == 2  # the smaller box wins on overlap
    assert face_at([big, small], (10, 10)) == 1
    assert face_at([big, small], (150, 10)) is None
    target = big.landmarks[8]  # chin
    # The tolerance is in view pixels: 6 px at 1x is 6 frame px, at 4x it is 1.5.
    assert landmark_at([big], (target[0] + 4, target[1]), tolerance_px=6, scale=1.0) == (1, 8)
    assert landmark_at([big], (target[0] + 4, target[1]), tolerance_px=6, scale=4.0) is None
    shared = small.landmarks[30]
    both = [FaceOverlay(1, big.box, small.landmarks), small]
    assert landmark_at(both, tuple(shared), tolerance_px=3, scale=1.0, prefer=[2]) == (2, 30)
    assert landmark_at(both, tuple(shared), tolerance_px=3, scale=1.0, prefer=[1]) == (1, 30)


def test_view_transform_round_trip_zoom_and_fit() -> None:
    t = ViewTransform(2.5, 10.0, -4.0)
    pts = np.array([[0.0, 0.0], [12.3, 45.6]])
    assert np.allclose(t.to_frame(t.to_view(pts)), pts)
    # Frame pixel (i, j) has its centre at (i, j): pixel 0 spans view [dx, dx + scale).
    assert t.point_to_view(-0.5, -0.5) == (10.0, -4.0)
    z = t.zoomed(3.0, (100.0, 50.0))
    assert z.scale == pytest.approx(7.5)
    assert z.point_to_frame(100.0, 50.0) == pytest.approx(t.point_to_frame(100.0, 50.0))
    assert t.zoomed(1000, (0, 0)).scale == 32.0 and t.zoomed(1e-6, (0, 0)).scale == pytest.approx(0.1)
    f = ViewTransform.fitted((3840, 2160), (640, 480))
    assert f.scale == pytest.approx(1 / 6) and f.dx == 0 and f.dy == 60


# ---------------------------------------------------------------------------- landmark editor
@pytest.fixture
def editor() -> LandmarkEditor:
    ed = LandmarkEditor()
    ed.set_faces(synthetic_faces())
    return ed


def _point(face_id: int, index: int) -> tuple[float, float]:
    face = next(f for f in synthetic_faces() if f.face_id == face_id)
    x, y = face.landmarks[index]
    return float(x), float(y)


def test_editor_drags_one_point(editor: LandmarkEditor) -> None:
    original = synthetic_faces()[0].landmarks
    x, y = _point(1, 36)
    assert editor.begin((x + 1, y), tolerance_px=6)
    assert editor.active and editor.face_id == 1 and editor.indices.tolist() == [36]
    preview = editor.move((x + 5, y - 2))
    assert preview is not None and np.allclose(preview[36], original[36] + [4, -2])
    edit = editor.end()
    assert edit is not None and edit.face_id == 1 and edit.indices.tolist() == [36]
    assert edit.landmarks.dtype == np.float32 and edit.landmarks.shape == (68, 2)
    assert np.allclose(edit.landmarks[36], original[36] + [4, -2])
    moved = np.flatnonzero(np.any(edit.landmarks != original, axis=1))
    assert moved.tolist() == [36]
    # One result per gesture: the gesture is over.
    assert not editor.active and editor.end() is None and editor.move((0, 0)) is None


def test_editor_drags_a_group_by_modifier_or_group_button(editor: LandmarkEditor) -> None:
    original = synthetic_faces()[0].landmarks
    assert editor.begin(_point(1, 51), group_mode=True)
    editor.move((_point(1, 51)[0] + 3, _point(1, 51)[1] + 7))
    edit = editor.end()
    assert edit is not None and edit.indices.tolist() == MOUTH.tolist()
    assert np.allclose(edit.landmarks[MOUTH], original[MOUTH] + [3, 7])
    assert np.array_equal(edit.landmarks[:48], original[:48])
    editor.set_group("jaw")
    assert editor.begin(_point(1, 3)) and editor.indices.tolist() == list(range(17))
    editor.abort()
    assert editor.begin(_point(1, 40)) and editor.indices.tolist() == [40]  # other groups: single points


def test_editor_abort_restores_and_clicks_do_not_edit(editor: LandmarkEditor) -> None:
    original = synthetic_faces()[1].landmarks
    assert editor.begin(_point(2, 10), slop_px=2.0, scale=1.0)
    editor.move((_point(2, 10)[0] + 1, _point(2, 10)[1]))  # inside the slop: nothing moves
    assert np.array_equal(editor.preview(), original)
    editor.move((_point(2, 10)[0] + 20, _point(2, 10)[1]))
    assert not np.array_equal(editor.preview(), original)
    restored = editor.abort()
    assert np.array_equal(restored, original) and not editor.active and editor.end() is None
    assert editor.begin(_point(2, 10))
    assert editor.end() is None  # pressed and released without moving
    assert not editor.begin((5.0, 5.0))  # far from every landmark


def test_editor_drops_the_gesture_when_its_face_changes(editor: LandmarkEditor) -> None:
    assert editor.begin(_point(1, 0))
    assert not editor.set_faces(synthetic_faces())  # same landmarks: the drag goes on
    assert editor.active
    assert editor.set_faces(synthetic_faces()[1:])  # face 1 gone: aborted
    assert not editor.active


# ---------------------------------------------------------------------------- the widget
@pytest.fixture
def view(qtbot) -> FrameView:
    v = FrameView()
    qtbot.addWidget(v)
    v.resize(W, H)
    v.set_frame(synthetic_frame(W, H))
    v.set_faces(synthetic_faces(W, H))
    v.set_show_labels(False)
    v.show()
    qtbot.waitExposed(v)
    assert v.scale() == pytest.approx(1.0)
    return v


def _view_pos(view: FrameView, x: float, y: float) -> QPoint:
    p = view.map_from_frame(QPointF(x, y))
    return QPoint(round(p.x()), round(p.y()))


def _record(signal) -> list[tuple]:
    calls: list[tuple] = []
    signal.connect(lambda *args: calls.append(args))
    return calls


def test_click_selects_and_select_faces_is_silent(qtbot, view: FrameView) -> None:
    with qtbot.waitSignal(view.selection_changed) as sig:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=_view_pos(view, 190, 120))
    assert sig.args[0].tolist() == [1] and view.selected_ids().tolist() == [1]
    with qtbot.assertNotEmitted(view.selection_changed):
        view.select_faces([2, 99])  # 99: a face on another frame, kept
    assert view.selected_ids().tolist() == [2, 99]
    with qtbot.waitSignal(view.selection_changed) as sig:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    assert sig.args[0].tolist() == []


def test_ctrl_click_toggles_multi_selection(qtbot, view: FrameView) -> None:
    calls = _record(view.selection_changed)
    ctrl = Qt.KeyboardModifier.ControlModifier
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=_view_pos(view, 190, 120))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, ctrl, _view_pos(view, 450, 130))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, ctrl, _view_pos(view, 190, 120))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, ctrl, QPoint(20, 20))  # ctrl on empty: no change
    assert [c[0].tolist() for c in calls] == [[1], [1, 2], [2]]


def test_double_click_activates_a_face_or_fits(qtbot, view: FrameView) -> None:
    with qtbot.waitSignal(view.face_activated) as sig:
        qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=_view_pos(view, 450, 130))
    assert sig.args == [2]
    view.zoom(3.0, QPointF(100, 100))
    assert not view.is_fitted()
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert view.is_fitted() and view.scale() == pytest.approx(1.0)


def _wheel(view: FrameView, pos: QPointF, notches: float) -> None:
    event = QWheelEvent(pos, view.mapToGlobal(pos), QPoint(0, 0), QPoint(0, int(120 * notches)),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, event)


def test_wheel_zoom_keeps_the_point_under_the_cursor(qtbot, view: FrameView) -> None:
    cursor = QPointF(201.0, 137.0)
    before = view.map_to_frame(cursor)
    with qtbot.waitSignal(view.view_changed):
        _wheel(view, cursor, 3)
    assert view.scale() == pytest.approx(1.2**3)
    after = view.map_to_frame(cursor)
    assert (after.x(), after.y()) == pytest.approx((before.x(), before.y()), abs=1e-9)
    for _ in range(40):
        _wheel(view, cursor, 1)
    assert view.scale() == pytest.approx(32.0)
    for _ in range(80):
        _wheel(view, cursor, -1)
    assert view.scale() == pytest.approx(0.1)


def test_middle_drag_pans(qtbot, view: FrameView) -> None:
    view.zoom(2.0, QPointF(320, 180))
    t0 = view.transform()
    calls = _record(view.view_changed)
    qtbot.mousePress(view, Qt.MouseButton.MiddleButton, pos=QPoint(300, 200))
    qtbot.mouseMove(view, QPoint(340, 190))
    qtbot.mouseRelease(view, Qt.MouseButton.MiddleButton, pos=QPoint(340, 190))
    t1 = view.transform()
    assert (t1.dx - t0.dx, t1.dy - t0.dy, t1.scale) == pytest.approx((40, -10, t0.scale))
    assert calls and not view.is_fitted()
    selections = _record(view.selection_changed)
    qtbot.keyPress(view, Qt.Key.Key_Space)  # Space + left drag pans too, and selects nothing
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=_view_pos(view, 190, 120))
    qtbot.mouseMove(view, _view_pos(view, 190, 120) + QPoint(-15, 5))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=_view_pos(view, 190, 120) + QPoint(-15, 5))
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    t2 = view.transform()
    assert (t2.dx - t1.dx, t2.dy - t1.dy) == pytest.approx((-15, 5)) and selections == []


def _drag(qtbot, view: FrameView, start: QPoint, end: QPoint, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, modifier, start)
    mid = (start + end) / 2
    qtbot.mouseMove(view, QPoint(round(mid.x()), round(mid.y())))
    qtbot.mouseMove(view, end)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, modifier, end)


def test_drag_a_landmark_emits_one_edit_in_frame_pixels(qtbot, view: FrameView) -> None:
    view.set_edit_landmarks(True)
    view.zoom(2.5, QPointF(180, 100))  # frame coordinates must account for the zoom
    face = view.faces()[0]
    original = face.landmarks.copy()
    start = _view_pos(view, *original[37])
    end = start + QPoint(30, -12)
    edits = _record(view.landmarks_edited)
    selections = _record(view.selection_changed)
    _drag(qtbot, view, start, end)
    assert len(edits) == 1
    face_id, landmarks = edits[0]
    assert face_id == 1 and landmarks.shape == (68, 2) and landmarks.dtype == np.float32
    assert landmarks[37] == pytest.approx(original[37] + np.array([30, -12]) / 2.5, abs=1e-4)
    assert np.array_equal(np.delete(landmarks, 37, axis=0), np.delete(original, 37, axis=0))
    assert [s[0].tolist() for s in selections] == [[1]]  # grabbing a face's point selects it
    # The view keeps no edit of its own: until the presenter stores it, the stored face shows.
    assert np.array_equal(view.faces()[0].landmarks, original) and not view.is_dragging()


def test_shift_drag_moves_the_group_and_escape_aborts(qtbot, view: FrameView) -> None:
    view.set_edit_landmarks(True)
    original = view.faces()[1].landmarks.copy()
    edits = _record(view.landmarks_edited)
    start = _view_pos(view, *original[50])
    _drag(qtbot, view, start, start + QPoint(-6, 9), Qt.KeyboardModifier.ShiftModifier)
    assert len(edits) == 1 and edits[0][0] == 2
    assert edits[0][1][MOUTH] == pytest.approx(original[MOUTH] + [-6, 9], abs=1e-4)
    assert np.array_equal(edits[0][1][:48], original[:48])

    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, start + QPoint(25, 25))
    assert view.is_dragging()
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert not view.is_dragging()
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=start + QPoint(25, 25))
    assert len(edits) == 1  # aborted: nothing more
    edits.clear()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=start)  # a click on a point is no edit
    assert edits == []
    selections = _record(view.selection_changed)  # Ctrl+click selects, even on a point
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, _view_pos(view, 190, 120))
    _drag(qtbot, view, start, start + QPoint(20, 0), Qt.KeyboardModifier.ControlModifier)
    assert edits == [] and [s[0].tolist() for s in selections] == [[2, 1], [1]]


def test_landmark_requests_from_keys_and_menu(qtbot, view: FrameView) -> None:
    copies = _record(view.copy_landmarks_requested)
    resets = _record(view.reset_landmarks_requested)
    view.select_faces([2])
    qtbot.keyClick(view, Qt.Key.Key_C)
    assert copies == []  # only in edit mode
    view.set_edit_landmarks(True)
    qtbot.keyClick(view, Qt.Key.Key_C)
    qtbot.keyClick(view, Qt.Key.Key_V)
    qtbot.keyClick(view, Qt.Key.Key_R)
    assert copies == [(2, -1), (2, 1)] and resets == [(2,)]
    menu = view.landmark_menu(1)
    actions = menu.actions()
    for action in actions:
        action.trigger()
    assert copies[2:] == [(1, -1), (1, 1)] and resets[1:] == [(1,)]


def test_set_frame_takes_views_and_refits_on_a_new_size(view: FrameView) -> None:
    big = synthetic_frame(1280, 720)
    view.set_frame(big[::2, ::2])  # a strided view: copied once, shown
    assert view.frame_size() == (640, 360)
    view.zoom(4.0)
    view.set_frame(synthetic_frame(W, H))  # same size: the zoom stays (scrubbing while zoomed)
    assert view.scale() == pytest.approx(4.0)
    view.set_frame(big)
    assert view.is_fitted() and view.scale() == pytest.approx(0.5)
    with pytest.raises(TypeError):
        view.set_frame(np.zeros((4, 4, 3), np.float32))


def _grab(view: FrameView) -> np.ndarray:
    image = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())
    return rows[:, : w * 3].reshape(h, w, 3).copy()


def test_high_zoom_is_pixel_accurate(view: FrameView) -> None:
    view.set_faces([])
    frame = synthetic_frame(W, H)
    view.zoom(8.0, QPointF(203.0, 117.0))
    shot = _grab(view)
    t = view.transform()
    ys, xs = np.mgrid[2 : H - 2 : 7, 2 : W - 2 : 7]
    fx, fy = t.to_frame(np.stack([xs + 0.5, ys + 0.5], axis=-1)).transpose(2, 0, 1)
    ix, iy = np.round(fx).astype(int), np.round(fy).astype(int)
    assert np.array_equal(shot[ys, xs], frame[iy, ix])


def test_zoomed_out_frames_are_smoothly_downscaled(view: FrameView) -> None:
    view.set_faces([])
    big = synthetic_frame(2 * W, 2 * H)
    view.set_frame(big)
    assert view.scale() == pytest.approx(0.5)
    box_mean = big.reshape(H, 2, W, 2, 3).mean(axis=(1, 3))
    diff = np.abs(_grab(view).astype(np.float64) - box_mean)
    # Area-averaged like a box filter (nearest sampling would leave the 4 px checker's
    # full contrast: 15 levels of error on half the pixels).
    assert np.percentile(diff, 99) <= 4.0


# ---------------------------------------------------------------------------- pixel snapshots
def _compare_snapshot(actual: np.ndarray, name: str, tmp_path: Path) -> None:
    compare_snapshot(actual, SNAPSHOTS / name, tmp_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pixel snapshots are Linux-only")
def test_snapshot_fit(view: FrameView, tmp_path: Path) -> None:
    view.select_faces([1])
    _compare_snapshot(_grab(view), "frame_view_fit.png", tmp_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pixel snapshots are Linux-only")
def test_snapshot_edit_mode_zoomed(view: FrameView, tmp_path: Path) -> None:
    view.select_faces([2])
    view.set_edit_landmarks(True)
    view.set_edit_group("left_eye")
    view.zoom(4.0, view.map_from_frame(QPointF(455.0, 150.0)))
    _compare_snapshot(_grab(view), "frame_view_edit_zoom4.png", tmp_path)


# ---------------------------------------------------------------------------- the demo
def test_demo_runs_for_a_second() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-m", "widgets.frame_view", "--seconds", "1"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "Warning" not in r.stderr, r.stderr
