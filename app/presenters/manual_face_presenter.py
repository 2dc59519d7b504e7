"""Faces by hand in the frame view: a dragged box becomes a face, "Track this face"
follows one into the neighbouring frames. Each is one undoable command of the document.

The fitting (face mesh in the box, alignment, crop) takes a fraction of a second per
frame, so it runs on the GUI thread inside the command like the landmark edits do; a
track over a few hundred frames shows a busy cursor meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QApplication

from engine.errors import FacesmithError

if TYPE_CHECKING:
    from app.presenters.frame_presenter import FramePresenter


class ManualFacePresenter(QObject):
    """Connects the frame view's ``face_box_drawn`` / ``track_face_requested`` to the engine."""

    def __init__(self, frames: FramePresenter) -> None:
        super().__init__(frames)
        self.frames = frames
        frames.view.face_box_drawn.connect(self.add_face)
        frames.view.track_face_requested.connect(self.track_face)

    def add_face(self, box: tuple[float, float, float, float]) -> None:
        """Add the face in ``box`` (``x, y, w, h`` frame pixels) on the current frame."""
        from engine.extract.manual import add_face

        clip, frame = self.frames.clip, self.frames.frame
        if clip is None:
            return
        added: list[int] = []

        def do(store):  # type: ignore[no-untyped-def]
            # Its own frame reader: the view's readers belong to the decoding thread.
            result = add_face(store, clip.id, frame, box)
            added.append(result.face_id)
            return result.changes

        self._run(f"Add a face on frame {frame}", do)
        if added:
            self.frames.view.select_faces(added)

    def track_face(self, face_id: int) -> None:
        """Follow ``face_id`` forward and back until it is lost or a shot cut."""
        from engine.extract.manual import track_face

        self._run(f"Track face {face_id}", lambda store: track_face(store, face_id).changes)

    def _run(self, label: str, do) -> None:  # type: ignore[no-untyped-def]
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        try:
            self.frames.document.execute(label, do)
        except FacesmithError as exc:
            self.frames.error.emit(str(exc))
        finally:
            QApplication.restoreOverrideCursor()
