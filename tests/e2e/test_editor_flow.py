"""End to end: a new project, two clips, extraction by the real engine, curation with undo, reopen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.document import ProjectDocument
from app.main_window import MainWindow
from engine.project.store import ProjectStore

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def test_extract_curate_undo_reopen(qtbot, tmp_path: Path, sample_clips: dict[str, Path], artifacts_dir: Path) -> None:
    root = ProjectStore.create(tmp_path / "Flow").root
    window = MainWindow(ProjectDocument.open(root))
    qtbot.addWidget(window)
    window.show()
    window.add_clips([str(sample_clips["bbaf2n"])], "src")
    window.add_clips([str(sample_clips["lbax4n"])], "dst")
    assert window.browser.ids("clip") and len(window.browser.ids("clip")) == 2

    # Extract… : the dialog queues the job; the real engine process runs it.
    dialog = window.extract_dialog()
    dialog.form.set_value("clips", [])
    with qtbot.waitSignal(window.engine.job_finished, timeout=120_000):
        dialog.accept()
    grid = window.faces_panel.grid
    qtbot.waitUntil(lambda: grid.counts() == (150, 150), timeout=10_000)
    tracks = window.timeline.tracks()
    assert [int(t.face_counts.sum()) for t in tracks] == [75, 75]
    assert len(window.browser.ids("person")) == 2

    # Exclude 3 faces with Delete in the grid: one undo step.
    ids = grid.shown_ids()[:3]
    grid.select_faces(ids)
    grid.setFocus()
    qtbot.keyClick(grid, Qt.Key.Key_Delete)
    store = window.document.store
    assert int(store.scalar("SELECT count(*) FROM faces WHERE excluded = 1")) == 3
    assert window.actions.undo.text() == "&Undo Exclude 3 faces"
    assert grid.table().excluded[np.isin(grid.table().id, ids)].all()
    assert int(window.timeline.tracks()[0].face_counts.sum()) == 72
    window.actions.undo.trigger()
    assert int(store.scalar("SELECT count(*) FROM faces WHERE excluded = 1")) == 0
    assert not grid.table().excluded.any()
    window.actions.redo.trigger()
    assert int(store.scalar("SELECT count(*) FROM faces WHERE excluded = 1")) == 3
    assert window.grab().save(str(artifacts_dir / "editor_after_extraction.png"))
    window.close()

    # Reopen: the state is kept.
    again = MainWindow(ProjectDocument.open(root), start_engine=False)
    qtbot.addWidget(again)
    assert again.faces_panel.grid.counts()[1] == 150
    assert int(again.faces_panel.grid.table().excluded.sum()) == 3
    assert sorted(int(i) for i in again.faces_panel.grid.table().id[again.faces_panel.grid.table().excluded]) == sorted(
        int(i) for i in ids)
    again.close()


def test_grid_and_frame_view_selection_follow_each_other(qtbot, tmp_path: Path, extracted_project) -> None:
    root = extracted_project.copy(tmp_path)
    window = MainWindow(ProjectDocument.open(root), start_engine=False)
    qtbot.addWidget(window)
    window.show()
    grid = window.faces_panel.grid
    face_id = int(grid.shown_ids()[10])
    face = window.document.store.face(face_id)
    qtbot.waitUntil(lambda: window.frame_presenter.frame == 0, timeout=5000)  # the first clip is shown
    grid.face_activated.emit(face_id)  # double-click in the grid
    qtbot.waitUntil(lambda: window.frame_presenter.frame == face.frame, timeout=5000)
    assert list(window.frame_view.selected_ids()) == [face_id] and window.timeline.frame() == face.frame
    assert [f.face_id for f in window.frame_view.faces()] == [face_id]
    # Frame view -> grid
    window.frame_view.select_faces([])
    window.frame_view.selection_changed.emit(np.array([face_id]))
    assert list(grid.selected_ids()) == [face_id]
    window.close()


def test_face_graph_and_person_actions(qtbot, tmp_path: Path, extracted_project, monkeypatch) -> None:
    from PySide6.QtWidgets import QInputDialog

    root = extracted_project.copy(tmp_path)
    window = MainWindow(ProjectDocument.open(root), start_engine=False)
    qtbot.addWidget(window)
    graph = window.face_graph
    assert graph.shown_role_counts() == {"src": 150, "dst": 150}
    assert 0.0 <= window.curation.scores["pose"] <= 1.0
    # Graph selection reaches the grid.
    some = graph.shown_ids()[:4]
    graph.selection_changed.emit(some)
    assert sorted(window.faces_panel.grid.selected_ids()) == sorted(some)
    # Keep only one person, within its role and clip: a dst clip with two persons (the
    # second split off from its faces) keeps one; the others are "not swapped", src and
    # the training set untouched; confirmed first, one undo step.
    from PySide6.QtWidgets import QMessageBox

    store = window.document.store
    clip = store.find_clip("lbax4n")
    faces = store.faces(clip_id=clip.id)
    person = faces[0].person_id
    window.curation.split_faces([f.id for f in faces[:30]], "Stand-in")
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda _p, _t, text, *a, **k: asked.append(text) or QMessageBox.StandardButton.Yes)
    window.browser.setCurrentItem(window.browser.item_for("person", person))
    window.actions.keep_person.trigger()
    assert asked and "Exclude 30 faces of 1 other dst person from the swap" in asked[0] and "src untouched" in asked[0]
    assert int(store.scalar("SELECT count(*) FROM faces WHERE swap_excluded = 1")) == 30
    assert int(store.scalar("SELECT count(*) FROM faces WHERE excluded = 1")) == 0
    window.actions.undo.trigger()
    assert int(store.scalar("SELECT count(*) FROM faces WHERE swap_excluded = 1")) == 0
    # Best faces: on the src training set; dst untouched.
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("src training set", True))
    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (40, True))
    window.actions.keep_best.trigger()
    counts = dict(store.query("SELECT c.role, count(*) FROM faces f JOIN clips c ON c.id = f.clip_id "
                              "WHERE f.excluded = 0 GROUP BY c.role"))
    assert counts == {"src": 40, "dst": 150}
    window.close()


def test_landmark_edit_copy_reset_and_undo(qtbot, tmp_path: Path, extracted_project) -> None:
    root = extracted_project.copy(tmp_path)
    window = MainWindow(ProjectDocument.open(root), start_engine=False)
    qtbot.addWidget(window)
    store = window.document.store
    clip = store.find_clip("lbax4n")
    face = store.faces(clip_id=clip.id, frames=(20, 21))[0]
    crop_file = root / face.crop_path
    crop_before = crop_file.read_bytes()
    window.frame_presenter.show_clip(clip.id, 20)
    qtbot.waitUntil(lambda: window.frame_presenter.frame == 20, timeout=5000)
    moved = face.landmarks.copy()
    moved[[55, 56, 57, 58, 59, 65, 66, 67]] += (0.0, 6.0)  # drag the lower lip down 6 px
    window.frame_view.landmarks_edited.emit(face.id, moved)
    edited = store.face(face.id)
    np.testing.assert_allclose(edited.landmarks, moved, atol=1e-4)
    assert crop_file.read_bytes() != crop_before and edited.mouth_open > face.mouth_open
    assert window.actions.undo.text().startswith("&Undo Edit landmarks")
    window.actions.undo.trigger()
    np.testing.assert_allclose(store.face(face.id).landmarks, face.landmarks)
    import cv2

    restored = cv2.imdecode(np.frombuffer(crop_file.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    original = cv2.imdecode(np.frombuffer(crop_before, np.uint8), cv2.IMREAD_COLOR)
    assert np.abs(restored.astype(int) - original.astype(int)).mean() < 2.0  # the crop follows the undo
    # Copy from the previous frame, then reset from the detector: each one undo step.
    window.frame_view.copy_landmarks_requested.emit(face.id, -1)
    prev = store.faces(clip_id=clip.id, frames=(19, 20))[0]
    np.testing.assert_allclose(store.face(face.id).landmarks, prev.landmarks, atol=1e-4)
    window.frame_view.reset_landmarks_requested.emit(face.id)
    np.testing.assert_allclose(store.face(face.id).landmarks, face.landmarks, atol=1.0)
    window.close()
