"""FaceGraphWidget: points in, face ids out; gaps, rectangle and lasso; a pixel snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from engine.curation.coverage import compute_coverage
from widgets.face_graph import FaceGraphWidget, GraphPoints
from widgets.face_graph.model import ROLE_DST, ROLE_SRC, colour_codes, nearest_point, points_in_polygon
from widgets.face_graph.synthetic import coverages

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).with_name("snapshots")
SIZE = QtCore.QSize(900, 520)


def _points(seed: int = 5) -> GraphPoints:
    """src: 120 frontal faces; dst: 60 turned to yaw 30, 40 frontal, 4 with unknown pose."""
    rng = np.random.default_rng(seed)
    n_src, n_dst = 120, 104
    yaw = np.r_[rng.uniform(-4, 4, n_src), rng.uniform(26, 34, 60), rng.uniform(-4, 4, 40), [np.nan] * 4]
    pitch = np.r_[rng.uniform(-4, 4, n_src), rng.uniform(-4, 4, 100), [0.0] * 4]
    return GraphPoints.build(
        ids=np.arange(1, n_src + n_dst + 1) * 10,
        role=np.r_[np.full(n_src, ROLE_SRC), np.full(n_dst, ROLE_DST)],
        yaw=yaw, pitch=pitch, mouth_open=rng.uniform(0, 0.6, n_src + n_dst),
        eyes_open=rng.uniform(0.1, 0.35, n_src + n_dst), smile=rng.uniform(0.8, 1.0, n_src + n_dst),
        person=np.r_[np.full(n_src, 1), np.full(n_dst, 2)], sharpness=rng.uniform(10, 100, n_src + n_dst),
        clip=np.r_[np.full(n_src, 1), np.full(n_dst, 2)],
    )


@pytest.fixture
def graph(qtbot):
    g = FaceGraphWidget()
    qtbot.addWidget(g)
    g.resize(SIZE)
    points = _points()
    for cov in coverages(points).values():
        g.set_coverage(cov)
    g.set_points(points)
    g.show()
    qtbot.waitExposed(g)
    g.view_box.setRange(xRange=(-40, 40), yRange=(-20, 20), padding=0)
    QtWidgets.QApplication.processEvents()
    return g


def _widget_pos(g: FaceGraphWidget, x: float, y: float) -> QtCore.QPoint:
    """Where data position (x, y) is on the plot's viewport."""
    scene = g.view_box.mapViewToScene(QtCore.QPointF(x, y))
    return g.plot.mapFromScene(scene)


def _drag(g: FaceGraphWidget, path: list[tuple[float, float]],
          modifier: QtCore.Qt.KeyboardModifier = QtCore.Qt.KeyboardModifier.NoModifier) -> None:
    """A left-button drag through data positions, sent as plain mouse events.

    (QTest's mousePress turns a second press within the double-click interval into a
    double click, which would start no drag; and pyqtgraph drops move events closer than
    10 ms to the previous one, hence the pause.)
    """
    vp = g.plot.viewport()
    left = QtCore.Qt.MouseButton.LeftButton
    none = QtCore.Qt.MouseButton.NoButton
    steps = [(QtCore.QEvent.Type.MouseButtonPress, left, left)]
    steps += [(QtCore.QEvent.Type.MouseMove, none, left)] * (len(path) - 2)
    steps += [(QtCore.QEvent.Type.MouseMove, none, left), (QtCore.QEvent.Type.MouseButtonRelease, left, none)]
    positions = [path[0], *path[1:-1], path[-1], path[-1]]
    for (kind, button, buttons), (x, y) in zip(steps, positions):
        if kind == QtCore.QEvent.Type.MouseMove:
            time.sleep(0.015)
        p = QtCore.QPointF(_widget_pos(g, x, y))
        event = QtGui.QMouseEvent(kind, p, QtCore.QPointF(vp.mapToGlobal(p)), button, buttons, modifier)
        QtWidgets.QApplication.sendEvent(vp, event)


