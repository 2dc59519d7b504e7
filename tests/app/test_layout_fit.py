"""Nothing is cut off: at 1366x768 (a laptop), 1440x900 (the default size) and 1920x1080,
on a real project with faces, persons, mask keyframes and a swap model (so that every
dialog opens, Train XSeg and Render included), every dock, tab and dialog shows its labels,
buttons, tabs, header sections and cells whole. Measured with the widgets' font metrics
(tests/layout_audit.py), not from screenshots; screenshots are saved to artifacts/."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QMessageBox,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

from app.dialogs import PreferencesDialog
from app.document import ProjectDocument
from app.main_window import MainWindow
from layout_audit import clipped_text

pytestmark = [pytest.mark.gui, pytest.mark.slow, pytest.mark.timeout(300)]
SIZES = [(1366, 768), (1440, 900), (1920, 1080)]


@pytest.fixture(autouse=True)
def no_blocking_boxes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A workspace that refuses to open its dialog says why in a modal box: record it instead."""
    said: list[str] = []
    for name in ("information", "warning", "critical"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(lambda _parent, title, text, *a, **k: said.append(
            f"{title}: {text}") or QMessageBox.StandardButton.Ok))
    return said


def settle(qtbot, ms: int = 60) -> None:
    deadline = time.monotonic() + ms / 1000
    while time.monotonic() < deadline:
        QApplication.processEvents()
        qtbot.wait(10)


@pytest.fixture(scope="module")
def fitted_project(tmp_path_factory: pytest.TempPathFactory, extracted_project, job_runner) -> Path:
    """The session's extracted project (4 clips, 300 faces, 4 persons) with what the last
    dialogs need to open: hull keyframes on every 15th face (Train XSeg) and a fast-64
    swap model after one iteration of the real ``train_swap`` job (Render), about 2 s."""
    import torch

    from engine.masks.hull import DEFAULT_FOREHEAD, hull_label
    from engine.masks.repo import set_labels
    from engine.project.store import ProjectStore

    run_job, _ = job_runner
    root = extracted_project.copy(tmp_path_factory.mktemp("layout"))
    with ProjectStore.open(root) as store:
        faces = store.faces(include_excluded=False)
        set_labels(store, {f.id: hull_label(f.landmarks, forehead=DEFAULT_FOREHEAD) for f in faces[::15]})
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        job = run_job(root, "train_swap", {"preset": "fast-64", "iterations": 1, "seed": 1, "metric_every": 1,
                                           "preview_every": 1000})
    finally:
        torch.set_num_threads(before)
    assert job.state == "done", job.error_text
    return root


@pytest.fixture
def project(tmp_path: Path, fitted_project: Path) -> Path:
    """A private copy of :func:`fitted_project` for one window."""
    target = tmp_path / fitted_project.name
    shutil.copytree(fitted_project, target)
    return target


@pytest.fixture
def window_at(qtbot, project: Path):
    made: list[MainWindow] = []

    def make(width: int, height: int) -> MainWindow:
        settings = QSettings()
        settings.remove("main_window")  # the default layout, not one a previous test saved
        win = MainWindow(ProjectDocument.open(project), start_engine=False)
        qtbot.addWidget(win)
        win.resize(width, height)
        win.show()
        qtbot.waitExposed(win)
        settle(qtbot, 400)
        made.append(win)
        return win

    yield make
    for win in made:
        win.close()


def walk_pages(qtbot, root: QWidget, where: str) -> list[str]:
    """Check ``root`` with each page of every tab widget and stacked widget in it shown."""
    problems = [f"{where}: {p}" for p in clipped_text(root)]
    for tabs in root.findChildren(QTabWidget):
        if not tabs.isVisible():
            continue
        current = tabs.currentIndex()
        for i in range(tabs.count()):
            tabs.setCurrentIndex(i)
            settle(qtbot)
            problems += [f"{where} ▸ {tabs.tabText(i)}: {p}" for p in clipped_text(tabs.widget(i))]
        tabs.setCurrentIndex(current)
    for stack in root.findChildren(QStackedWidget):
        if not stack.isVisible() or isinstance(stack.parentWidget(), QTabWidget):
            continue
        current = stack.currentIndex()
        for i in range(stack.count()):
            stack.setCurrentIndex(i)
            settle(qtbot)
            problems += [f"{where} ▸ page {i}: {p}" for p in clipped_text(stack.widget(i))]
        stack.setCurrentIndex(current)
    return problems


def fit_to_screen(dialog: QDialog, width: int, height: int) -> None:
    """What a window manager does on that screen: no dialog larger than the screen."""
    hint = dialog.sizeHint()
    dialog.resize(min(max(hint.width(), dialog.width()), width - 40), min(max(hint.height(), dialog.height()),
                                                                           height - 60))


