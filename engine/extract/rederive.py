"""Re-deriving a face after its landmarks were edited, and re-creating crop files.

The project stores landmarks in frame pixels and treats everything that follows from
them (alignment, crop, pose, sharpness, expression) as derived, so a landmark fix in the
editor is one call here. It reads the face's frame from its clip, measures the face
exactly as extraction does (:func:`engine.extract.pool.measure_face`), rewrites the crop
and updates the row through :meth:`ProjectStore.update_rows`, which records before and
after: the returned change set is the editor's undo step.

The crop file is a cache outside the undo record: after undoing (``store.apply(
cs.inverse())``) call :func:`restore_crops` to re-create it from the restored row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.errors import FacesmithError
from engine.extract.pool import crop_face_jpeg, measure_face
from engine.media import FrameReader
from engine.project.changes import ChangeSet
from engine.project.faces import crop_path, write_crop
from engine.project.models import Clip, Face, alignment_to_blob, landmarks_to_blob
from engine.project.images import open_reader
from engine.project.store import ProjectStore


def _reader(store: ProjectStore, clip: Clip) -> FrameReader:
    if clip.missing:
        raise FacesmithError(f"clip '{clip.name}': its file is missing ({clip.path}); relink it first")
    return open_reader(store, clip, cache_frames=4)  # type: ignore[return-value]


def rederive_face(
    store: ProjectStore,
    face_id: int,
    landmarks: npt.ArrayLike,
    *,
    reader: FrameReader | None = None,
) -> ChangeSet:
    """Set a face's landmarks (frame pixels) and re-derive everything that follows from them.

    ``reader`` may be the caller's open :class:`FrameReader` on the face's clip (the
    editor has one); otherwise one is opened for the call. Returns the undoable change
    set of the row ("Edit landmarks of face N"); the box and detection score stay.
    """
    face = store.face(face_id)
    own = reader is None
    frame_reader = _reader(store, store.clip(face.clip_id)) if reader is None else reader
    try:
        frame = frame_reader.read(face.frame)
    finally:
        if own:
            frame_reader.close()
    measured = measure_face(frame, np.asarray(landmarks, dtype=np.float32), face.face_type, face.crop_size)
    rel = face.crop_path or crop_path(face.id)
    write_crop(store.root, rel, measured.jpeg)
    values: dict[str, Any] = {
        "landmarks": landmarks_to_blob(measured.landmarks),
        "alignment": alignment_to_blob(measured.matrix),
        "yaw": measured.yaw, "pitch": measured.pitch, "roll": measured.roll,
        "sharpness": measured.sharpness, "mouth_open": measured.expression[0],
        "eyes_open": measured.expression[1], "smile": measured.expression[2],
        "brow_raise": measured.expression[3], "crop_path": rel,
    }
    if "landmarks_edited" in store.columns("faces") and not np.array_equal(measured.landmarks, face.landmarks):
        values["landmarks_edited"] = 1  # re-extraction keeps this face (engine.extract.redo)
    return store.update_rows("faces", {face.id: values}, label=f"Edit landmarks of face {face.id}")


def restore_crops(store: ProjectStore, face_ids: Iterable[int]) -> int:
    """Re-create the crop files of these faces from their rows (frame + stored alignment).

    For after an undo of :func:`rederive_face`, a deleted ``faces/`` folder, or crops of
    another size. Returns how many crops were written.
    """
    faces = store.faces(ids=list(face_ids))
    by_clip: dict[int, list[Face]] = {}
    for f in faces:
        by_clip.setdefault(f.clip_id, []).append(f)
    written = 0
    for clip_id, group in by_clip.items():
        with _reader(store, store.clip(clip_id)) as reader:
            for f in sorted(group, key=lambda g: g.frame):
                jpeg = crop_face_jpeg(reader.read(f.frame), f.alignment, f.crop_size)
                write_crop(store.root, f.crop_path or crop_path(f.id), jpeg)
                written += 1
    return written