def test_shows_every_face_with_a_known_position_by_role(graph: FaceGraphWidget) -> None:
    assert graph.shown_role_counts() == {"src": 120, "dst": 100}
    shown = graph.shown_ids()
    assert len(shown) == 220 and len(graph.scatter.data) == 220
    points = _points()
    role_of = dict(zip(points.ids.tolist(), points.role.tolist()))
    assert sum(role_of[i] == ROLE_DST for i in shown.tolist()) == 100
    assert "src 120" in graph.counts_label.text() and "dst 100" in graph.counts_label.text()
    graph.set_axes("expression")  # every face has an expression
    assert graph.shown_role_counts() == {"src": 120, "dst": 104}
    assert graph.coverage() is not None and graph.coverage().plane == "expression"


def _screen_distance(g: FaceGraphWidget, x: float, y: float) -> np.ndarray:
    """Screen pixels from (x, y) to every drawn point."""
    px, py = g.view_box.viewPixelSize()
    return np.hypot((g._x - x) / px, (g._y - y) / py)


def test_clicking_a_point_selects_its_face_id(qtbot, graph: FaceGraphWidget) -> None:
    points = _points()
    # A dst face turned to ~30° with no other face within 8 screen pixels.
    row = next(r for r in range(120, 180)
               if np.sort(_screen_distance(graph, points.yaw[r], points.pitch[r]))[1] > 8)
    x, y, fid = points.yaw[row], points.pitch[row], int(points.ids[row])
    with qtbot.waitSignal(graph.selection_changed) as sig:
        qtbot.mouseClick(graph.plot.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=_widget_pos(graph, x, y))
    assert sig.args[0].tolist() == [fid]
    # Ctrl+click adds another face, and Ctrl+click on a selected face removes it.
    other = next(r for r in range(179, 120, -1)
                 if np.sort(_screen_distance(graph, points.yaw[r], points.pitch[r]))[1] > 8)
    ctrl = QtCore.Qt.KeyboardModifier.ControlModifier
    vp, left = graph.plot.viewport(), QtCore.Qt.MouseButton.LeftButton
    with qtbot.waitSignal(graph.selection_changed) as sig:
        qtbot.mouseClick(vp, left, ctrl, _widget_pos(graph, points.yaw[other], points.pitch[other]))
    assert sig.args[0].tolist() == sorted([fid, int(points.ids[other])])
    qtbot.wait(QtWidgets.QApplication.doubleClickInterval() + 20)  # not a double click
    with qtbot.waitSignal(graph.selection_changed) as sig:
        qtbot.mouseClick(vp, left, ctrl, _widget_pos(graph, x, y))
    assert sig.args[0].tolist() == [int(points.ids[other])]
    qtbot.wait(QtWidgets.QApplication.doubleClickInterval() + 20)
    with qtbot.waitSignal(graph.selection_changed) as sig:
        qtbot.mouseClick(vp, left, pos=_widget_pos(graph, x, y))
    assert sig.args[0].tolist() == [fid]
    assert graph.selected_ids().tolist() == sig.args[0].tolist()
    assert graph.highlight.isVisible() and len(graph.highlight.data) == 1
    # Clicking empty space (no point, no gap) clears the selection.
    with qtbot.waitSignal(graph.selection_changed) as sig:
        qtbot.mouseClick(graph.plot.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=_widget_pos(graph, -30, 15))
    assert sig.args[0].tolist() == [] and not graph.highlight.isVisible()


def test_select_faces_highlights_without_echo(qtbot, graph: FaceGraphWidget) -> None:
    with qtbot.assertNotEmitted(graph.selection_changed):
        graph.select_faces([10, 20, 1290, 999_999])
    assert graph.selected_ids().tolist() == [10, 20, 1290, 999_999]
    assert sorted(graph.highlight.faceIds().tolist()) == [10, 20, 1290]


