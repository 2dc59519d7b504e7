"""Merge keys, the quality strip and the merge-view fixes in the editor, on a copy of the
session's trained project (qtbot, offscreen, real engine and jobs)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.document import ProjectDocument
from app.main_window import MainWindow
from app.merge_view import split_image, split_position
from engine.merge.keys import clip_keys

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def test_split_position_is_at_the_face() -> None:
    boxes = [(20.0, 50.0, 80.0, 120.0), (200.0, 40.0, 330.0, 200.0)]
    assert split_position(boxes, 360) == 265  # the largest face
    assert split_position(boxes, 360, selected=0) == 50  # the selected one
    assert split_position([], 360) == 180
    original, merged = np.zeros((4, 10, 3), np.uint8), np.full((4, 10, 3), 7, np.uint8)
    image = split_image(original, merged, 3)
    assert (image[:, :2] == 0).all() and (image[:, 2:4] == 255).all() and (image[:, 4:] == 7).all()


@pytest.fixture
def rendered_project(tmp_path: Path, trained_swap: Any, job_runner: Any) -> Path:
    run, _ = job_runner
    target = tmp_path / trained_swap.root.name
    shutil.copytree(trained_swap.root, target, ignore=shutil.ignore_patterns("renders", "previews", "logs"))
    job = run(target, "render", {"clip": "lbax4n", "start": 0, "stop": 40, "device": "cpu",
                                 "out": str(tmp_path / "r.mp4")})
    assert job.state == "done", job.error_text
    return target


def _wait_frame(qtbot: Any, window: MainWindow, frame: int) -> None:
    window.frame_presenter.request_frame(frame)
    qtbot.waitUntil(lambda: window.frame_presenter.frame == frame, timeout=5000)


def _divider_column(image: np.ndarray) -> int | None:
    white = np.flatnonzero((image == 255).all(axis=2).all(axis=0))
    return None if not len(white) else int(white[-1])


def test_keys_split_view_and_quality_strip_in_the_editor(qtbot: Any, rendered_project: Path, artifacts_dir: Path,
                                                          tmp_path: Path) -> None:
    window = MainWindow(ProjectDocument.open(rendered_project))
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    ws = window.merge_workspace
    keys = ws.keys
    store = window.document.store
    clip = store.find_clip("lbax4n")
    assert "Merge ▸ Merged View" in ws.info.text()  # the hint names the menu the action is in
    window.frame_presenter.show_clip(clip.id, 10)
    qtbot.waitUntil(lambda: window.frame_presenter.frame == 10, timeout=5000)

    # Key erode at 10 with the key icon, then move the slider at 30: a keyed setting keys there.
    ws.panel.sliders["erode"].setValue(0)
    keys.key_buttons["erode"].click()
    assert [(k.frame, k.setting) for k in clip_keys(store, clip.id)] == [(10, "erode")]
    assert keys.key_buttons["erode"].text() == "◆"
    _wait_frame(qtbot, window, 30)
    assert keys.key_buttons["erode"].text() == "◈" and keys.key_buttons["blur"].text() == "◇"
    ws.panel.sliders["erode"].setValue(200)  # 20 %
    assert [(k.frame, k.value) for k in clip_keys(store, clip.id)] == [(10, 0.0), (30, 20.0)]
    _wait_frame(qtbot, window, 20)
    assert ws.panel.sliders["erode"].value() == 100  # the interpolated value, shown on the slider
    assert keys.keyed().at(20).erode == pytest.approx(10.0)
    assert keys.key_track.frames() == [10, 30]
    window.document.undo_stack.undo()  # one command per edit
    assert [k.frame for k in clip_keys(store, clip.id)] == [10]
    window.document.undo_stack.redo()
    assert keys.key_track.frames() == [10, 30]
    ws.panel.color.setCurrentText("mkl")
    keys.key_buttons["color"].click()  # an enum key: holds
    assert [(k.frame, k.value, k.interp) for k in clip_keys(store, clip.id) if k.setting == "color"] == [
        (20, "mkl", "hold")]
    assert keys.key_buttons["color"].text() == "◆"
    keys.key_buttons["color"].click()  # ◆ here: the click deletes it
    assert [k for k in clip_keys(store, clip.id) if k.setting == "color"] == []
    keys.move_key(30, 34)
    assert [k.frame for k in clip_keys(store, clip.id)] == [10, 34]
    keys.key_frame(60)  # keys the keyed settings at their values there
    assert [(k.frame, k.value) for k in clip_keys(store, clip.id) if k.frame == 60] == [(60, 20.0)]
    before = len(clip_keys(store, clip.id))
    keys._set_keys(99, {"erode": 1.0})
    assert len(clip_keys(store, clip.id)) == before and "outside clip" in window.statusBar().currentMessage()

    # Per-face override of the face selected in the frame view: wins over the keys; undoable.
    from engine.merge.overrides import clip_overrides

    face_id = window.frame_view.faces()[0].face_id
    window.frame_view.select_faces([face_id])
    ws.panel.sliders["blur"].setValue(123)
    ws.overrides.override_selected()
    assert clip_overrides(store, clip.id)[face_id]["blur"] == pytest.approx(12.3)
    assert keys.keyed().for_face(face_id, 20).blur == pytest.approx(12.3)
    window.document.undo_stack.undo()
    assert clip_overrides(store, clip.id) == {}

    # Merged view: "merging…" at once, then the frame.
    ws.merged_action.setChecked(True)
    assert ws.info.text() == "merging…" or ws._merged is not None
    qtbot.waitUntil(lambda: ws._merged is not None, timeout=60_000)
    # Split view divides at the face, and Alt+drag moves the divider.
    ws.split_action.setChecked(True)
    face = window.frame_view.faces()[0]
    width = window.frame_view.frame().shape[1]
    assert _divider_column(window.frame_view.frame()) == split_position([face.box], width)
    view = window.frame_view
    target = view.map_from_frame(QPointF(60.0, 100.0))
    for kind, buttons in ((QMouseEvent.Type.MouseButtonPress, Qt.MouseButton.LeftButton),
                          (QMouseEvent.Type.MouseButtonRelease, Qt.MouseButton.NoButton)):
        event = QMouseEvent(kind, target, view.mapToGlobal(target), Qt.MouseButton.LeftButton, buttons,
                            Qt.KeyboardModifier.AltModifier)
        QApplication.sendEvent(view, event)
    assert _divider_column(window.frame_view.frame()) == 60
    ws.divider.follow_face()
    assert _divider_column(window.frame_view.frame()) == split_position([face.box], width)
    ws.split_action.setChecked(False)

    # The quality strip: a real qa job on the render, worst frames listed, click to go there.
    with qtbot.waitSignal(window.engine.job_finished, timeout=240_000):
        assert keys.check_quality() is not None
    qtbot.waitUntil(lambda: keys.worst_list.count() > 0, timeout=10_000)
    assert len(keys._scores) == 40 and keys.quality_strip.badness_at(5) is not None
    item = keys.worst_list.item(0)
    keys._on_worst(item)
    qtbot.waitUntil(lambda: window.frame_presenter.frame == int(item.data(256)), timeout=5000)
    assert keys.export_csv(tmp_path / "qa.csv") == 40
    assert len((tmp_path / "qa.csv").read_text().splitlines()) == 41
    window.timeline.zoom_to(0.12, anchor_frame=0)
    QApplication.processEvents()
    assert window.timeline_dock.grab().save(str(artifacts_dir / "merge_keys_timeline.png"))
    assert keys.qa_box.grab().save(str(artifacts_dir / "merge_quality_panel.png"))
    assert window.grab().save(str(artifacts_dir / "merge_keys_window.png"))
    window.close()

    # Keys survive a reopen.
    again = MainWindow(ProjectDocument.open(rendered_project), start_engine=False)
    qtbot.addWidget(again)
    again.frame_presenter.show_clip(clip.id, 20)
    qtbot.waitUntil(lambda: again.frame_presenter.frame == 20, timeout=5000)
    assert again.merge_workspace.keys.key_track.frames() == [10, 34, 60]
    again.close()
