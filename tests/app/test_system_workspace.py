"""Help ▸ System, Engine ▸ Models' Disk Use with "Prune Backups", and the jobs dock's lane."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from app.document import ProjectDocument
from app.main_window import MainWindow
from engine.project.demo import ensure_demo
from engine.project.models import Job
from engine.project.store import ProjectStore
from engine.swap import checkpoint

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path: Path):
    root = ensure_demo(tmp_path / "Demo")
    with ProjectStore.open(root) as store, store.transaction() as c:
        now = time.time()
        c.execute("INSERT INTO models (id, kind, name, arch, face_type, resolution, config, iteration, path, "
                  "created_at, updated_at) VALUES (5, 'swap', 'tiny', 'df', 'full', 64, '{}', 3, 'models/5/', ?, ?)",
                  (now, now))
    for it in (1, 2, 3):
        checkpoint.save(root / "models" / "5", weights={"w": torch.full((64, 64), float(it))},
                        state={"iteration": it}, optimizer={"state": {0: {"m": torch.zeros(64, 64)}},
                                                            "param_groups": [{"params": [0]}]})
    win = MainWindow(ProjectDocument.open(root), start_engine=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def test_help_system_shows_the_doctor_report(qtbot, window: MainWindow, artifacts_dir: Path) -> None:
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions() if a.menu() is not None}
    assert window.system_workspace.system_action in menus["Help"].actions()
    window.system_workspace.system_action.trigger()
    dialog = window.system_workspace.dialog
    qtbot.waitUntil(lambda: "torch" in dialog.text.toPlainText(), timeout=60_000)
    text = dialog.text.toPlainText()
    for word in ("Python", "torch", "GPUs", "lanes", "faces: dlib", "disk"):
        assert word in text, word
    assert str(window.document.root) in text  # the free disk is the project's
    assert dialog.grab().save(str(artifacts_dir / "help_system.png"))
    dialog.close()


def test_models_disk_use_and_prune_backups(qtbot, window: MainWindow) -> None:
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions() if a.menu() is not None}
    assert window.system_workspace.disk_action in menus["Engine"].actions()
    window.system_workspace.disk_action.trigger()
    dialog = window.system_workspace.dialog
    assert "[5] tiny" in dialog.text.toPlainText() and "2 backups" in dialog.text.toPlainText()
    freed = window.system_workspace.prune(ask=False)
    assert freed is not None and freed[5] > 0
    assert "0 backups" in dialog.text.toPlainText() and "freed" in dialog.text.toPlainText()
    folder = window.document.root / "models" / "5"
    assert not list((folder / "backups").iterdir())
    assert checkpoint.read_state(folder / "latest")["iteration"] == 3  # the latest is kept
    dialog.close()


def test_the_jobs_dock_shows_each_running_jobs_lane(window: MainWindow) -> None:
    view = window.jobs_view
    view.set_jobs([Job(1, "train_swap", {}, state="running", lane="compute"),
                   Job(2, "extract", {}, state="running", lane="cpu"),
                   Job(3, "render", {}, state="running", lane="gpu:1"),
                   Job(4, "extract", {}, state="queued")])
    lanes = [view.tree.topLevelItem(i).text(5) for i in range(4)]
    assert lanes == ["CPU (no GPU)", "CPU", "GPU 1", ""]
    assert view.tree.headerItem().text(5) == "lane"