def test_selecting_a_gap_selects_exactly_its_faces(qtbot, graph: FaceGraphWidget) -> None:
    cov = graph.coverage()
    assert [g.x_range for g in cov.gaps] == [(25.0, 35.0)]
    gap = cov.gaps[0]
    expected = np.union1d(np.arange(121, 181) * 10, cov.nearest_src_ids(gap))
    assert len(expected) == 60 + cov.min_src
    # Clicking inside the gap bin, away from any point, selects it ...
    spot = next((x, y) for x in np.linspace(25.5, 34.5, 19) for y in np.linspace(-4.5, 4.5, 19)
                if _screen_distance(graph, x, y).min() > 8)
    got: list[tuple[str, object]] = []
    graph.selection_changed.connect(lambda ids: got.append(("selection", ids.tolist())))
    graph.gap_selected.connect(lambda g: got.append(("gap", g)))
    with qtbot.waitSignals([graph.selection_changed, graph.gap_selected], order="strict"):
        qtbot.mouseClick(graph.plot.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=_widget_pos(graph, *spot))
    assert got == [("selection", expected.tolist()), ("gap", gap)]
    assert graph.gap_list.table.selectionModel().selectedRows()[0].row() == 0
    # ... and so does its row in the gap list.
    graph.select_faces([])
    with qtbot.waitSignal(graph.gap_selected):
        graph.gap_list.table.selectRow(0)
    np.testing.assert_array_equal(graph.selected_ids(), expected)
    graph.set_nearest_src_count(0)
    graph.select_gap(gap)
    np.testing.assert_array_equal(graph.selected_ids(), np.arange(121, 181) * 10)


