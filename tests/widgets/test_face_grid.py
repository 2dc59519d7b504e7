"""FaceGridView / FaceGridPanel round trips: faces in, selection and requests out."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from widgets.face_grid import FaceGridPanel, FaceGridView, FaceTable, sort_order
from widgets.face_grid.synthetic import SyntheticThumbnails, synthetic_table

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


class SolidSource:
    """One flat colour per face id; records the threads it is called on."""

    def __init__(self, delay_s: float = 0.0, fail: set[int] | None = None) -> None:
        self.delay_s = delay_s
        self.fail = fail or set()
        self.loaded: list[int] = []
        self.threads: set[int] = set()
        self.version = 0
        self._lock = threading.Lock()

    @staticmethod
    def colour(face_id: int, version: int = 0) -> tuple[int, int, int]:
        return (face_id * 37 + version * 101) % 256, (face_id * 91) % 256, (face_id * 53 + 128) % 256

    def load(self, face_id: int) -> np.ndarray:
        with self._lock:
            self.loaded.append(face_id)
            self.threads.add(threading.get_ident())
        if self.delay_s:
            time.sleep(self.delay_s)
        if face_id in self.fail:
            raise OSError(f"cannot read face {face_id}")
        img = np.empty((64, 64, 3), np.uint8)
        img[:] = self.colour(face_id, self.version)
        return img


@pytest.fixture
def grid(qtbot) -> FaceGridView:
    view = FaceGridView(tile_size=64)
    qtbot.addWidget(view)
    view.resize(640, 400)
    view.set_faces(synthetic_table(500, seed=1, embedding_dim=8))
    view.show()
    qtbot.waitExposed(view)
    return view


def _click(qtbot, view: FaceGridView, face_id: int, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, view.face_rect(face_id).center())


def _pixel(view: FaceGridView, point: QPoint) -> tuple[int, int, int]:
    c = view.viewport().grab().toImage().pixelColor(point)
    return c.red(), c.green(), c.blue()


# ---------------------------------------------------------------------- selection
def test_clicks_select_and_emit_ids(qtbot, grid: FaceGridView) -> None:
    ids = grid.shown_ids()
    with qtbot.waitSignal(grid.selection_changed) as sig:
        _click(qtbot, grid, int(ids[3]))
    assert isinstance(sig.args[0], np.ndarray) and sig.args[0].tolist() == [ids[3]]
    with qtbot.waitSignal(grid.selection_changed) as sig:
        _click(qtbot, grid, int(ids[7]), Qt.KeyboardModifier.ControlModifier)
    assert sig.args[0].tolist() == [ids[3], ids[7]]
    with qtbot.waitSignal(grid.selection_changed) as sig:
        _click(qtbot, grid, int(ids[5]), Qt.KeyboardModifier.ShiftModifier)
    assert sig.args[0].tolist() == ids[5:8].tolist()  # range from the anchor (the ctrl-click)
    with qtbot.assertNotEmitted(grid.selection_changed):
        _click(qtbot, grid, int(ids[5]), Qt.KeyboardModifier.ShiftModifier)  # same range again
    with qtbot.waitSignal(grid.selection_changed) as sig:
        qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(3, 3))  # the margin
    assert sig.args[0].size == 0


def test_select_faces_does_not_echo_and_scrolls_into_view(qtbot, grid: FaceGridView) -> None:
    far = grid.shown_ids()[[450, 300]]
    with qtbot.assertNotEmitted(grid.selection_changed):
        grid.select_faces(np.append(far, 99999))  # unknown ids are ignored
    assert grid.selected_ids().tolist() == sorted(far.tolist(), key=grid.shown_ids().tolist().index)
    assert grid.current_id() == far[1]  # first in display order
    assert far[1] in grid.visible_ids()
    with qtbot.assertNotEmitted(grid.selection_changed):
        grid.select_faces([])
    assert grid.selected_ids().size == 0


class FakeFrameView(QObject):
    """The frame view's side of the contract: select_faces(ids) without echo, selection_changed."""

    selection_changed = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.selected = np.empty(0, np.int64)
        self.calls = 0

    def select_faces(self, ids: np.ndarray) -> None:
        self.calls += 1
        self.selected = np.asarray(ids)

    def user_clicks(self, ids: list[int]) -> None:
        self.selected = np.asarray(ids)
        self.selection_changed.emit(self.selected)


