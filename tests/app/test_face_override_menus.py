"""Face overrides from the right-click menus of the face grid and the frame view (qtbot, on
the session's extracted project): a real right-click opens the real menu, its "Merge
settings for this face…", "Clear merge override" and "Don't swap" each store one undo step,
and undo takes it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMenu, QWidget

from app.document import ProjectDocument
from app.main_window import MainWindow
from engine.merge.overrides import face_override

pytestmark = [pytest.mark.gui]


def _right_click(qtbot: Any, widget: QWidget, pos: QPoint, choose: str) -> dict[str, Any]:
    """Right-click ``widget`` at ``pos`` and trigger the menu entry starting with ``choose``;
    returns the entries' texts and the chosen one's enabled and checked states."""
    seen: dict[str, Any] = {}

    def pick() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            QTimer.singleShot(20, pick)  # not shown yet
            return
        actions = [a for a in menu.actions() if not a.isSeparator()]
        seen["texts"] = [a.text() for a in actions]
        action = next((a for a in actions if a.text().startswith(choose)), None)
        menu.hide()  # as a click does: the menu closes, then the action runs
        if action is not None:
            seen["enabled"], seen["checked"] = action.isEnabled(), action.isChecked()
            if action.isEnabled():
                action.trigger()

    QTimer.singleShot(0, pick)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos))
    QApplication.sendEvent(widget, event)  # returns when the menu has closed
    assert "texts" in seen, "no context menu opened"
    assert "enabled" in seen, f"no entry {choose!r} in {seen['texts']}"
    return seen


def test_override_clear_and_dont_swap_from_the_grid_and_the_frame_view(qtbot: Any, extracted_copy: Path) -> None:
    window = MainWindow(ProjectDocument.open(extracted_copy), start_engine=False)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    store, undo = window.document.store, window.document.undo_stack
    overrides = window.merge_workspace.overrides

    # --- the face grid: a real right-click on a tile (it selects the face), then the menu.
    grid = window.faces_panel.grid
    window.faces_dock.raise_()
    qtbot.waitUntil(lambda: grid.visible_ids().size > 0, timeout=5000)
    face_id = int(grid.visible_ids()[0])
    centre = grid.face_rect(face_id).center()
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.RightButton, pos=centre)
    assert grid.selected_ids().tolist() == [face_id]
    seen = _right_click(qtbot, grid.viewport(), centre, "Merge settings for this face")
    assert "Clear merge override" in seen["texts"] and "Don't swap" in seen["texts"]
    dialog = overrides.dialog
    assert dialog is not None and dialog.isVisible()
    dialog.panel.sliders["erode"].setValue(123)  # 12.3
    steps = undo.count()
    dialog.accept()
    assert face_override(store, face_id) == {"erode": pytest.approx(12.3)}
    assert undo.count() == steps + 1
    undo.undo()
    assert face_override(store, face_id) == {}
    undo.redo()

    # "Clear merge override" (enabled now) is one undo step too.
    assert _right_click(qtbot, grid.viewport(), centre, "Clear merge override")["enabled"]
    assert face_override(store, face_id) == {}
    undo.undo()
    assert face_override(store, face_id) == {"erode": pytest.approx(12.3)}

    # "Don't swap" toggles the face's "not swapped" flag; undo swaps it again.
    assert _right_click(qtbot, grid.viewport(), centre, "Don't swap")["checked"] is False
    assert store.face(face_id).swap_excluded
    qtbot.waitUntil(lambda: bool(grid.table().swap_excluded[grid.table().rows_of([face_id])][0]), timeout=2000)
    assert _right_click(qtbot, grid.viewport(), centre, "Don't swap")["checked"] is True  # shown ticked
    assert not store.face(face_id).swap_excluded
    undo.undo()
    assert store.face(face_id).swap_excluded
    undo.undo()
    assert not store.face(face_id).swap_excluded

    # --- the frame view: the face under the cursor.
    face = store.face(face_id)
    window.frame_presenter.show_clip(face.clip_id, face.frame)
    view = window.frame_view
    qtbot.waitUntil(lambda: any(f.face_id == face_id for f in view.faces()), timeout=5000)
    view.select_faces([])
    shown = next(f for f in view.faces() if f.face_id == face_id)
    x0, y0, x1, y1 = shown.box
    at = view.map_from_frame(QPointF((x0 + x1) / 2, (y0 + y1) / 2)).toPoint()
    seen = _right_click(qtbot, view, at, "Merge settings for this face")
    assert "Track this face" in seen["texts"]  # the frame view's own entries stay
    dialog = overrides.dialog
    assert dialog.panel.sliders["erode"].value() == 123  # it shows what the face gets now: its override
    dialog.panel.sliders["opacity"].setValue(dialog.panel.sliders["opacity"].value() // 2)
    dialog.accept()
    stored = face_override(store, face_id)
    assert stored["erode"] == pytest.approx(12.3) and stored["opacity"] < 1.0 and set(stored) == {"erode", "opacity"}
    undo.undo()
    assert face_override(store, face_id) == {"erode": pytest.approx(12.3)}
    assert _right_click(qtbot, view, at, "Clear merge override")["enabled"]
    assert face_override(store, face_id) == {}
    undo.undo()
    assert face_override(store, face_id) == {"erode": pytest.approx(12.3)}
    assert _right_click(qtbot, view, at, "Don't swap")["checked"] is False
    assert store.face(face_id).swap_excluded
    undo.undo()
    assert not store.face(face_id).swap_excluded
