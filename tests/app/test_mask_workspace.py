"""The mask workspace on the extracted GRID project: the painter model with fake events
writing to the store, then the editor window (offscreen, engine not started): polygons by
clicks stored in frame pixels and identical after reopening, brush + undo through the
window's Undo, Ctrl+Z following the focus, navigation along a track with the timeline
following, copying a label through the alignments, prediction -> polygons, and XSeg
training and applying from the Masks menu with a tiny model trained here by the real job.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from app.document import ProjectDocument
from app.main_window import MainWindow
from app.presenters.grid_presenter import CropFiles
from app.presenters.mask_presenter import MaskedCropFiles
from engine.jobs.queue import JobQueue
from engine.jobs.worker import Worker
from engine.masks import repo
from engine.masks.hull import DEFAULT_FOREHEAD, hull_label
from engine.masks.propagate import carry_label
from engine.masks.raster import iou, rasterize
from engine.project.models import Face, Job
from engine.project.store import ProjectStore
from widgets.mask_painter import PainterFace, PainterModel
from widgets.mask_painter.geometry import frame_points
from widgets.mask_painter.model import move, press, release

if TYPE_CHECKING:
    from conftest import ExtractedProject

pytestmark = pytest.mark.gui

#: A tiny XSeg model: what the engine's own tests train, with fewer steps.
TINY_XSEG: dict[str, Any] = {
    "resolution": 128, "width": 8, "iterations": 30, "batch_size": 4, "lr": 3e-3, "holdout": 0.0,
    "eval_every": 30, "preview_every": 30, "save_every": 30, "seed": 0, "device": "cpu", "threads": 1,
    "name": "tiny",
}
SQUARE = [(0.3, 0.3), (0.7, 0.3), (0.7, 0.72), (0.3, 0.72)]


def run_job(root: Path, kind: str, params: dict[str, Any]) -> Job:
    """Queue a job and run it to its end in this process with the real worker."""
    with ProjectStore.open(root) as store:
        job = JobQueue(store).enqueue(kind, params)
    worker = Worker(root, only_job=job.id, log_to_stderr=False)
    worker.run()
    assert worker.last_job is not None and worker.last_job.state == "done", worker.last_job.error_text
    return worker.last_job


def track_faces(store: ProjectStore, clip: str = "bbaf2n") -> list[Face]:
    faces = [f for f in store.faces(clip_id=store.find_clip(clip).id, include_excluded=False)]
    track = faces[0].track_id
    return [f for f in faces if f.track_id == track]


@pytest.fixture(scope="module")
def xseg_root(tmp_path_factory: pytest.TempPathFactory, extracted_project: ExtractedProject) -> Path:
    """The GRID project with hull keyframes on every 15th face and a tiny XSeg model
    trained on them by the real ``train_xseg`` job (no predictions yet)."""
    root = extracted_project.copy(tmp_path_factory.mktemp("mask_ws"))
    with ProjectStore.open(root) as store:
        faces = store.faces(include_excluded=False)
        repo.set_labels(store, {f.id: hull_label(f.landmarks, forehead=DEFAULT_FOREHEAD) for f in faces[::15]})
    run_job(root, "train_xseg", TINY_XSEG)
    return root


@pytest.fixture
def open_window(qtbot):
    windows: list[MainWindow] = []

    def make(root: Path) -> MainWindow:
        window = MainWindow(ProjectDocument.open(root), start_engine=False)
        window.engine.ensure_engine = lambda **_kw: None  # jobs stay queued: no engine process
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for w in windows:
        w.close()


def paint(window: MainWindow, face_id: int):
    """Show ``face_id`` in the painter (as Edit Masks does for the grid's selection)."""
    ws = window.mask_workspace
    window.faces_panel.grid.select_faces([face_id])
    ws.actions.edit_masks.trigger()
    canvas = ws.panel.canvas
    assert canvas.face_id == face_id and ws.dock.isVisible()
    return ws, canvas


def click_polygon(canvas, points) -> list[tuple[float, float]]:
    """Click ``points`` (fractions of the crop) and the first again; the crop points hit."""
    size = canvas.model.face.size
    hit = []
    for fx, fy in [*points, points[0]]:
        pos = canvas.map_from_crop(fx * size, fy * size).toPoint()
        QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        hit.append(canvas.map_to_crop(QPointF(pos)))
    return hit[:-1]


def brush_stroke(canvas) -> None:
    size = canvas.model.face.size
    canvas.set_tool("brush")
    at = [canvas.map_from_crop((0.2 + 0.05 * i) * size, 0.85 * size - 3 * i).toPoint() for i in range(12)]
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[0])
    for pos in at[1:]:
        QTest.mouseMove(canvas, pos)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[-1])


