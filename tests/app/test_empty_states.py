"""Empty panels show the next step as a button; the demo's first open offers the extraction
and, accepted, the faces and persons appear when the real job finishes."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from app.dialogs import JobDialog
from app.document import ProjectDocument
from app.main_window import MainWindow
from app.presenters.empty_states import offer_demo_extraction
from engine.jobs.worker import Worker
from engine.project.demo import ensure_demo

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path: Path):
    win = MainWindow(ProjectDocument.open(ensure_demo(tmp_path / "Demo")), start_engine=False)
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def test_an_empty_project_says_what_to_do_next(qtbot, window: MainWindow) -> None:
    states = window.empty_states
    assert states.grid.isVisible() and states.grid.button.text() == "Extract Faces…"
    assert "No faces yet" in states.grid.label.text()
    window.training_workspace.dock.show()
    window.training_workspace.dock.raise_()
    qtbot.waitUntil(states.monitor.isVisible, timeout=2000)
    assert states.monitor.button.text() == "Train…" and not states.monitor.button.isEnabled()
    qtbot.mouseClick(states.grid.button, __import__("PySide6.QtCore", fromlist=["Qt"]).Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(JobDialog)), timeout=2000)
    dialog = next(d for d in window.findChildren(JobDialog) if d.isVisible())
    assert dialog.windowTitle() == "Extract faces"
    dialog.reject()


@pytest.mark.slow
def test_the_demo_offers_its_extraction_once_and_then_shows_faces(qtbot, window: MainWindow) -> None:
    box = offer_demo_extraction(window)
    assert box is not None and "demo project" in box.text()
    box.button(QMessageBox.StandardButton.Yes).click()
    jobs = window.engine.jobs()
    assert [j.kind for j in jobs] == ["extract"] and jobs[0].state == "queued"
    assert window.jobs_dock.isVisible()
    assert offer_demo_extraction(window) is None  # only on the first open
    Worker(window.document.root, only_job=jobs[0].id, log_to_stderr=False).run()  # the engine's work
    qtbot.waitUntil(lambda: not window.empty_states.grid.isVisible(), timeout=20_000)
    assert window.faces_panel.grid.counts()[1] > 0
    assert window.browser.ids("person")
    assert not window.empty_states.graph.isVisible()


def test_person_pictures_in_the_grid_filter_and_the_train_dialog(qtbot, extracted_copy: Path) -> None:
    """Each person's best face is their picture in the grid's person filter and the train dialog."""
    win = MainWindow(ProjectDocument.open(extracted_copy), start_engine=False)
    qtbot.addWidget(win)
    win.show()
    try:
        combo = win.faces_panel.person_combo
        persons = win.document.store.persons()
        assert combo.count() == len(persons) + 1
        assert all(not combo.itemIcon(i).isNull() for i in range(1, combo.count()))
        total = win.faces_panel.grid.counts()[0]
        combo.setCurrentIndex(1)
        shown = win.faces_panel.grid.counts()[0]
        assert 0 < shown < total  # only that person's faces
        assert win.faces_panel.grid.face_filter().person_ids == (combo.itemData(1),)
        dialog = win.training_workspace.open_dialog()
        pictured = [i for i in range(dialog.src_person_combo.count())
                    if not dialog.src_person_combo.itemIcon(i).isNull()]
        assert len(pictured) == len(persons)
        dialog.reject()
    finally:
        win.close()
