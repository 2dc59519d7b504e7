"""Connects the mask painter to the document: which face it shows, and where its edits go.

- **Showing a face** builds a :class:`~widgets.mask_painter.PainterFace` from the store on
  the main thread (row, label, the latest XSeg prediction warped into the painter's crop)
  and shows it at once. The picture (the frame warped around the crop) is decoded in a
  background thread; until it arrives the face's crop file stands in. The faces before
  and after on the track are decoded ahead, so A/D show a face with its picture at once.
- **Edits**: every committed step of the painter is written through
  :func:`engine.masks.repo.set_label` right away (nothing to save, nothing lost on a
  crash) and pushed as one command on the painter's own undo stack, which the workspace
  joins to the document's in a ``QUndoGroup``. Undo and redo of a step show its face.
- **Refresh** follows the document's change sets: a label or prediction of the face on
  screen that changed elsewhere (undo, a job) is shown; the timeline's keyframe markers
  and the grid's flags refresh in their own presenters from the same change sets.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Final

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from app.background import TaskRunner
from app.commands.change_command import ChangeSetCommand
from app.document import ProjectDocument
from app.presenters.grid_presenter import CropFiles
from engine.errors import FacesmithError
from engine.masks import repo
from engine.masks.propagate import carry_label
from engine.masks.raster import rasterize, warp_mask
from engine.masks.shapes import LabelMask
from engine.media import FrameReader
from engine.project.images import open_reader
from engine.project.changes import ChangeSet
from engine.project.models import Face
from engine.project.store import ProjectStore
from widgets.mask_painter import MaskPainterPanel, PainterFace
from widgets.mask_painter.geometry import canvas_picture

#: Pictures kept decoded (the faces around the current one on its track).
PICTURE_CACHE: Final = 12
#: Faces decoded ahead on each side of the current one.
PREFETCH: Final = 2


def margin_of(size: int) -> int:
    """Frame shown around a crop: a quarter of its side on every side."""
    return size // 4


class PainterCommand(ChangeSetCommand):
    """A painter step (already written to the store) on the painter's undo stack; undo
    and redo first bring its face on screen, so the user sees what they undo."""

    def __init__(self, presenter: MaskPresenter, changes: ChangeSet, face_id: int) -> None:
        super().__init__(presenter.document, changes)
        self._presenter = presenter
        self.face_id = face_id

    def redo(self) -> None:
        if self._pushed:
            self._presenter.reveal(self.face_id)
        super().redo()

    def undo(self) -> None:
        self._presenter.reveal(self.face_id)
        super().undo()


class MaskPresenter(QObject):
    """Owns the face on the painter and the painter's undo stack.

    Signals
    -------
    face_shown(int) : the painter now shows this face (the workspace moves the timeline,
        frame view and grid to it).
    message(str) : something to say in the status bar.
    """

    face_shown = Signal(int)
    message = Signal(str)

    def __init__(self, document: ProjectDocument, panel: MaskPainterPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.panel = panel
        self.canvas = panel.canvas
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(500)
        self.face: Face | None = None
        self.face_type: str | None = None  # None: the face's own
        self.active = False
        self._pending: int | None = None
        self._tracks: dict[tuple[int, int | None], list[tuple[int, bool]]] = {}
        self._pictures: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._readers: dict[int, FrameReader] = {}
        self._crops = CropFiles(document.root)
        self._loader = TaskRunner(self, threads=1)
        self._loader.finished.connect(self._on_picture)
        self._loader.failed.connect(lambda _key, text: self.message.emit(text.strip().splitlines()[-1]))
        self._closed = False
        self.canvas.label_committed.connect(self._on_committed)
        panel.face_type_changed.connect(self.set_face_type)
        document.changed.connect(self.on_changed)

    # ------------------------------------------------------------------ showing a face
    def set_active(self, active: bool) -> None:
        """The painter is on screen (or not): while hidden, requests only remember the face."""
        self.active = bool(active)
        if self.active and self._pending is not None:
            pending, self._pending = self._pending, None
            if self.face is None or self.face.id != pending:
                self.show_face(pending)

    def show_face(self, face_id: int, *, reveal: bool = True) -> bool:
        """Show ``face_id`` in the painter; with ``reveal`` the other views follow it."""
        if self._closed:
            return False
        if not self.active:
            self._pending = int(face_id)
            return False
        try:
            face = self.document.store.face(int(face_id))
        except FacesmithError as exc:
            self.message.emit(str(exc))
            return False
        self.face = face
        self.canvas.set_face(self.painter_face(face))
        self._update_title()
        self._prefetch(face)
        if reveal:
            self.face_shown.emit(face.id)
        return True

    def reveal(self, face_id: int) -> None:
        """Bring ``face_id`` on screen if it is not (an undo of a step on another face)."""
        if self.face is None or self.face.id != face_id:
            was_active = self.active
            self.active = True
            self.show_face(face_id)
            self.active = was_active

    def painter_face(self, face: Face) -> PainterFace:
        """What the painter needs of ``face``: crop geometry, label, prediction, picture."""
        store = self.document.store
        size = face.crop_size
        matrix = repo.crop_matrix(face, self.face_type, size)
        margin = margin_of(size)
        return PainterFace(face.id, self._picture(face, matrix, size, margin), matrix, size, margin,
                           repo.get_label(store, face.id), self._prediction(face, matrix, size),
                           np.asarray(face.landmarks, dtype=np.float64))

    def _prediction(self, face: Face, matrix: np.ndarray, size: int) -> np.ndarray | None:
        pred = repo.get_prediction(self.document.store, face.id)
        if pred is None:
            return None
        src = repo.crop_matrix(face, pred.face_type, pred.resolution)
        return warp_mask(pred.mask, src, matrix, size)

    def set_face_type(self, name: str) -> None:
        """View the crop in another face type (``""``: the face's own)."""
        self.face_type = name or None
        if self.face is not None:
            self.canvas.fit()  # another framing: start fitted
            self.show_face(self.face.id, reveal=False)

    def _update_title(self) -> None:
        face = self.face
        if face is None:
            self.panel.set_title("No face")
            return
        clip = self.document.store.clip(face.clip_id)
        ids = self._track(face)
        where = f"{ids.index(face.id) + 1}/{len(ids)}" if face.id in ids else "–"
        track = "no track" if face.track_id is None else f"track {face.track_id}"
        state = "keyframe" if self.canvas.model.keyframe else "no label"
        pred = "prediction" if self.canvas.model.predicted is not None else "no prediction"
        self.panel.set_title(f"face {face.id} · {clip.name} frame {face.frame} · {track} {where} · {state} · {pred}")

    # ------------------------------------------------------------------ pictures
    def _key(self, face: Face, size: int) -> tuple:
        return (face.id, self.face_type, size, np.asarray(face.alignment, np.float64).tobytes())

    def _picture(self, face: Face, matrix: np.ndarray, size: int, margin: int) -> np.ndarray | None:
        key = self._key(face, size)
        cached = self._pictures.get(key)
        if cached is not None:
            self._pictures.move_to_end(key)
            return cached
        self._request(face, key, matrix, size, margin)
        return self._stand_in(face, size, margin)

    def _stand_in(self, face: Face, size: int, margin: int) -> np.ndarray | None:
        """The crop file in the middle of a black canvas, while the frame decodes."""
        if self.face_type not in (None, face.face_type) or size != face.crop_size:
            return None
        try:
            crop = self._crops.load(face.id)
        except (OSError, ValueError):
            return None
        if crop.shape[:2] != (size, size):
            return None
        out = np.zeros((size + 2 * margin, size + 2 * margin, 3), np.uint8)
        out[margin:margin + size, margin:margin + size] = crop
        return out

    def _request(self, face: Face, key: tuple, matrix: np.ndarray, size: int, margin: int) -> None:
        reader = self._reader(face.clip_id)
        if reader is None:
            return
        frame = face.frame
        self._loader.submit(key, lambda: canvas_picture(reader.read(frame), matrix, size, margin))

    def _reader(self, clip_id: int) -> FrameReader | None:
        if clip_id not in self._readers:
            clip = self.document.store.clip(clip_id)
            if clip.missing:
                return None
            try:
                self._readers[clip_id] = open_reader(self.document.store, clip)  # type: ignore[assignment]
            except FacesmithError as exc:
                self.message.emit(str(exc))
                return None
        return self._readers[clip_id]

    def _on_picture(self, key: tuple, image: np.ndarray) -> None:
        if self._closed:
            return
        self._pictures[key] = image
        while len(self._pictures) > PICTURE_CACHE:
            self._pictures.popitem(last=False)
        face = self.face
        if face is not None and key == self._key(face, face.crop_size):
            self.canvas.set_picture(face.id, image)

    def _prefetch(self, face: Face) -> None:
        ids = self._track(face)
        if face.id not in ids:
            return
        i = ids.index(face.id)
        near = [ids[j] for j in (*range(i + 1, i + 1 + PREFETCH), *range(i - 1, i - 1 - PREFETCH, -1))
                if 0 <= j < len(ids)]
        if not near:
            return
        for other in self.document.store.faces(ids=near):
            size = other.crop_size
            key = self._key(other, size)
            if key not in self._pictures:
                self._request(other, key, repo.crop_matrix(other, self.face_type, size), size, margin_of(size))

    def wait(self, msecs: int = 5000) -> bool:
        """Wait for the background decodes (tests, benchmarks)."""
        return self._loader.wait(msecs)

    # ------------------------------------------------------------------ navigation
    def _track(self, face: Face) -> list[int]:
        """The faces of ``face``'s track in frame order (a face without a track: the clip's
        untracked faces); excluded faces are left out, except ``face`` itself."""
        key = (face.clip_id, face.track_id)
        rows = self._tracks.get(key)
        if rows is None:
            rows = self._tracks[key] = [(r[0], bool(r[1])) for r in self.document.store.query(
                "SELECT id, excluded FROM faces WHERE clip_id = ? AND track_id IS ? ORDER BY frame, idx",
                (face.clip_id, face.track_id))]
        return [i for i, excluded in rows if not excluded or i == face.id]

    def step_face(self, step: int) -> bool:
        """Show the next (``step`` > 0) or previous face of the track."""
        face = self.face
        if face is None:
            return False
        ids = self._track(face)
        i = ids.index(face.id) if face.id in ids else -1
        j = i + step
        if i < 0 or not 0 <= j < len(ids):
            self.message.emit(f"{'last' if step > 0 else 'first'} face of the track")
            return False
        return self.show_face(ids[j])

    def step_keyframe(self, step: int) -> bool:
        """Show the next (``step`` > 0) or previous keyframe of the track."""
        face = self.face
        if face is None:
            return False
        rows = self.document.store.query(
            "SELECT f.id, f.frame FROM faces f JOIN masks m ON m.face_id = f.id AND m.kind = 'label' "
            "WHERE f.clip_id = ? AND f.track_id IS ? ORDER BY f.frame, f.idx", (face.clip_id, face.track_id))
        after = [r[0] for r in rows if r[1] > face.frame] if step > 0 else [r[0] for r in rows if r[1] < face.frame]
        if not after:
            self.message.emit(f"no {'next' if step > 0 else 'previous'} keyframe on this track")
            return False
        return self.show_face(after[0] if step > 0 else after[-1])

    def follow_frame(self, clip_id: int, frame: int) -> None:
        """The timeline moved to ``frame``: show the face of the current track there."""
        face = self.face
        if face is None or not self.active or (face.clip_id, face.frame) == (clip_id, frame):
            return
        there = self.document.store.faces(clip_id=clip_id, frames=(frame, frame + 1), include_excluded=False)
        if not there:
            return
        same = [f for f in there if face.track_id is not None and f.track_id == face.track_id and f.clip_id == face.clip_id]
        self.show_face((same or there)[0].id, reveal=False)

    # ------------------------------------------------------------------ edits
    def _on_committed(self, label: LabelMask | None, text: str) -> None:
        face = self.face
        if face is None or self.canvas.face_id != face.id:
            return
        try:
            changes = repo.set_label(self.document.store, face.id, label, text=text)
        except FacesmithError as exc:
            self.message.emit(str(exc))
            self.canvas.set_label(repo.get_label(self.document.store, face.id))
            return
        if changes.rows:
            self.undo_stack.push(PainterCommand(self, changes, face.id))
        self._update_title()

    def copy_to_next(self) -> bool:
        """Copy this face's label to the next face of the track, moved through both
        alignments (one step), and show that face."""
        face = self.face
        if face is None:
            return False
        label = repo.get_label(self.document.store, face.id)
        if label is None:
            self.message.emit("this face has no mask to copy")
            return False
        ids = self._track(face)
        i = ids.index(face.id) if face.id in ids else -1
        if i < 0 or i + 1 >= len(ids):
            self.message.emit("last face of the track: no next face to copy the mask to")
            return False
        target = self.document.store.face(ids[i + 1])
        changes = repo.set_label(self.document.store, target.id, carry_label(label, face, target),
                                 text="Copy mask to next face")
        if changes.rows:
            self.undo_stack.push(PainterCommand(self, changes, target.id))
        return self.show_face(target.id)

    # ------------------------------------------------------------------ refresh
    def on_changed(self, changes: ChangeSet) -> None:
        face = self.face
        if self._closed or face is None:
            return
        store = self.document.store
        if changes.touches("faces", "clips"):
            self._tracks.clear()
            ids = changes.ids("faces")
            if ids is None or face.id in ids or changes.touches("clips"):
                try:
                    fresh = store.face(face.id)
                except FacesmithError:
                    self.face = None
                    self.canvas.set_face(None)
                    self.panel.set_title("No face")
                    return
                if not np.array_equal(fresh.alignment, face.alignment) or not np.array_equal(
                        fresh.landmarks, face.landmarks):
                    self.face = fresh
                    self.canvas.set_face(self.painter_face(fresh))
                self.face = fresh
        if changes.touches("masks"):
            label = repo.get_label(store, face.id)
            model = self.canvas.model
            if label != (model.label if model.keyframe else None):
                self.canvas.set_label(label)
            if "masks" in changes.touched and model.face is not None:
                self.canvas.set_predicted(self._prediction(face, model.face.matrix, model.face.size))
            self._update_title()

    def close(self) -> None:
        self._closed = True
        self._loader.wait(5000)
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()
        self.undo_stack.clear()


class MaskedCropFiles:
    """The face grid's thumbnails with the face's mask shown: outside the label (or,
    with none, outside the latest XSeg prediction) is darkened.

    ``load`` runs in the grid's worker threads, so each thread reads through its own
    read-only connection (SQLite in WAL mode lets them read while the editor writes).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._crops = CropFiles(root)
        self._local = threading.local()

    def _store(self) -> ProjectStore:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = ProjectStore.open(self.root, readonly=True)
        return store

    def load(self, face_id: int) -> np.ndarray:
        image = self._crops.load(face_id)
        store = self._store()
        face = store.face(int(face_id))
        label = repo.get_label(store, face.id)
        mask: np.ndarray | None = None
        if label is not None:
            mask = rasterize(label, face.alignment, face.crop_size)
        else:
            pred = repo.get_prediction(store, face.id)
            if pred is not None:
                src = repo.crop_matrix(face, pred.face_type, pred.resolution)
                mask = warp_mask(pred.mask, src, face.alignment, face.crop_size)
        if mask is None:
            return image
        if mask.shape != image.shape[:2]:
            mask = cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        weight = 0.3 + 0.7 * (mask.astype(np.float32) / 255.0)
        return (image.astype(np.float32) * weight[..., None]).astype(np.uint8)