# ---------------------------------------------------------------------------- no window
def test_fake_events_on_the_model_give_the_label_stored_in_frame_pixels(extracted_copy: Path) -> None:
    with ProjectStore.open(extracted_copy) as store:
        face = track_faces(store)[5]
        matrix = repo.crop_matrix(face)
        model = PainterModel()
        model.set_face(PainterFace(face.id, None, matrix, face.crop_size, 16, None, None, face.landmarks))
        s = face.crop_size
        pts = [(x * s, y * s) for x, y in SQUARE]
        for x, y in pts:
            model.handle(press(x, y))
            model.handle(release(x, y))
        edit = model.handle(press(*pts[0]))
        repo.set_label(store, face.id, edit.label, text=edit.text)
        stored = repo.get_label(store, face.id)
        assert stored == edit.label
        np.testing.assert_allclose(stored.shapes[0].points, frame_points(pts, face.alignment), atol=1e-3)
        model.set_tool("eraser")
        model.handle(press(0.5 * s, 0.5 * s))
        model.handle(move(0.55 * s, 0.6 * s, "left"))
        edit = model.handle(release(0.6 * s, 0.62 * s))
        changes = repo.set_label(store, face.id, edit.label, text=edit.text)
        stored = repo.get_label(store, face.id)
        assert [sh.type for sh in stored.shapes] == ["polygon", "stroke"]
        assert np.array_equal(rasterize(stored, matrix, s), model.raster[16:16 + s, 16:16 + s])
        store.apply(changes.inverse())
        assert repo.get_label(store, face.id) == stored.without(-1)


# ---------------------------------------------------------------------------- the window
def test_polygon_by_clicks_is_stored_in_frame_pixels_and_renders_the_same_after_reopening(
        qtbot, open_window, extracted_copy: Path) -> None:
    window = open_window(extracted_copy)
    with ProjectStore.open(extracted_copy) as store:
        face = track_faces(store)[10]
    ws, canvas = paint(window, face.id)
    hit = click_polygon(canvas, SQUARE)
    store = window.document.store
    label = repo.get_label(store, face.id)
    assert label is not None and len(label) == 1 and label.shapes[0].kind == "include"
    np.testing.assert_allclose(label.shapes[0].points, frame_points(hit, face.alignment), atol=1e-3)
    shown = canvas.model.raster.copy()
    m, s = canvas.model.face.margin, face.crop_size
    assert np.array_equal(shown[m:m + s, m:m + s], rasterize(label, face.alignment, s))
    # The timeline shows the keyframe; the grid flags the face; one painter undo step.
    track = next(t for t in window.timeline.tracks() if t.clip_id == face.clip_id)
    assert face.frame in track.keyframes
    table = window.faces_panel.grid.table()
    assert table.has_mask[table.rows_of(np.array([face.id]))[0]]
    assert ws.presenter.undo_stack.count() == 1 and ws.presenter.undo_stack.undoText() == "Add include polygon"
    window.close()

    again = open_window(extracted_copy)
    _, canvas2 = paint(again, face.id)
    assert repo.get_label(again.document.store, face.id) == label
    assert np.array_equal(canvas2.model.raster, shown)


