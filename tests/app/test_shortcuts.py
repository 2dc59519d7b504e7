"""Help ▸ Keyboard Shortcuts lists every shortcut the window has, and searches them."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QAction, QKeySequence

from app.document import ProjectDocument
from app.main_window import MainWindow
from app.shortcuts import shortcut_rows
from engine.project.demo import ensure_demo

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path: Path):
    win = MainWindow(ProjectDocument.open(ensure_demo(tmp_path / "Demo")), start_engine=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def test_the_sheet_holds_every_shortcut_of_the_window_and_filters(qtbot, window: MainWindow) -> None:
    expected = {(a.text().replace("&", ""), a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))
                for a in window.findChildren(QAction) if not a.shortcut().isEmpty() and a.text()}
    assert len(expected) > 15
    window.shortcuts_action.trigger()
    dialog = window.shortcuts_dialog
    qtbot.waitExposed(dialog)
    rows = dialog.visible_rows()
    shown = {(action, keys.split(", ")[0]) for keys, action, _menu in rows}
    assert expected <= shown, expected - shown
    assert ("Ctrl+E", "Extract Faces…", "Engine") in rows
    assert dialog.filter("extract") >= 1
    assert all("extract" in " ".join(r).lower() or "extract" in dialog.table.topLevelItem(0).toolTip(1).lower()
               for r in dialog.visible_rows())
    assert dialog.filter("no such shortcut at all") == 0 and dialog.visible_rows() == []
    assert "0 of" in dialog.count_label.text()
    dialog.filter("")
    assert len(dialog.visible_rows()) == len(rows)


def test_a_new_action_shows_up_without_editing_the_sheet(window: MainWindow) -> None:
    extra = QAction("Brand New Thing", window)
    extra.setShortcut(QKeySequence("Ctrl+Alt+9"))
    window.addAction(extra)
    assert any(r.action == "Brand New Thing" and r.where == "(window)" for r in shortcut_rows(window))
