"""Mask painter: the Qt-free tool state machines fed with fake events, then the widget's
round trips with qtbot (clicks, strokes, zoom, keys), pixel snapshots of the three view
modes, and the demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import compare_snapshot
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication
from PySide6.QtTest import QTest

from engine.masks.raster import iou, rasterize
from engine.masks.shapes import LabelMask, Shape, similarity_scale
from widgets.mask_painter import MaskPainterCanvas, MaskPainterPanel, PainterModel, TrainingPreview
from widgets.mask_painter.geometry import frame_points, hit_test
from widgets.mask_painter.model import move, press, release
from widgets.mask_painter.synthetic import synthetic_face

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
S = 256
SQUARE = [(80.0, 80.0), (176.0, 80.0), (176.0, 176.0), (80.0, 176.0)]


@pytest.fixture(scope="module")
def face():
    return synthetic_face(S)


@pytest.fixture
def model(face) -> PainterModel:
    m = PainterModel()
    m.set_face(face)
    return m


def click(m: PainterModel, x: float, y: float, **kw):
    edit = m.handle(press(x, y, **kw))
    return m.handle(release(x, y)) or edit


def draw_polygon(m: PainterModel, points, close_with_click: bool = True):
    edits = [click(m, x, y) for x, y in points]
    assert not any(edits), "no step before the polygon closes"
    return click(m, *points[0]) if close_with_click else m.key("enter")


def crop_raster(m: PainterModel) -> np.ndarray:
    f = m.face
    return m.raster[f.margin:f.margin + f.size, f.margin:f.margin + f.size]


# ---------------------------------------------------------------------------- model: polygons
def test_polygon_by_clicks_closes_on_its_first_point_in_frame_coordinates(model: PainterModel, face) -> None:
    edit = draw_polygon(model, SQUARE)
    assert edit is not None and edit.text == "Add include polygon"
    (shape,) = edit.label.shapes
    assert (shape.kind, shape.type) == ("include", "polygon")
    np.testing.assert_allclose(shape.points, frame_points(SQUARE, face.matrix), atol=1e-3)
    assert model.label == edit.label and model.keyframe and not model.draft
    # The display raster is the stored label rasterised into the crop.
    assert np.array_equal(crop_raster(model), rasterize(edit.label, face.matrix, S))
    assert crop_raster(model)[128, 128] == 255 and crop_raster(model)[20, 20] == 0


def test_enter_closes_backspace_takes_back_and_escape_drops_a_draft(model: PainterModel) -> None:
    for x, y in SQUARE[:2]:
        click(model, x, y)
    assert model.key("enter") is None and len(model.draft) == 2  # two points: no polygon
    click(model, *SQUARE[2])
    click(model, 10.0, 10.0)
    model.key("backspace")
    assert model.draft == SQUARE[:3]
    model.key("escape")
    assert model.draft == [] and model.label.empty and not model.keyframe
    assert draw_polygon(model, SQUARE, close_with_click=False).text == "Add include polygon"


def test_exclude_polygon_cuts_a_hole_and_later_include_fills_it_back(model: PainterModel) -> None:
    draw_polygon(model, SQUARE)
    model.set_tool("exclude")
    hole = [(110.0, 110.0), (146.0, 110.0), (146.0, 146.0), (110.0, 146.0)]
    edit = draw_polygon(model, hole)
    assert edit.text == "Add exclude polygon" and [s.kind for s in edit.label.shapes] == ["include", "exclude"]
    assert crop_raster(model)[128, 128] == 0 and crop_raster(model)[90, 90] == 255


def test_dragging_a_point_is_one_step_and_leaves_the_other_points_bit_identical(model: PainterModel, face) -> None:
    before = draw_polygon(model, SQUARE).label
    assert model.handle(press(176.5, 80.5)) is None  # within the pick radius of a vertex
    for x in range(177, 200, 4):
        assert model.handle(move(x, 70.0, "left")) is None
    edit = model.handle(release(200.0, 70.0))
    assert edit.text == "Move point"
    old, new = before.shapes[0].points, edit.label.shapes[0].points
    assert np.array_equal(np.delete(old, 1, axis=0), np.delete(new, 1, axis=0))
    np.testing.assert_allclose(new[1], frame_points([(200.0, 70.0)], face.matrix)[0], atol=1e-3)
    # A press on a point without moving commits nothing.
    model.handle(press(80.0, 80.0))
    assert model.handle(release(80.0, 80.0)) is None and model.label == edit.label


def test_ctrl_click_inserts_on_an_edge_and_deletes_a_point(model: PainterModel) -> None:
    draw_polygon(model, SQUARE)
    assert model.handle(press(128.0, 81.0, ctrl=True)) is None  # on the top edge
    edit = model.handle(release(128.0, 81.0))
    assert edit.text == "Insert point" and len(edit.label.shapes[0].points) == 5
    inserted = model.polygons[0][1][1]
    np.testing.assert_allclose(inserted, (128.0, 80.0), atol=2e-3)  # on the edge, not at the click
    edit = click(model, 128.0, 80.0, ctrl=True)
    assert edit.text == "Delete point" and len(edit.label.shapes[0].points) == 4
    edit = click(model, 80.0, 176.0, button="right")
    assert edit.text == "Delete point" and len(edit.label.shapes[0].points) == 3
    edit = click(model, 80.0, 80.0, ctrl=True)  # a triangle losing a point loses the polygon
    assert edit.text == "Delete polygon" and edit.label.empty and model.keyframe


def test_delete_removes_the_point_or_polygon_under_the_cursor(model: PainterModel) -> None:
    draw_polygon(model, SQUARE)
    model.handle(move(130.0, 120.0))
    assert model.hover is not None and model.hover.kind == "inside"
    edit = model.key("delete")
    assert edit.text == "Delete polygon" and edit.label.empty


def test_hit_test_prefers_vertices_then_edges_then_insides_topmost_first() -> None:
    a = np.array(SQUARE)
    polys = [(0, a), (1, a + 1.0)]
    assert hit_test(polys, 81.5, 81.5, 3.0).shape == 1
    hit = hit_test(polys, 128.0, 79.0, 3.0)
    assert (hit.kind, hit.index) == ("edge", 0) and hit.point == (128.0, 80.0)
    assert hit_test(polys, 120.0, 120.0, 3.0).kind == "inside"
    assert hit_test(polys, 10.0, 10.0, 3.0) is None


# ---------------------------------------------------------------------------- model: brush
def stroke(m: PainterModel, points, button="left"):
    edits = [m.handle(press(*points[0], button=button))]
    edits += [m.handle(move(x, y, button)) for x, y in points[1:]]
    edits.append(m.handle(release(*points[-1], button=button)))
    return edits


def test_a_brush_stroke_is_one_step_and_what_it_showed_is_what_it_stored(model: PainterModel, face) -> None:
    model.set_tool("brush")
    model.set_brush(size=20.0, hardness=1.0)
    path = [(60.0 + 4 * i, 100.0 + 2 * i) for i in range(30)]
    model.handle(press(*path[0]))
    for x, y in path[1:]:
        model.handle(move(x, y, "left"))
    shown = crop_raster(model).copy()
    edit = model.handle(release(*path[-1]))
    (shape,) = edit.label.shapes
    assert (edit.text, shape.kind, shape.type) == ("Brush stroke", "include", "stroke")
    assert shape.radius == pytest.approx(10.0 / similarity_scale(face.matrix), abs=1e-3)
    stored = rasterize(edit.label, face.matrix, S)
    assert np.array_equal(crop_raster(model), stored)
    assert iou(shown, stored) > 0.97


def test_abort_stroke_restores_the_display_exactly(model: PainterModel) -> None:
    draw_polygon(model, SQUARE)
    before = model.raster.copy()
    model.set_tool("eraser")
    model.handle(press(100.0, 100.0))
    model.handle(move(150.0, 150.0, "left"))
    assert not np.array_equal(model.raster, before)
    assert model.key("escape") is None and model.stroke is None
    assert np.array_equal(model.raster, before)
    assert model.handle(release(150.0, 150.0)) is None  # the release after Escape commits nothing


def test_eraser_and_right_drag_paint_the_other_kind(model: PainterModel) -> None:
    draw_polygon(model, SQUARE)
    model.set_tool("eraser")
    assert stroke(model, [(100.0, 128.0), (156.0, 128.0)])[-1].text == "Erase stroke"
    assert crop_raster(model)[128, 128] == 0
    model.set_tool("brush")
    edit = stroke(model, [(100.0, 150.0), (156.0, 150.0)], button="right")[-1]
    assert edit.label.shapes[-1].kind == "exclude" and crop_raster(model)[150, 128] == 0


def test_brush_size_and_hardness_keys(model: PainterModel) -> None:
    model.set_brush(size=30.0, hardness=1.0)
    model.key("]")
    assert model.brush_size == pytest.approx(36.0)
    model.key("[")
    assert model.brush_size == pytest.approx(30.0)
    model.key("{")
    model.key("{")
    assert model.hardness == pytest.approx(0.8)
    # A soft brush stores where its fall-off crosses one half.
    assert model.brush_radius == pytest.approx(0.25 * 30.0 * 1.8)
    model.set_brush(size=1e6, hardness=-1)
    assert (model.brush_size, model.hardness) == (1024.0, 0.0)


# ---------------------------------------------------------------------------- model: whole-label steps
def test_hull_fill_and_predicted_to_polygons_and_clear(model: PainterModel, face) -> None:
    edit = model.fill_hull()
    assert edit.text == "Fill mask from hull" and len(edit.label) == 1
    edit = model.predicted_to_polygons()
    assert edit.text == "Predicted mask to polygons"
    assert all(s.type == "polygon" for s in edit.label.shapes)
    assert iou(rasterize(edit.label, face.matrix, S), face.predicted) >= 0.97
    edit = model.clear()
    assert edit.label is None and not model.keyframe and model.raster.max() == 0
    assert model.clear() is None  # nothing to remove twice


def test_switching_faces_drops_drafts_and_strokes(model: PainterModel) -> None:
    click(model, 10, 10)
    model.set_tool("include")
    model.set_face(synthetic_face(S, index=1, label=LabelMask.polygon([(0, 0), (50, 0), (0, 50)])))
    assert model.draft == [] and model.keyframe and len(model.polygons) == 1


# ---------------------------------------------------------------------------- widget round trips
@pytest.fixture
def canvas(qtbot, face) -> MaskPainterCanvas:
    c = MaskPainterCanvas()
    qtbot.addWidget(c)
    c.resize(400, 400)
    c.set_face(face)
    c.show()
    qtbot.waitExposed(c)
    return c


def _at(c: MaskPainterCanvas, x: float, y: float, pane: int = 0) -> QPoint:
    return c.map_from_crop(x, y, pane).toPoint()


def test_clicks_on_the_canvas_commit_one_polygon_in_frame_pixels(qtbot, canvas: MaskPainterCanvas, face) -> None:
    committed: list = []
    canvas.label_committed.connect(lambda label, text: committed.append((label, text)))
    for x, y in [*SQUARE, SQUARE[0]]:
        QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _at(canvas, x, y))
    assert len(committed) == 1
    label, text = committed[0]
    clicked = [canvas.map_to_crop(QPointF(_at(canvas, x, y))) for x, y in SQUARE]
    np.testing.assert_allclose(label.shapes[0].points, frame_points(clicked, face.matrix), atol=1e-3)
    assert text == "Add include polygon"


def test_ctrl_z_and_escape_during_a_draft_never_commit(qtbot, canvas: MaskPainterCanvas) -> None:
    committed: list = []
    canvas.label_committed.connect(lambda label, text: committed.append(text))
    canvas.setFocus()
    for x, y in SQUARE[:3]:
        QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _at(canvas, x, y))
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # takes back a draft point
    assert len(canvas.model.draft) == 2
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    assert canvas.model.draft == [] and committed == []
    for x, y in SQUARE:
        QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _at(canvas, x, y))
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    assert committed == ["Add include polygon"]


def test_brush_stroke_then_stored_label_back_restores_the_pixels_exactly(qtbot, canvas: MaskPainterCanvas) -> None:
    canvas.model.set_label(LabelMask.polygon(SQUARE))  # any start
    canvas.set_label(canvas.model.label)
    before_raster = canvas.model.raster.copy()
    before = canvas.grab().toImage()
    canvas.set_tool("brush")
    committed: list = []
    canvas.label_committed.connect(lambda label, text: committed.append(label))
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _at(canvas, 40, 200))
    for i in range(1, 12):
        QTest.mouseMove(canvas, _at(canvas, 40 + 15 * i, 200 - 5 * i))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _at(canvas, 205, 145))
    assert len(committed) == 1 and not np.array_equal(canvas.model.raster, before_raster)
    canvas.set_label(LabelMask.polygon(SQUARE))  # what an undo hands back
    assert np.array_equal(canvas.model.raster, before_raster)
    canvas.leaveEvent(QEvent(QEvent.Type.Leave))  # the brush cursor is not part of the comparison
    assert canvas.grab().toImage() == before


def test_wheel_zooms_about_the_cursor_and_middle_drag_pans(qtbot, canvas: MaskPainterCanvas) -> None:
    anchor = _at(canvas, 100, 60)
    before = canvas.map_to_crop(QPointF(anchor))
    event = QWheelEvent(QPointF(anchor), QPointF(canvas.mapToGlobal(anchor)), QPoint(), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    scale = canvas.transform().scale
    canvas.wheelEvent(event)
    assert canvas.transform().scale == pytest.approx(scale * 1.25**2)
    np.testing.assert_allclose(canvas.map_to_crop(QPointF(anchor)), before, atol=1e-6)
    t = canvas.transform()
    QTest.mousePress(canvas, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(200, 200))
    QTest.mouseMove(canvas, QPoint(230, 190))
    QTest.mouseRelease(canvas, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(230, 190))
    assert (canvas.transform().dx - t.dx, canvas.transform().dy - t.dy) == pytest.approx((30, -10))
    assert canvas.model.label.empty  # panning never paints
    QTest.keyClick(canvas, Qt.Key.Key_F)
    assert canvas.is_fitted()


def test_shift_locks_the_view_on_the_cursor(qtbot, canvas: MaskPainterCanvas) -> None:
    canvas.zoom(3.0)
    QTest.mouseMove(canvas, _at(canvas, 110, 115))
    target = canvas.model.cursor
    QTest.keyPress(canvas, Qt.Key.Key_Shift)
    centre = QPointF(canvas.width() / 2, canvas.height() / 2)
    np.testing.assert_allclose(canvas.map_to_crop(centre), target, atol=0.5)
    t = canvas.transform()
    pos = QPointF(centre.x() + 20, centre.y())
    QApplication.sendEvent(canvas, QMouseEvent(QEvent.Type.MouseMove, pos, canvas.mapToGlobal(pos),
                                               Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                               Qt.KeyboardModifier.ShiftModifier))
    QTest.keyRelease(canvas, Qt.Key.Key_Shift)
    assert canvas.transform().dx < t.dx  # the view follows the cursor


def test_panel_keys_switch_tools_views_and_brush(qtbot) -> None:
    panel = MaskPainterPanel()
    qtbot.addWidget(panel)
    panel.canvas.set_face(synthetic_face(S))
    panel.show()
    qtbot.waitExposed(panel)
    panel.activateWindow()
    panel.canvas.setFocus()
    qtbot.waitUntil(panel.canvas.hasFocus, timeout=2000)
    for key, tool in ((Qt.Key.Key_W, "exclude"), (Qt.Key.Key_E, "brush"), (Qt.Key.Key_R, "eraser"),
                      (Qt.Key.Key_Q, "include")):
        QTest.keyClick(panel.canvas, key)
        assert panel.canvas.tool() == tool
        checked = [t for t in ("include", "exclude", "brush", "eraser") if getattr(panel.actions, t).isChecked()]
        assert checked == [tool]
    panel.actions.view_mask.trigger()
    assert panel.canvas.view_mode() == "mask"
    panel.canvas.set_view_mode("image")  # canvas -> controls
    assert panel.actions.view_image.isChecked() and not panel.actions.view_mask.isChecked()
    QTest.keyClick(panel.canvas, Qt.Key.Key_BracketRight)
    assert panel.size_slider.value() == round(32 * 1.2)
    panel.opacity_slider.setValue(30)
    assert panel.canvas.opacity() == pytest.approx(0.3)
    panel.actions.help.trigger()
    assert panel.canvas.help.isVisible()
    keys = dict(panel.canvas.help.rows())
    assert keys["Q"] == "Include Polygon" and keys["R"] == "Eraser" and "Hold Shift" in keys
    panel.actions.show_predicted.trigger()
    assert panel.canvas.show_predicted()


def test_predicted_pane_maps_to_the_same_crop_pixels(qtbot, canvas: MaskPainterCanvas) -> None:
    canvas.set_show_predicted(True)
    left, right = _at(canvas, 120, 130, 0), _at(canvas, 120, 130, 1)
    assert right.x() > canvas.width() / 2 > left.x()
    np.testing.assert_allclose(canvas.map_to_crop(QPointF(right)), canvas.map_to_crop(QPointF(left)), atol=1e-6)


def test_training_preview_shows_an_image(qtbot) -> None:
    w = TrainingPreview()
    qtbot.addWidget(w)
    w.set_preview(np.full((64, 192, 3), 200, np.uint8), "job 3 · iteration 500")
    assert w.has_preview() and "iteration 500" in w.caption.text()


# ---------------------------------------------------------------------------- pixel snapshots
SNAP_LABEL = LabelMask((
    Shape("include", "polygon", np.array([[175.0, 95.0], [265.0, 95.0], [280.0, 200.0], [220.0, 245.0],
                                          [165.0, 200.0]])),
    Shape("exclude", "polygon", np.array([[200.0, 150.0], [240.0, 150.0], [220.0, 175.0]])),
    Shape("include", "stroke", np.array([[180.0, 240.0], [230.0, 255.0]]), 6.0),
))


def _grab(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())
    return rows[:, : w * 3].reshape(h, w, 3).copy()


def _compare_snapshot(actual: np.ndarray, name: str, tmp_path: Path) -> None:
    compare_snapshot(actual, SNAPSHOTS / name, tmp_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pixel snapshots are Linux-only")
@pytest.mark.parametrize("mode", ["image", "mask", "overlay"])
def test_snapshot_view_modes(qtbot, mode: str, tmp_path: Path) -> None:
    c = MaskPainterCanvas()
    qtbot.addWidget(c)
    c.resize(320, 320)
    c.set_face(synthetic_face(S, label=SNAP_LABEL, with_prediction=False))
    c.set_view_mode(mode)  # type: ignore[arg-type]
    c.set_opacity(0.5)
    _compare_snapshot(_grab(c), f"mask_painter_{mode}.png", tmp_path)


# ---------------------------------------------------------------------------- the demo
def test_demo_runs_for_a_second() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-m", "widgets.mask_painter",
                        "--seconds", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "Warning" not in r.stderr, r.stderr