def test_brush_stroke_and_undo_restore_the_mask_exactly_and_ctrl_z_follows_focus(
        qtbot, open_window, extracted_copy: Path) -> None:
    window = open_window(extracted_copy)
    with ProjectStore.open(extracted_copy) as store:
        faces = track_faces(store)
    ws, canvas = paint(window, faces[20].id)
    ws.actions.fill_hull.trigger()
    store = window.document.store
    before, before_raster = repo.get_label(store, faces[20].id), canvas.model.raster.copy()
    brush_stroke(canvas)
    after = repo.get_label(store, faces[20].id)
    assert after != before and after.shapes[-1].type == "stroke"
    assert ws.presenter.undo_stack.count() == 2
    # A document edit with the grid focused: Ctrl+Z there undoes it, not the stroke.
    window.faces_panel.grid.setFocus()
    qtbot.waitUntil(lambda: ws.undo_group.activeStack() is window.document.undo_stack, timeout=2000)
    window.document.execute("Exclude faces", lambda st: st.set_excluded([faces[30].id], True))
    assert window.actions.undo.text() == "&Undo Exclude 1 face"
    window.actions.undo.trigger()
    assert not store.face(faces[30].id).excluded and repo.get_label(store, faces[20].id) == after
    # In the painter it undoes the stroke: label and pixels exactly as before.
    canvas.setFocus()
    qtbot.waitUntil(lambda: ws.undo_group.activeStack() is ws.presenter.undo_stack, timeout=2000)
    assert window.actions.undo.text() == "&Undo Brush stroke"
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert repo.get_label(store, faces[20].id) == before
    assert np.array_equal(canvas.model.raster, before_raster)
    window.actions.redo.trigger()
    assert repo.get_label(store, faces[20].id) == after
    # Undo of a step on another face brings that face back on screen.
    ws.actions.next_face.trigger()
    assert canvas.face_id == faces[21].id
    window.actions.undo.trigger()
    assert canvas.face_id == faces[20].id and repo.get_label(store, faces[20].id) == before


