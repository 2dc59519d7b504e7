"""Connects the frame view, the timeline and the face grid around "the current frame".

Scrubbing must never stutter: frame requests are decoded in a background thread and
only the newest request is kept — a decode that finishes after the user moved on is
shown only if nothing newer is waiting, and the next decode starts at once for the
latest frame asked for. Selections are mirrored between the grid and the frame view
without echoes (each widget's ``select_faces`` emits nothing).
"""

from __future__ import annotations


import numpy as np
from PySide6.QtCore import QObject, Signal

from app.background import TaskRunner
from app.document import ProjectDocument
from engine.errors import FacesmithError
from engine.media import FrameReader
from engine.project.images import open_reader
from engine.project.changes import ChangeSet
from engine.project.face_extras import all_cuts
from engine.project.models import Clip
from widgets.face_grid import FaceGridView
from widgets.frame_view import FaceOverlay, FrameView
from widgets.timeline import TimelineTrack, TimelineView


class FramePresenter(QObject):
    """Owns the current clip and frame.

    Signals
    -------
    frame_shown(int, int) : (clip id, frame) now on screen.
    error(str) : a frame could not be read (shown in the status bar).
    """

    frame_shown = Signal(int, int)
    error = Signal(str)

    def __init__(self, document: ProjectDocument, view: FrameView, timeline: TimelineView,
                 grid: FaceGridView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.view = view
        self.timeline = timeline
        self.grid = grid
        self.clip: Clip | None = None
        self.frame = 0
        self._wanted: tuple[int, int] | None = None
        self._readers: dict[int, FrameReader] = {}
        self._decoder = TaskRunner(self, threads=1)
        self._decoder.finished.connect(self._on_decoded)
        self._decoder.failed.connect(lambda _key, text: self.error.emit(text.strip().splitlines()[-1]))
        self._closed = False
        timeline.frame_requested.connect(self.request_frame)
        timeline.track_selected.connect(self.show_clip)
        timeline.range_changed.connect(self._on_range_changed)
        grid.selection_changed.connect(self._on_grid_selection)
        grid.face_activated.connect(self.show_face)
        view.selection_changed.connect(self._on_view_selection)
        view.landmarks_edited.connect(self.edit_landmarks)
        view.copy_landmarks_requested.connect(self.copy_landmarks)
        view.reset_landmarks_requested.connect(self.reset_landmarks)
        document.changed.connect(self.on_changed)
        document.after_apply.append(self._restore_crops)
        from app.presenters.manual_face_presenter import ManualFacePresenter

        self.manual = ManualFacePresenter(self)  # "add a face here", "Track this face"
        self.refresh_tracks()

    # ------------------------------------------------------------------ navigation
    def show_clip(self, clip_id: int, frame: int | None = None) -> None:
        if self.clip is None or self.clip.id != clip_id:
            self.clip = self.document.store.clip(clip_id)
            self.timeline.set_current_track(clip_id)
            start, stop = self.clip.frame_range
            self.timeline.set_range(start, stop - 1)
        self.request_frame(self.clip.in_frame if frame is None else frame)

    def show_face(self, face_id: int) -> None:
        face = self.document.store.face(face_id)
        self.show_clip(face.clip_id, face.frame)
        self.view.select_faces([face_id])

    def request_frame(self, frame: int) -> None:
        """Show ``frame`` of the current clip (decoded off the main thread, newest wins)."""
        if self.clip is None:
            return
        frame = max(0, min(int(frame), self.clip.frame_count - 1))
        self._wanted = (self.clip.id, frame)
        self._start_decode()

    def _start_decode(self) -> None:
        if self._wanted is None or self._closed:
            return
        clip_id, frame = self._wanted
        reader = self._reader(clip_id)
        if reader is None:
            return
        self._decoder.submit("frame", lambda: (clip_id, frame, reader.read(frame)))

    def _reader(self, clip_id: int) -> FrameReader | None:
        if clip_id not in self._readers:
            clip = self.document.store.clip(clip_id)
            if clip.missing:
                self.view.set_frame(None)
                self.error.emit(f"clip '{clip.name}': its file is missing ({clip.path}); relink it")
                return None
            try:
                self._readers[clip_id] = open_reader(self.document.store, clip)  # type: ignore[assignment]
            except FacesmithError as exc:
                self.error.emit(str(exc))
                return None
        return self._readers[clip_id]

    def _on_decoded(self, _key: object, result: tuple[int, int, np.ndarray]) -> None:
        if self._closed:
            return
        clip_id, frame, image = result
        if self._wanted is not None and self._wanted != (clip_id, frame):
            self._start_decode()  # the user moved on: fetch the newest request
            if self.clip is None or clip_id != self.clip.id:
                return
        self.frame = frame
        self.view.set_frame(image)
        self._show_faces()
        self.timeline.set_frame(frame)
        self.frame_shown.emit(clip_id, frame)

    def _show_faces(self) -> None:
        if self.clip is None:
            return
        faces = self.document.store.faces(clip_id=self.clip.id, frames=(self.frame, self.frame + 1))
        names = {p.id: p.name for p in self.document.store.persons()}
        self.view.set_faces([FaceOverlay.from_face(f, label=names.get(f.person_id or -1, "")) for f in faces])

    # ------------------------------------------------------------------ selection sync
    def _on_grid_selection(self, ids: np.ndarray) -> None:
        self.view.select_faces([int(i) for i in ids])

    def _on_view_selection(self, ids: np.ndarray) -> None:
        self.grid.select_faces(np.asarray(ids, dtype=np.int64))

    # ------------------------------------------------------------------ edits
    def _on_range_changed(self, in_frame: int, out_frame: int) -> None:
        if self.clip is None:
            return
        clip_id = self.clip.id
        self.document.execute("Set range", lambda store: store.set_clip_range(clip_id, in_frame, out_frame + 1))

    def edit_landmarks(self, face_id: int, landmarks: np.ndarray) -> None:
        """One landmark drag = one undoable command; the crop and pose are re-derived."""
        from engine.extract.rederive import rederive_face

        reader = self._reader(self.clip.id) if self.clip is not None else None
        try:
            self.document.execute("Edit landmarks",
                                  lambda store: rederive_face(store, face_id, landmarks, reader=reader))
        except FacesmithError as exc:
            self.error.emit(str(exc))
            self._show_faces()

    def _restore_crops(self, changes: ChangeSet) -> None:
        """After undo/redo of a landmark edit, the crop files follow the restored rows."""
        from engine.extract.rederive import restore_crops

        ids = [r.id for r in changes.rows if r.table == "faces" and r.after and "landmarks" in r.after]
        if ids:
            try:
                restore_crops(self.document.store, ids)
            except FacesmithError as exc:
                self.error.emit(str(exc))

    def copy_landmarks(self, face_id: int, direction: int) -> None:
        """Copy the landmarks of the same face on the previous (-1) or next (+1) frame that has it."""
        store = self.document.store
        face = store.face(face_id)
        step = -1 if direction < 0 else 1
        for frame in range(face.frame + step, face.frame + step * 26, step):
            candidates = store.faces(clip_id=face.clip_id, frames=(frame, frame + 1))
            same = [f for f in candidates if face.track_id is not None and f.track_id == face.track_id]
            if not same and candidates:  # no track: the face whose box centre is nearest
                cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
                same = sorted(candidates, key=lambda f: ((f.box[0] + f.box[2]) / 2 - cx) ** 2
                              + ((f.box[1] + f.box[3]) / 2 - cy) ** 2)[:1]
            if same:
                self.edit_landmarks(face_id, same[0].landmarks.copy())
                return
        self.error.emit(f"no face on the {'previous' if step < 0 else 'next'} 25 frames to copy landmarks from")

    def reset_landmarks(self, face_id: int) -> None:
        """Predict the landmarks again from the detection box (undoes hand edits, undoably)."""
        from engine.faces import get_backend

        face = self.document.store.face(face_id)
        reader = self._reader(face.clip_id)
        if reader is None:
            return
        frame = reader.read(face.frame)
        self.edit_landmarks(face_id, get_backend("dlib").landmarks(frame, face.box))

    # ------------------------------------------------------------------ refresh
    def refresh_tracks(self) -> None:
        store = self.document.store
        counts = store.query("SELECT clip_id, frame, count(*) FROM faces WHERE excluded = 0 GROUP BY clip_id, frame")
        keys = store.query("SELECT f.clip_id, f.frame FROM masks m JOIN faces f ON f.id = m.face_id "
                           "WHERE m.kind = 'label'")
        per_clip: dict[int, list[tuple[int, int]]] = {}
        for clip_id, frame, n in counts:
            per_clip.setdefault(clip_id, []).append((frame, n))
        key_frames: dict[int, list[int]] = {}
        for clip_id, frame in keys:
            key_frames.setdefault(clip_id, []).append(frame)
        scanned = {r[0] for r in store.query("SELECT DISTINCT clip_id FROM scanned_frames")}
        no_swap: dict[int, list[tuple[int, int]]] = {}
        for clip_id, a, b in store.query("SELECT clip_id, start, stop FROM swap_ranges ORDER BY start"):
            no_swap.setdefault(int(clip_id), []).append((int(a), int(b)))
        clip_cuts = all_cuts(store)
        tracks = []
        for clip in store.clips():
            face_counts = np.zeros(clip.frame_count if clip.id in scanned or clip.id in per_clip else 0, np.int32)
            for frame, n in per_clip.get(clip.id, ()):
                if frame < clip.frame_count:
                    face_counts[frame] = n
            start, stop = clip.frame_range
            tracks.append(TimelineTrack(clip.id, f"{clip.role} · {clip.name}", clip.frame_count, clip.fps,
                                        face_counts, np.asarray(key_frames.get(clip.id, []), np.int64),
                                        start, stop - 1, tuple(no_swap.get(clip.id, ())),
                                        cuts=clip_cuts.get(clip.id, [])))
        self.timeline.set_tracks(tracks)
        if self.clip is not None:
            self.timeline.set_current_track(self.clip.id)

    def on_changed(self, changes: ChangeSet) -> None:
        if changes.touches("clips"):
            if self.clip is not None:
                try:
                    self.clip = self.document.store.clip(self.clip.id)
                except FacesmithError:
                    self.clip = None
            self._readers = {k: v for k, v in self._readers.items() if k in {c.id for c in self.document.store.clips()}}
        if changes.touches("faces", "masks", "clips"):
            self.refresh_tracks()
            self._show_faces()
        elif changes.touches("swap_ranges"):
            self.refresh_tracks()

    def close(self) -> None:
        self._closed = True
        self._decoder.wait(5000)
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()