def test_grid_and_frame_view_selection_stay_in_sync(qtbot, grid: FaceGridView) -> None:
    frame_view = FakeFrameView()
    grid_events: list[np.ndarray] = []
    # What the presenter does: bind both ways, relying on select_faces not echoing.
    grid.selection_changed.connect(frame_view.select_faces)
    grid.selection_changed.connect(grid_events.append)
    frame_view.selection_changed.connect(grid.select_faces)
    ids = grid.shown_ids()
    _click(qtbot, grid, int(ids[2]))
    assert frame_view.selected.tolist() == [ids[2]] and frame_view.calls == 1
    frame_view.user_clicks([int(ids[10]), int(ids[11])])
    assert grid.selected_ids().tolist() == [ids[10], ids[11]]
    assert frame_view.calls == 1 and len(grid_events) == 1  # no echo back to the frame view


def test_keyboard_navigation_select_all_and_escape(qtbot, grid: FaceGridView) -> None:
    ids = grid.shown_ids()
    _click(qtbot, grid, int(ids[0]))
    with qtbot.waitSignal(grid.selection_changed) as sig:
        qtbot.keyClick(grid, Qt.Key.Key_Right)
    assert sig.args[0].tolist() == [ids[1]]
    with qtbot.waitSignal(grid.selection_changed) as sig:
        qtbot.keyClick(grid, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert sig.args[0].tolist() == [ids[1], ids[2]]
    columns = grid.face_rect(int(ids[1])).top() == grid.face_rect(int(ids[2])).top()
    assert columns
    qtbot.keyClick(grid, Qt.Key.Key_End)
    assert grid.current_id() == ids[-1] and ids[-1] in grid.visible_ids()
    with qtbot.waitSignal(grid.selection_changed) as sig:
        qtbot.keyClick(grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert sig.args[0].size == len(ids)
    with qtbot.waitSignal(grid.selection_changed) as sig:
        qtbot.keyClick(grid, Qt.Key.Key_Escape)
    assert sig.args[0].size == 0


def test_rubber_band_selects_tiles_it_touches(qtbot, grid: FaceGridView) -> None:
    ids = grid.shown_ids()
    start = grid.face_rect(int(ids[0])).topLeft() - QPoint(4, 4)
    end = grid.face_rect(int(ids[1])).center() + QPoint(0, grid.tile_size() + 10)  # into the next row
    columns = next(i for i in range(1, 50) if grid.face_rect(int(ids[i])).top() != grid.face_rect(int(ids[0])).top())
    with qtbot.waitSignal(grid.selection_changed) as sig:
        qtbot.mousePress(grid.viewport(), Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(grid.viewport(), start + QPoint(20, 20))
        qtbot.mouseMove(grid.viewport(), end)
        qtbot.mouseRelease(grid.viewport(), Qt.MouseButton.LeftButton, pos=end)
    assert sorted(sig.args[0].tolist()) == sorted([ids[0], ids[1], ids[columns], ids[columns + 1]])


# ---------------------------------------------------------------------- requests out
def test_delete_and_shift_delete_request_exclude_and_restore(qtbot, grid: FaceGridView) -> None:
    t = grid.table()
    shown = grid.shown_ids()
    excluded = shown[t.excluded[t.rows_of(shown)]][:2]
    kept = shown[~t.excluded[t.rows_of(shown)]][:3]
    grid.select_faces(np.concatenate([kept, excluded]))
    with qtbot.waitSignal(grid.exclude_requested) as sig:
        qtbot.keyClick(grid, Qt.Key.Key_Delete)
    assert sorted(sig.args[0].tolist()) == sorted(kept.tolist())  # only faces not excluded yet
    with qtbot.waitSignal(grid.restore_requested) as sig:
        qtbot.keyClick(grid, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    assert sorted(sig.args[0].tolist()) == sorted(excluded.tolist())
    # the grid only asks: the flags are unchanged until the presenter calls update_flags
    assert not grid.table().excluded[grid.table().rows_of(kept)].any()
    grid.select_faces(kept)
    with qtbot.assertNotEmitted(grid.restore_requested):
        qtbot.keyClick(grid, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)


def test_double_click_and_enter_activate_a_face(qtbot, grid: FaceGridView) -> None:
    face = int(grid.shown_ids()[4])
    with qtbot.waitSignal(grid.face_activated) as sig:
        qtbot.mouseDClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.face_rect(face).center())
    assert sig.args == [face]
    with qtbot.waitSignal(grid.face_activated) as sig:
        qtbot.keyClick(grid, Qt.Key.Key_Return)
    assert sig.args == [face]


# ---------------------------------------------------------------------- data in
def test_update_flags_refreshes_and_filters(qtbot, grid: FaceGridView) -> None:
    ids = grid.shown_ids()
    grid.update_flags(ids[:3], excluded=True, has_mask=np.array([True, False, True]))
    rows = grid.table().rows_of(ids[:3])
    assert grid.table().excluded[rows].all() and grid.table().has_mask[rows].tolist() == [True, False, True]
    grid.set_filter(excluded=False)
    assert not np.isin(ids[:3], grid.shown_ids()).any()
    target = grid.shown_ids()[5:8]
    grid.select_faces(target)
    selections: list[np.ndarray] = []
    counts: list[tuple[int, int]] = []
    grid.selection_changed.connect(selections.append)
    grid.counts_changed.connect(lambda shown, total: counts.append((shown, total)))
    grid.update_flags(target, excluded=True)  # the presenter applied the exclusion
    assert len(selections) == 1 and selections[0].size == 0  # the hidden faces left the selection
    assert counts == [grid.counts()]
    assert grid.counts() == (grid.counts()[1] - int(grid.table().excluded.sum()), 500)
    assert grid.current_id() is not None  # focus moved on to the face that took the place
    grid.update_flags(target, excluded=False)
    assert np.isin(target, grid.shown_ids()).all()


def test_set_faces_keeps_selection_by_id(qtbot, grid: FaceGridView) -> None:
    keep = grid.shown_ids()[[1, 2]]
    grid.select_faces(keep)
    table = grid.table()
    fewer = FaceTable.build(table.id[::-1][:-1], clip_id=table.clip_id[::-1][:-1], frame=table.frame[::-1][:-1])
    with qtbot.assertNotEmitted(grid.selection_changed):
        grid.set_faces(fewer)
    assert grid.counts() == (499, 499)
    assert sorted(grid.selected_ids().tolist()) == sorted(set(keep.tolist()) & set(fewer.id.tolist()))


def test_sort_and_filter(qtbot, grid: FaceGridView) -> None:
    table = grid.table()
    with qtbot.waitSignal(grid.sort_changed) as sig:
        grid.set_sort("sharpness")
    assert sig.args == ["sharpness"]
    assert grid.shown_ids().tolist() == table.id[sort_order(table, "sharpness")].tolist()
    reference = int(grid.shown_ids()[20])
    grid.select_faces([reference])
    grid.set_sort("similarity")  # the current face is the reference
    assert grid.sort_reference() == reference and grid.shown_ids()[0] == reference
    with qtbot.waitSignals([grid.filter_changed, grid.counts_changed]):
        grid.set_filter(role="src", has_mask=True)
    shown = grid.table().rows_of(grid.shown_ids())
    assert (table.role[shown] == 0).all() and table.has_mask[shown].all()
    assert grid.counts()[0] == int(((table.role == 0) & table.has_mask).sum())
    with qtbot.assertNotEmitted(grid.filter_changed):
        grid.set_filter(role="src", has_mask=True)


def test_ctrl_wheel_changes_tile_size(qtbot, grid: FaceGridView) -> None:
    def wheel(steps: int) -> None:
        pos = QPointF(100, 100)
        event = QWheelEvent(pos, grid.viewport().mapToGlobal(pos), QPoint(), QPoint(0, 120 * steps),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier,
                            Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(grid.viewport(), event)

    with qtbot.waitSignal(grid.tile_size_changed) as sig:
        wheel(2)
    assert sig.args == [80] and grid.tile_size() == 80
    wheel(-20)
    assert grid.tile_size() == 48
    grid.set_tile_size(1000)
    assert grid.tile_size() == 256


# ---------------------------------------------------------------------- thumbnails
def test_thumbnails_load_in_threads_for_visible_faces_only(qtbot, grid: FaceGridView) -> None:
    source = SolidSource()
    grid.set_thumbnail_source(source)
    visible = grid.visible_ids().tolist()
    qtbot.waitUntil(lambda: all(grid.loader.get(i) is not None for i in visible), timeout=5000)
    qtbot.waitUntil(grid.loader.is_idle, timeout=5000)
    assert threading.get_ident() not in source.threads and 1 <= len(source.threads) <= 2
    assert len(source.loaded) <= 3 * len(visible)  # the visible page and the one ahead, not 500
    face = visible[6]
    qtbot.waitUntil(lambda: _pixel(grid, grid.face_rect(face).center()) == SolidSource.colour(face), timeout=3000)
    # a changed crop is reloaded; the old picture stays on screen meanwhile
    source.version = 1
    before = len(source.loaded)
    grid.invalidate_thumbnails([face])
    assert grid.loader.get(face) is not None
    qtbot.waitUntil(lambda: _pixel(grid, grid.face_rect(face).center()) == SolidSource.colour(face, 1), timeout=3000)
    assert source.loaded[before:].count(face) == 1


def test_fast_scrolling_drops_stale_requests(qtbot, grid: FaceGridView) -> None:
    source = SolidSource(delay_s=0.02)
    grid.set_thumbnail_source(source)
    bar = grid.verticalScrollBar()
    for value in np.linspace(0, bar.maximum(), 25).astype(int):
        bar.setValue(int(value))
        grid.viewport().repaint()
        QApplication.processEvents()
    last = grid.visible_ids().tolist()
    qtbot.waitUntil(lambda: all(grid.loader.get(i) is not None for i in last), timeout=5000)
    qtbot.waitUntil(grid.loader.is_idle, timeout=5000)
    assert len(source.loaded) < 250, "loads for pages scrolled past were not dropped"
    assert len(source.loaded) == len(set(source.loaded)), "a face was loaded twice"


def test_failing_source_reports_and_draws_a_placeholder(qtbot, grid: FaceGridView) -> None:
    bad = int(grid.visible_ids()[0])
    source = SolidSource(fail={bad})
    with qtbot.waitSignal(grid.loader.load_failed, timeout=5000) as sig:
        grid.set_thumbnail_source(source)
    assert sig.args[0] == bad and "cannot read face" in sig.args[1]
    qtbot.waitUntil(grid.loader.is_idle, timeout=5000)
    assert grid.loader.failed(bad) and grid.loader.get(bad) is None
    grid.viewport().repaint()
    assert source.loaded.count(bad) == 1  # not retried on every paint


# ---------------------------------------------------------------------- panel and demo
def test_panel_controls_drive_the_grid_and_follow_it(qtbot) -> None:
    panel = FaceGridPanel()
    qtbot.addWidget(panel)
    table = synthetic_table(2000, seed=2)
    panel.grid.set_faces(table)
    assert panel.count_label.text() == "2,000 of 2,000 faces"
    panel.excluded_combo.setCurrentIndex(1)  # hidden
    shown = int((~table.excluded).sum())
    assert panel.grid.face_filter().excluded is False
    assert panel.count_label.text() == f"{shown:,} of 2,000 faces"
    panel.role_combo.setCurrentIndex(2)  # dst
    assert panel.grid.face_filter().role == "dst" and panel.grid.face_filter().excluded is False
    panel.sort_combo.setCurrentIndex(panel.sort_combo.findData("yaw"))
    panel.sort_combo.activated.emit(panel.sort_combo.currentIndex())
    assert panel.grid.sort_key() == "yaw"
    # the presenter drives the grid: the toolbar follows without feeding back
    panel.grid.set_filter(has_mask=True)
    assert (panel.role_combo.currentIndex(), panel.excluded_combo.currentIndex(), panel.mask_combo.currentIndex()) \
        == (0, 0, 1)
    panel.grid.set_sort("person")
    assert panel.sort_combo.currentData() == "person"
    panel.grid.set_tile_size(200)
    assert panel.size_slider.value() == 200


def test_demo_runs_for_one_second() -> None:
    code = (
        "import runpy, sys, warnings\n"
        "warnings.filterwarnings('error', module=r'widgets(\\..*)?$')\n"
        "sys.argv = ['face_grid', '--seconds', '1']\n"
        "runpy.run_module('widgets.face_grid', run_name='__main__')\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "set_faces(100,000 faces)" in r.stdout and "Traceback" not in r.stderr


# ---------------------------------------------------------------------- pixel snapshot
SNAPSHOT = ROOT / "tests" / "widgets" / "snapshots" / "face_grid_640x400.png"
TOLERANCE = 8  # per channel: absorbs antialiasing differences, not a changed colour
MAX_BAD_FRACTION = 0.0005  # about 128 of the 256,000 pixels


def _snapshot_table() -> FaceTable:
    """15 faces (5 columns x 3 rows at 96 px in 640x400): every overlay appears at least once."""
    n = 15
    return FaceTable.build(
        np.arange(1, n + 1),
        clip_id=[1] * 7 + [2] * 8,
        frame=np.arange(n) * 3,
        role=["src"] * 7 + ["dst"] * 8,
        person_id=[0, 0, 1, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -1],
        excluded=np.isin(np.arange(1, n + 1), [3, 11]),
        has_mask=np.isin(np.arange(1, n + 1), [2, 5, 11, 14]),
        yaw=np.linspace(-60, 60, n),
        pitch=np.linspace(20, -20, n),
    )


def _rgb(image) -> np.ndarray:  # noqa: ANN001 - QImage
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_RGB32)
    data = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return data.reshape(image.height(), image.bytesPerLine() // 4, 4)[:, : image.width(), 2::-1].astype(np.int16)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pixel snapshots are taken on Linux")
def test_snapshot(qtbot, tmp_path: Path) -> None:
    from PySide6.QtGui import QImage

    from widgets.face_grid.tile_painter import ACCENT, PERSON_COLOURS

    view = FaceGridView(tile_size=96)
    qtbot.addWidget(view)
    view.resize(640, 400)
    table = _snapshot_table()
    view.set_faces(table)
    view.set_thumbnail_source(SyntheticThumbnails(table, size=96))
    view.select_faces([7, 8])
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: all(view.loader.get(i) is not None for i in range(1, 16)) and view.loader.is_idle(),
                    timeout=5000)
    assert not view.verticalScrollBar().isVisible() and view.devicePixelRatioF() == 1.0
    image = view.viewport().grab().toImage()
    assert (image.width(), image.height()) == (640, 400)
    if os.environ.get("FACESMITH_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        image.save(str(SNAPSHOT))
    assert SNAPSHOT.exists(), "no reference: run with FACESMITH_UPDATE_SNAPSHOTS=1 and look at it"
    actual, expected = _rgb(image), _rgb(QImage(str(SNAPSHOT)))
    compared = np.ones(actual.shape[:2], np.bool_)
    for face_id in range(1, 16):  # the role tags are text, and fonts differ between machines
        r = view.role_tag_rect(face_id)
        compared[r.top(): r.bottom() + 1, r.left(): r.right() + 1] = False
    bad = (np.abs(actual - expected).max(axis=2) > TOLERANCE) & compared
    if bad.mean() > MAX_BAD_FRACTION:
        out = tmp_path / "face_grid_actual.png"
        image.save(str(out))
        pytest.fail(f"{bad.sum()} pixels differ from {SNAPSHOT.name} by more than {TOLERANCE}; "
                    f"actual image: {out}; FACESMITH_UPDATE_SNAPSHOTS=1 to accept")
    # the parts are where they belong
    selected = view.face_rect(7)
    assert tuple(actual[selected.top() - 2, selected.center().x()]) == ACCENT.getRgb()[:3]
    stripe = view.face_rect(6)
    assert tuple(actual[stripe.bottom() - 1, stripe.center().x()]) == PERSON_COLOURS[3].getRgb()[:3]
    excluded, kept = view.face_rect(3), view.face_rect(2)
    assert actual[excluded.top() + 30: excluded.bottom() - 30, excluded.left() + 8].mean() < \
        actual[kept.top() + 30: kept.bottom() - 30, kept.left() + 8].mean()  # dimmed
    red = actual[excluded.center().y(), excluded.center().x()]
    assert red[0] > 200 and red[1] < 120  # the red cross


def test_deleting_the_grid_waits_only_for_running_loads(qtbot) -> None:
    view = FaceGridView(tile_size=48)
    view.resize(800, 600)
    view.set_faces(synthetic_table(2000, embedding_dim=None))
    source = SolidSource(delay_s=0.05)
    view.set_thumbnail_source(source)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: len(source.loaded) >= 2, timeout=3000)
    t = time.perf_counter()
    with qtbot.waitSignal(view.destroyed, timeout=5000):
        view.deleteLater()
    took = time.perf_counter() - t
    assert len(source.loaded) <= 8, "the queued loads ran before the grid could go"
    assert took < 2.0