def test_track_navigation_copy_to_next_and_keyframe_jumps(qtbot, open_window, extracted_copy: Path) -> None:
    window = open_window(extracted_copy)
    with ProjectStore.open(extracted_copy) as store:
        faces = track_faces(store)
    ws, canvas = paint(window, faces[3].id)
    canvas.setFocus()
    qtbot.waitUntil(canvas.hasFocus, timeout=2000)
    QTest.keyClick(canvas, Qt.Key.Key_D)
    assert canvas.face_id == faces[4].id
    qtbot.waitUntil(lambda: window.frame_presenter.frame == faces[4].frame, timeout=5000)
    QTest.keyClick(canvas, Qt.Key.Key_A)
    assert canvas.face_id == faces[3].id
    ws.actions.fill_hull.trigger()
    QTest.keyClick(canvas, Qt.Key.Key_C)  # copy to the next face, which is shown
    store = window.document.store
    assert canvas.face_id == faces[4].id
    src_label = repo.get_label(store, faces[3].id)
    assert repo.get_label(store, faces[4].id) == carry_label(src_label, faces[3], faces[4])
    for _ in range(5):
        ws.actions.next_face.trigger()
    assert canvas.face_id == faces[9].id
    QTest.keyClick(canvas, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert canvas.face_id == faces[4].id
    QTest.keyClick(canvas, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert canvas.face_id == faces[3].id
    QTest.keyClick(canvas, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert canvas.face_id == faces[4].id
    track = next(t for t in window.timeline.tracks() if t.clip_id == faces[3].clip_id)
    assert {faces[3].frame, faces[4].frame} <= set(track.keyframes.tolist())
    QTest.keyClick(canvas, Qt.Key.Key_Delete, Qt.KeyboardModifier.ControlModifier)  # Remove Mask
    assert repo.get_label(store, faces[4].id) is None and not canvas.model.keyframe
    track = next(t for t in window.timeline.tracks() if t.clip_id == faces[3].clip_id)
    assert faces[4].frame not in set(track.keyframes.tolist())
    # The painter follows a face picked in the frame view or the grid.
    window.frame_view.selection_changed.emit(np.array([faces[12].id]))
    assert canvas.face_id == faces[12].id
    ws.presenter.wait()
    qtbot.waitUntil(lambda: canvas.model.face is not None, timeout=2000)


def test_xseg_from_the_editor_train_queue_apply_and_predicted_to_polygons(
        qtbot, open_window, tmp_path: Path, xseg_root: Path) -> None:
    root = tmp_path / xseg_root.name
    shutil.copytree(xseg_root, root)
    window = open_window(root)
    store = window.document.store
    model_id = store.models("xseg")[0].id
    # Train XSeg on Keyframes… : the job kind's form, continuing the model; queued as a row.
    window.mask_workspace.actions.train_xseg.trigger()
    dialog = window.mask_workspace.last_dialog
    assert dialog is not None and dialog.kind == "train_xseg"
    dialog.form.set_value("iterations", 50)
    dialog.accept()
    job = max(JobQueue(store).jobs(), key=lambda j: j.id)
    assert (job.kind, job.state, job.params["model"], job.params["iterations"]) == ("train_xseg", "queued",
                                                                                    model_id, 50)
    assert job.id in window.jobs_view.job_ids()
    JobQueue(store).cancel(job.id)
    # The training preview of the fixture's job is in the XSeg Preview dock.
    trained = next(j for j in JobQueue(store).jobs() if j.kind == "train_xseg" and j.state == "done")
    window.engine.jobs_changed.emit([trained])
    assert window.mask_workspace.preview.has_preview()
    # Apply XSeg… queues for the clip on screen; here the job runs in this process and the
    # painter and grid pick the predictions up from its change set.
    faces = track_faces(store)
    ws, canvas = paint(window, faces[7].id)
    assert canvas.model.predicted is None
    window.mask_workspace.actions.apply_xseg.trigger()
    apply = window.mask_workspace.last_dialog
    assert apply.kind == "apply_xseg" and apply.params == {}
    apply.reject()
    run_job(root, "apply_xseg", {"model": model_id, "clips": ["bbaf2n"], "device": "cpu", "threads": 1})
    qtbot.waitUntil(lambda: canvas.model.predicted is not None, timeout=10_000)
    assert ws.actions.grid_masks.isChecked()
    # The grid's thumbnails now darken what is outside each face's mask.
    plain = CropFiles(root).load(faces[8].id).astype(np.float32)
    masked = MaskedCropFiles(root).load(faces[8].id).astype(np.float32)
    s = plain.shape[0]
    corner = masked[:8, :8].mean() / plain[:8, :8].mean()  # outside the face
    centre = masked[s // 2 - 4:s // 2 + 4, s // 2 - 4:s // 2 + 4].mean() / plain[s // 2 - 4:s // 2 + 4,
                                                                              s // 2 - 4:s // 2 + 4].mean()
    assert corner < 0.75 and centre > corner + 0.2
    # Predicted -> polygons -> raster keeps the prediction (IoU >= 0.97), as one undo step.
    ws.actions.predicted_to_polygons.trigger()
    label = repo.get_label(store, faces[7].id)
    assert label is not None and all(s.type == "polygon" for s in label.shapes)
    predicted = canvas.model.predicted
    matrix = canvas.model.face.matrix
    assert iou(rasterize(label, matrix, canvas.model.face.size), predicted) >= 0.97
    assert ws.presenter.undo_stack.undoText() == "Predicted mask to polygons"


def test_masks_menu_and_help_list_the_keys(open_window, extracted_copy: Path) -> None:
    window = open_window(extracted_copy)
    ws = window.mask_workspace
    texts = [a.text() for a in ws.menu.actions()]
    for name in ("&Include Polygon", "E&xclude Polygon", "&Brush", "&Eraser", "Fill from &Hull",
                 "&Copy Mask to Next Face", "Predicted → &Polygons", "&Train XSeg on Keyframes…", "&Apply XSeg…"):
        assert name in texts
    keys = dict(ws.panel.canvas.help.rows())
    assert keys["Q"] == "Include Polygon" and keys["W"] == "Exclude Polygon"
    assert keys["E"] == "Brush" and keys["R"] == "Eraser"
    assert keys["A"] == "Previous Face" and keys["Ctrl+D"] == "Next Keyframe"
    edit = next(m.menu() for m in window.menuBar().actions() if m.menu() is not None and m.text() == "&Edit")
    assert window.actions.undo in edit.actions() and window.actions.undo.shortcut().toString() == "Ctrl+Z"
    assert ws.menu.menuAction() in window.menuBar().actions()
    # The painter's keys work only in the painter: the grid keeps its own.
    assert ws.actions.include.shortcutContext() == Qt.ShortcutContext.WidgetWithChildrenShortcut
