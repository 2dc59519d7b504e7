"""The merge workspace on a project with a trained tiny model (qtbot, offscreen, real engine)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from app.document import ProjectDocument
from app.main_window import MainWindow

pytestmark = [pytest.mark.gui, pytest.mark.slow]


@pytest.fixture
def merge_project(tmp_path: Path, trained_swap) -> Path:
    target = tmp_path / trained_swap.root.name
    shutil.copytree(trained_swap.root, target)
    return target


def test_live_preview_settings_render(qtbot, merge_project: Path, artifacts_dir: Path, monkeypatch) -> None:
    from PySide6.QtGui import QDesktopServices

    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    window = MainWindow(ProjectDocument.open(merge_project))
    qtbot.addWidget(window)
    window.show()
    ws = window.merge_workspace
    clip = window.document.store.find_clip("lbax4n")
    window.frame_presenter.show_clip(clip.id, 10)
    qtbot.waitUntil(lambda: window.frame_presenter.frame == 10, timeout=5000)
    original = window.frame_view.frame().copy()

    with qtbot.waitSignal(ws.preview_shown, timeout=60_000):
        window.merge_workspace.merged_action.setChecked(True)
    merged = window.frame_view.frame().copy()
    assert merged.shape == original.shape and np.abs(merged.astype(int) - original).mean() > 0.5

    # A slider change updates the preview.
    with qtbot.waitSignal(ws.preview_shown, timeout=30_000):
        ws.panel.sliders["face_scale"].setValue(200)  # +20 %
    again = window.frame_view.frame().copy()
    assert np.abs(again.astype(int) - merged).mean() > 0.1
    # Split view shows the original on the left half.
    window.merge_workspace.split_action.setChecked(True)
    split = window.frame_view.frame()
    assert np.array_equal(split[:, :100], original[:, :100])
    window.merge_workspace.split_action.setChecked(False)
    assert window.grab().save(str(artifacts_dir / "merge_workspace.png"))

    # Settings are saved per clip.
    qtbot.waitUntil(lambda: window.document.store.meta(f"merge_settings:{clip.id}") is not None, timeout=3000)

    # Render the whole clip to MP4 through the real engine; the file opens when done.
    dialog = ws.render_dialog()
    with qtbot.waitSignal(window.engine.job_finished, timeout=180_000):
        dialog.accept()
    qtbot.waitUntil(lambda: bool(opened), timeout=5000)
    from engine.media import probe

    info = probe(opened[0])
    assert info.frame_count == clip.frame_count and info.fps == clip.fps
    window.close()

    # Reopening restores the merge view and the clip's settings.
    again_window = MainWindow(ProjectDocument.open(merge_project), start_engine=False)
    qtbot.addWidget(again_window)
    assert again_window.merge_workspace.merged_action.isChecked()
    again_window.frame_presenter.show_clip(clip.id, 0)
    qtbot.waitUntil(lambda: again_window.merge_workspace.panel.sliders["face_scale"].value() == 200, timeout=5000)
    again_window.close()