def test_rectangle_and_lasso_select_the_faces_inside(qtbot, graph: FaceGraphWidget) -> None:
    points = _points()
    turned = points.ids[(points.yaw > 20) & (points.yaw < 40)]
    graph.set_mode("rect")
    with qtbot.waitSignal(graph.selection_changed) as sig:
        _drag(graph, [(20, -10), (30, 0), (40, 10)])
    np.testing.assert_array_equal(sig.args[0], np.sort(turned))
    # Shift+drag in pan mode draws a rectangle too (edges kept clear of points: a drag
    # lands on whole screen pixels).
    graph.set_mode("pan")
    frontal = points.ids[np.abs(points.yaw) < 10]
    with qtbot.waitSignal(graph.selection_changed) as sig:
        _drag(graph, [(-10, -10), (10, 10)], QtCore.Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_array_equal(sig.args[0], np.sort(frontal))
    assert graph.view_box.viewRange()[0] == pytest.approx([-40, 40])  # it did not pan
    # Ctrl adds to the selection.
    graph.set_mode("rect")
    with qtbot.waitSignal(graph.selection_changed) as sig:
        _drag(graph, [(20, -10), (40, 10)], QtCore.Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(sig.args[0], np.sort(np.r_[frontal, turned]))
    assert len(sig.args[0]) == 220
    # Lasso: a freehand polygon around the turned faces only.
    graph.set_mode("lasso")
    with qtbot.waitSignal(graph.selection_changed) as sig:
        _drag(graph, [(18, -15), (45, -15), (45, 15), (18, 15), (18, -14)])
    np.testing.assert_array_equal(sig.args[0], np.sort(turned))
    assert graph.mode_buttons["lasso"].isChecked()


def test_colour_by_and_axes(qtbot, graph: FaceGraphWidget) -> None:
    for name in ("person", "sharpness", "clip", "role"):
        graph.set_colour_by(name)
        codes, palette, _ = colour_codes(_points(), name)
        brushes = graph.scatter.data["brush"]
        colours = {(b.color().red(), b.color().green(), b.color().blue(), b.color().alpha()) for b in brushes}
        assert colours <= set(palette)
    with pytest.raises(ValueError):
        graph.set_colour_by("mood")
    with qtbot.waitSignal(graph.axes_changed) as sig:
        graph.axes_combo.setCurrentIndex(2)
    assert sig.args == ["smile"] and graph.axes() == "smile"
    with qtbot.assertNotEmitted(graph.axes_changed):
        graph.set_axes("pose")
    assert "pose coverage" in graph.gap_list.score_label.text()


def test_export_button_and_csv(qtbot, graph: FaceGraphWidget) -> None:
    assert graph.gap_list.export_button.isEnabled()
    with qtbot.waitSignal(graph.export_gaps_requested):
        graph.gap_list.export_button.click()
    assert graph.gaps_csv().splitlines()[1] == "pose,yaw,25,35,pitch,-5,5,60,0"
    graph.set_coverage(None)
    assert not graph.gap_list.export_button.isEnabled() and graph.coverage() is None


def test_model_geometry() -> None:
    x = np.array([0.0, 1.0, 2.0, 10.0])
    y = np.array([0.0, 0.0, 0.0, 10.0])
    assert nearest_point(x, y, (0.9, 0.1), (0.1, 0.1), 5.0) == 1
    assert nearest_point(x, y, (5.0, 5.0), (0.1, 0.1), 5.0) is None
    square = [(-0.5, -1), (1.5, -1), (1.5, 1), (-0.5, 1)]
    np.testing.assert_array_equal(points_in_polygon(x, y, square), [True, True, False, False])
    concave = [(-1, -1), (3, -1), (3, 1), (1.5, 1), (1.5, -0.5), (0.5, -0.5), (0.5, 1), (-1, 1)]
    np.testing.assert_array_equal(points_in_polygon(x, y, concave), [True, False, True, False])
    with pytest.raises(ValueError, match="unique"):
        GraphPoints.build(ids=[1, 1], role=["src", "dst"])
    p = GraphPoints.build(ids=[1, 2], role=["src", "dst"], yaw=[0, 1])
    assert p.role.tolist() == [0, 1] and np.isnan(p.pitch).all() and p.person.tolist() == [-1, -1]


def _snapshot_image(qtbot) -> QtGui.QImage:
    g = FaceGraphWidget()
    qtbot.addWidget(g)
    g.resize(1100, 640)
    # A fixed plot and axis size: the view box must not depend on font metrics.
    g.plot.setFixedSize(620, 460)
    g.plot.getAxis("left").setWidth(50)
    g.plot.getAxis("bottom").setHeight(40)
    rng = np.random.default_rng(1)
    xy = rng.normal(0, 20, (400, 2))
    g.set_points(GraphPoints.build(ids=np.arange(400), role=np.arange(400) % 2, yaw=xy[:, 0], pitch=xy[:, 1] / 2))
    src = np.arange(400) % 2 == 0
    g.set_coverage(compute_coverage(xy[src] * [1, 0.5], xy[~src] * [1, 0.5], min_dst=3, min_src=3,
                                    src_ids=np.arange(400)[src], dst_ids=np.arange(400)[~src]))
    g.select_faces(np.arange(0, 400, 37))
    g.show()
    qtbot.waitExposed(g)
    g.view_box.setRange(xRange=(-60, 60), yRange=(-35, 35), padding=0)
    QtWidgets.QApplication.processEvents()
    # The view box only, inside the (inward) tick marks: axis labels and the gap table hold
    # text, whose fonts differ by machine.
    g.legend.hide()  # text too (its own test below), and fonts differ by machine
    rect = g.view_box.mapRectToScene(g.view_box.boundingRect())
    view_rect = g.plot.mapFromScene(rect).boundingRect().adjusted(8, 8, -8, -8)  # no tick marks
    image = g.plot.grab(view_rect).toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
    return image


def test_pixel_snapshot(qtbot, artifacts_dir: Path) -> None:
    image = _snapshot_image(qtbot)
    path = SNAPSHOTS / "face_graph_pose.png"
    if os.environ.get("FACESMITH_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        if not path.exists() and os.environ.get("FACESMITH_UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"no snapshot {path.name}; run with FACESMITH_UPDATE_SNAPSHOTS=1 to create it")
        path.parent.mkdir(exist_ok=True)
        image.save(str(path))
    expected = QtGui.QImage(str(path)).convertToFormat(QtGui.QImage.Format.Format_RGB32)
    assert (image.width(), image.height()) == (expected.width(), expected.height())

    def pixels(img: QtGui.QImage) -> np.ndarray:
        arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes())
        return arr.reshape(img.height(), img.bytesPerLine() // 4, 4)[:, : img.width(), :3].astype(np.int16)

    diff = np.abs(pixels(image) - pixels(expected)).max(axis=2)
    bad = float((diff > 24).mean())
    if bad > 0.002:
        image.save(str(artifacts_dir / "face_graph_pose_actual.png"))
    assert bad <= 0.002, f"{bad:.2%} of pixels differ from {path.name} (actual in artifacts/)"


def test_demo_runs_for_a_second() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-m", "widgets.face_graph",
                        "--seconds", "1", "--faces", "100000"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "100,000 faces and coverage set" in r.stdout
    assert "Traceback" not in r.stderr


def test_scatter_item_palette_matches_pyqtgraph(qtbot) -> None:
    """The bulk palette path puts each point's brush and atlas rectangle where pyqtgraph would."""
    import pyqtgraph as pg

    from widgets.face_graph.plot_items import FaceScatterItem

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.normal(size=50)
    codes = rng.integers(0, 3, 50)
    brushes = [pg.mkBrush(c) for c in ("r", "g", "b")]
    pen = pg.mkPen(None)  # one pen object: the atlas keys symbols by object identity
    fast = FaceScatterItem(size=5, pen=pen)
    fast.setFaces(x, y, np.arange(50), codes, brushes)
    slow = pg.ScatterPlotItem(pxMode=True, size=5, pen=pen)
    slow.fragmentAtlas = fast.fragmentAtlas  # one atlas, so rectangles are comparable
    slow.setData(x=x, y=y, data=np.arange(50), brush=[brushes[c] for c in codes])
    assert all(a is b for a, b in zip(fast.data["brush"], slow.data["brush"]))
    np.testing.assert_array_equal(fast.data["sourceRect"], slow.data["sourceRect"])
    np.testing.assert_array_equal(fast.faceIds(), np.arange(50))
    fast.setBrush([brushes[0]] * 50)  # the pyqtgraph way still works, and drops the palette
    assert all(b is brushes[0] for b in fast.data["brush"])


def test_the_legend_names_the_point_colours_and_the_coverage_bins(qtbot) -> None:
    from widgets.face_graph.legend import COVERAGE_ROWS

    g = FaceGraphWidget()
    qtbot.addWidget(g)
    g.resize(900, 500)
    g.show()
    rng = np.random.default_rng(3)
    n = 200
    role = (np.arange(n) % 2).astype(np.int8)
    yaw, pitch = rng.uniform(-40, 40, n), rng.uniform(-20, 20, n)
    g.set_points(GraphPoints.build(ids=np.arange(1, n + 1), role=role, yaw=yaw, pitch=pitch))
    legend = g.legend
    assert legend.isVisible() and legend.entries == ["src", "dst"]  # no coverage grid yet
    xy = np.column_stack([yaw, pitch])
    src = role == ROLE_SRC
    g.set_coverage(compute_coverage(xy[src], xy[~src], min_dst=3, min_src=3, plane="pose"))
    assert all(label in legend.entries for label, _c, _k in COVERAGE_ROWS)
    assert legend.geometry().right() <= g.plot.width() and legend.y() >= 0  # inside the plot, top right
    qtbot.mouseClick(legend, QtCore.Qt.MouseButton.LeftButton)
    assert not legend.isVisible() and legend.reopen.isVisible()
    legend.reopen.click()
    assert legend.isVisible()