def dialogs(win: MainWindow) -> list[tuple[str, object]]:
    return [
        ("Extract faces", win.extract_dialog),
        ("Preferences", lambda: _shown(PreferencesDialog(win.prefs, win))),
        ("Train swap model", win.training_workspace.open_dialog),
        ("Train XSeg", win.mask_workspace.train_dialog),
        ("Render", win.merge_workspace.render_dialog),
        ("Keyboard Shortcuts", lambda: (win.shortcuts_action.trigger(), win.shortcuts_dialog)[1]),
    ]


def _shown(dialog: QDialog) -> QDialog:
    dialog.open()
    return dialog


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_dock_tab_and_dialog_shows_its_text_whole(qtbot, window_at, size: tuple[int, int],
                                                         artifacts_dir: Path, no_blocking_boxes: list[str]) -> None:
    width, height = size
    win = window_at(width, height)
    problems = walk_pages(qtbot, win, "main window")
    for dock in win.findChildren(QDockWidget):
        dock.show()
        dock.raise_()
        settle(qtbot, 120)
        problems += walk_pages(qtbot, win, f"dock {dock.windowTitle()}")
        if dock.windowTitle() == "Face Graph" and size == (1366, 768):
            win.grab().save(str(artifacts_dir / "face_graph_1366x768.png"))
            dock.widget().grab().save(str(artifacts_dir / "face_graph_dock_1366x768.png"))
    win.faces_dock.raise_()
    settle(qtbot, 200)
    assert win.grab().save(str(artifacts_dir / f"main_window_{width}x{height}.png"))
    opened = []
    for title, open_dialog in dialogs(win):
        dialog = open_dialog()
        if dialog is None:
            continue
        opened.append(title)
        fit_to_screen(dialog, width, height)
        settle(qtbot, 200)
        problems += walk_pages(qtbot, dialog, f"dialog {title}")
        if title == "Train swap model":
            dialog.grab().save(str(artifacts_dir / f"train_dialog_{width}x{height}.png"))
        dialog.reject()
        settle(qtbot)
    assert opened == [title for title, _ in dialogs(win)], f"dialogs that did not open: {no_blocking_boxes}"
    assert not problems, f"{len(problems)} cut-off texts at {width}x{height}:\n" + "\n".join(sorted(set(problems)))


def test_the_empty_demo_fits_too(qtbot, tmp_path: Path) -> None:
    """A new user's first view: the demo before extraction, with its empty states."""
    from engine.project.demo import ensure_demo

    QSettings().remove("main_window")
    win = MainWindow(ProjectDocument.open(ensure_demo(tmp_path / "Demo")), start_engine=False)
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    qtbot.waitExposed(win)
    settle(qtbot, 300)
    problems = walk_pages(qtbot, win, "main window")
    for dock in win.findChildren(QDockWidget):
        dock.show()
        dock.raise_()
        settle(qtbot, 100)
        problems += walk_pages(qtbot, win, f"dock {dock.windowTitle()}")
    assert win.empty_states.grid.isVisible() or win.empty_states.graph.isVisible()
    win.close()
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_audit_finds_cut_text_and_passes_text_that_fits(qtbot) -> None:
    """The check itself can fail: each kind of cut text is reported, fitting text is not."""
    from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTabBar, QTreeWidget, QTreeWidgetItem

    host = QWidget()
    qtbot.addWidget(host)
    row = QHBoxLayout(host)
    label = QLabel("A label that needs far more room than it is given")
    label.setFixedWidth(60)
    button = QPushButton("Restore Selected")
    button.setFixedWidth(50)
    fine = QPushButton("OK")
    tabs = QTabBar()
    tabs.addTab("Augmentation")
    tabs.setExpanding(False)
    tabs.setElideMode(__import__("PySide6.QtCore", fromlist=["Qt"]).Qt.TextElideMode.ElideRight)
    tabs.setFixedWidth(40)
    tree = QTreeWidget()
    tree.setHeaderLabels(["name", "faces"])
    tree.header().setStretchLastSection(False)
    tree.setColumnWidth(0, 40)
    tree.setColumnWidth(1, 12)
    tree.addTopLevelItem(QTreeWidgetItem(["a rather long clip name", "12345"]))
    tree.setFixedWidth(200)
    for w in (label, button, fine, tabs, tree):
        row.addWidget(w)
    host.resize(900, 200)
    host.show()
    qtbot.waitExposed(host)
    found = "\n".join(clipped_text(host))
    assert "label 'A label that needs" in found
    assert "button 'Restore Selected'" in found and "button 'OK'" not in found
    assert "tab 'Augmentation'" in found
    assert "header 'faces'" in found and "cell 'a rather long clip name'" in found and "cell '12345'" in found
    for w in (label, button, tabs):
        w.setMinimumWidth(0)
        w.setMaximumWidth(16777215)
    tree.setMinimumWidth(0)
    tree.setMaximumWidth(16777215)
    tree.setColumnWidth(0, 220)
    tree.setColumnWidth(1, 80)
    tree.setMinimumWidth(330)
    host.resize(1600, 200)
    settle(qtbot, 100)
    assert clipped_text(host) == []
