"""File ▸ Import / Export run the interop jobs with progress and refresh the views."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine" / "interop"))

from writers import dfl_meta, write_dfl_face  # noqa: E402

from app.document import ProjectDocument  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from engine.jobs.worker import Worker  # noqa: E402
from engine.project.store import ProjectStore  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path: Path):
    store = ProjectStore.create(tmp_path / "Menu")
    root = store.root
    store.close()
    win = MainWindow(ProjectDocument.open(root), start_engine=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def _run(window: MainWindow, job_id: int) -> None:
    Worker(window.document.root, only_job=job_id, log_to_stderr=False).run()
    window.engine.poll()


def test_import_menu_action_runs_the_job_and_shows_the_clip(qtbot, window: MainWindow, tmp_path: Path,
                                                          monkeypatch, artifacts_dir: Path) -> None:
    from PySide6.QtWidgets import QFileDialog

    folder = tmp_path / "aligned"
    folder.mkdir()
    for i in range(3):
        write_dfl_face(folder / f"{i}.jpg", dfl_meta(seed=i, source=None), seed=i)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    menu = window.interop_menu
    file_menu = window.menuBar().actions()[0].menu()
    assert menu.import_menu.menuAction() in file_menu.actions()
    menu.import_dfl_action.trigger()
    (job_id,) = list(menu._progress)
    _run(window, job_id)
    assert not menu._progress  # the progress dialog closed
    assert "imported 3 faces" in window.statusBar().currentMessage()
    clips = window.document.store.clips()
    assert [c.kind for c in clips] == ["faceset"]
    assert window.browser.ids("clip") == [clips[0].id]
    file_menu.popup(window.mapToGlobal(window.rect().topLeft()))
    menu.import_menu.popup(file_menu.geometry().topRight())
    qtbot.waitExposed(menu.import_menu)
    assert menu.import_menu.grab().save(str(artifacts_dir / "interop_import_menu.png"))
    menu.import_menu.close()
    file_menu.close()


def test_export_dfl_from_the_menu_and_a_failed_import_changes_nothing(qtbot, window: MainWindow, tmp_path: Path,
                                                                    monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    folder = tmp_path / "aligned"
    folder.mkdir()
    for i in range(2):
        write_dfl_face(folder / f"{i}.jpg", dfl_meta(seed=i, source=None), seed=i)
    menu = window.interop_menu
    _run(window, menu.import_dfl(folder))
    out = tmp_path / "out"
    _run(window, menu.export_dfl(out))
    assert len(list(out.glob("*.jpg"))) == 2
    assert "exported 2 faces" in window.statusBar().currentMessage()

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(str(a[2]) if len(a) > 2 else ""))
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(str(a[2]) if len(a) > 2 else ""))
    empty = tmp_path / "empty"
    empty.mkdir()
    before = len(window.document.store.faces())
    job_id = menu.import_dfl(empty)
    _run(window, job_id)
    assert window.engine.queue.job(job_id).state == "failed"
    assert "no JPG or PNG face images" in window.engine.queue.job(job_id).status_text
    assert len(window.document.store.faces()) == before and not menu._progress
