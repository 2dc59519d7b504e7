"""Uncertain persons (docs/CONTEXT.md) in the editor: on the session's extracted project
with one person flagged, the project browser, the face grid's person filter and the train
dialog's person choice list it after the certain ones, with the "?" badge, in italics and
with the tooltip that says why (qtbot, real project)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.document import ProjectDocument
from app.main_window import MainWindow
from engine.project.face_extras import set_uncertain
from engine.project.store import ProjectStore
from widgets.person_label import UNCERTAIN_TIP

pytestmark = [pytest.mark.gui]


def _combo_rows(combo: Any) -> list[tuple[Any, str, str, bool]]:
    rows = []
    for i in range(combo.count()):
        font = combo.itemData(i, Qt.ItemDataRole.FontRole)
        rows.append((combo.itemData(i), combo.itemText(i), str(combo.itemData(i, Qt.ItemDataRole.ToolTipRole) or ""),
                     bool(font is not None and font.italic())))
    return rows


def test_an_uncertain_person_is_marked_and_listed_last_everywhere(qtbot: Any, extracted_copy: Path) -> None:
    with ProjectStore.open(extracted_copy) as store:
        persons = store.persons()
        assert len(persons) >= 2
        doubtful = persons[0]  # the first by id: listed first unless it is put last
        set_uncertain(store, {doubtful.id: True})
        assert [p.id for p in store.persons() if p.uncertain] == [doubtful.id]
    window = MainWindow(ProjectDocument.open(extracted_copy), start_engine=False)
    qtbot.addWidget(window)

    # Project browser: last, italic, "?" badge, the tooltip; the name itself stays renameable.
    ids = window.browser.ids("person")
    assert ids[-1] == doubtful.id and sorted(ids) == sorted(p.id for p in persons)
    item = window.browser.item_for("person", doubtful.id)
    assert item.text(0) == doubtful.name and item.font(0).italic() and item.text(1).startswith("?")
    assert UNCERTAIN_TIP in item.toolTip(0) and UNCERTAIN_TIP in item.toolTip(1)
    certain = window.browser.item_for("person", ids[0])
    assert not certain.font(0).italic() and UNCERTAIN_TIP not in certain.toolTip(0)

    # The face grid's person filter.
    rows = _combo_rows(window.faces_panel.person_combo)
    assert rows[0][0] is None and rows[-1][0] == doubtful.id
    assert rows[-1][1] == f"{doubtful.name} ?" and UNCERTAIN_TIP in rows[-1][2] and rows[-1][3]
    assert all(not italic and UNCERTAIN_TIP not in tip for _pid, _t, tip, italic in rows[1:-1])

    # The train dialog: both persons combos and the "+" menus.
    dialog = window.training_workspace.open_dialog()
    for combo in (dialog.src_person_combo, dialog.dst_person_combo):
        rows = _combo_rows(combo)
        assert rows[-1][0] == doubtful.id and rows[-1][1].startswith(f"{doubtful.name} ?")
        assert UNCERTAIN_TIP in rows[-1][2] and rows[-1][3]
        assert all(not italic for _pid, _t, _tip, italic in rows[:-1])
    for menu in dialog.more_persons.values():
        last = menu.actions()[-1]
        assert last.data() == doubtful.id and last.text() == f"{doubtful.name} ?"
        assert UNCERTAIN_TIP in last.toolTip() and last.font().italic() and menu.toolTipsVisible()
    dialog.reject()
