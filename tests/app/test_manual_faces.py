"""Faces by hand in the editor: drag a box over a missed face, "Track this face", undo
(qtbot, offscreen, real project on a real clip, real engine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from app.document import ProjectDocument
from app.main_window import MainWindow
from engine.project.clips import add_clips
from engine.project.store import ProjectStore

pytestmark = [pytest.mark.gui]

CARPHONE = Path(__file__).resolve().parents[1] / "data" / "clips" / "carphone.mp4"


@pytest.fixture
def window(qtbot, tmp_path: Path) -> MainWindow:
    with ProjectStore.create(tmp_path / "Car") as store:
        add_clips(store, [CARPHONE], "dst")
        root = store.root
    win = MainWindow(ProjectDocument.open(root))
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    clip = win.document.store.find_clip("carphone")
    win.frame_presenter.show_clip(clip.id, 40)
    qtbot.waitUntil(lambda: win.frame_presenter.frame == 40 and win.frame_view.frame() is not None, timeout=10_000)
    return win


def _pos(view, x: float, y: float) -> QPoint:
    p = view.map_from_frame(QPointF(x, y))
    return QPoint(round(p.x()), round(p.y()))


def _count(win: MainWindow) -> int:
    return win.document.store.query("SELECT count(*) FROM faces")[0][0]


def test_drag_a_box_adds_a_face_and_undo_removes_it(qtbot, window: MainWindow, artifacts_dir: Path) -> None:
    view = window.frame_view
    start, end = _pos(view, 48, 36), _pos(view, 108, 98)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    qtbot.mouseMove(view, (start + end) / 2)
    qtbot.mouseMove(view, end)
    assert view.grab().save(str(artifacts_dir / "frame_view_drawing_box.png"))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    qtbot.waitUntil(lambda: _count(window) == 1, timeout=10_000)
    face = window.document.store.faces()[0]
    assert face.frame == 40 and 40 <= face.box[0] <= 56
    qtbot.waitUntil(lambda: [f.face_id for f in view.faces()] == [face.id], timeout=5000)
    assert view.selected_ids().tolist() == [face.id]
    stack = window.document.undo_stack
    assert stack.undoText().startswith("Add a face")
    stack.undo()
    assert _count(window) == 0
    stack.redo()
    assert _count(window) == 1

    # "Track this face" from its right-click menu: one more command, undone at once.
    menu = view.landmark_menu(face.id)
    track = next(a for a in menu.actions() if a.text() == "Track this face")
    track.trigger()
    qtbot.waitUntil(lambda: _count(window) > 10, timeout=60_000)
    assert stack.undoText().startswith("Track face")
    stack.undo()
    assert _count(window) == 1


def test_a_click_is_not_a_box_and_tiny_boxes_are_dropped(qtbot, window: MainWindow) -> None:
    view = window.frame_view
    drawn: list[object] = []
    view.face_box_drawn.connect(drawn.append)
    p = _pos(view, 60, 60)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
    start, end = _pos(view, 60, 60), _pos(view, 70, 68)  # 10x8 frame pixels
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    qtbot.mouseMove(view, end)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert drawn == [] and _count(window) == 0
    # The right-click menu on empty space adds a face of a fifth of the frame's height.
    menu = view.empty_menu((80.0, 70.0))
    assert menu is not None
    (add,) = [a for a in menu.actions() if a.text() == "Add a face here"]
    add.trigger()
    assert len(drawn) == 1 and drawn[0][2] == pytest.approx(144 / 5)
