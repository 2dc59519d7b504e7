"""Faces added by hand, and "Track this face": what the detector missed, the user adds.

The user draws a box over a missed face (frame view or ``facesmith face add``); the face
mesh is fitted inside it (the detector is not asked again: the user has said a face is
there), the face is aligned, measured and stored exactly like a detected one, with
``source = 'manual'``. "Track this face" then follows it into the neighbouring frames,
forward and back: each next frame's mesh is fitted in the box of the previous frame's
face, until the mesh loses it (presence score, or the box jumps), a shot cut, a frame
that already has that face, or the clip's end; those faces are ``source = 'tracked'``.

Each call is one undoable change set (the rows inserted; undo deletes them all). Crop
files are a cache written alongside and left behind by an undo, like every crop.
Re-extraction keeps these faces (:data:`engine.project.face_extras.USER_SOURCES`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from engine.errors import FacesmithError
from engine.extract.pool import FoundFace, measure_face
from engine.faces.backends import Box
from engine.media import FrameReader
from engine.project.changes import ChangeSet
from engine.project.face_extras import cuts, visibility_to_blob
from engine.project.faces import crop_path, write_crop
from engine.project.models import Clip, alignment_to_blob, embedding_to_blob, landmarks_to_blob
from engine.project.store import ProjectStore

#: The smallest box side a user may add (landmarks are meaningless below it).
MIN_BOX: Final = 16
#: "Track this face" goes at most this many frames each way.
MAX_TRACK: Final = 300
#: The mesh's face-presence score under which a followed face counts as lost.
MIN_PRESENCE: Final = 0.5


@dataclass(frozen=True)
class AddedFaces:
    """What :func:`add_face` stored: the hand-added face, the tracked ones, the edit."""

    face_id: int
    tracked: list[int]
    changes: ChangeSet


def check_box(clip: Clip, frame: int, box: tuple[float, float, float, float]) -> Box:
    """``box`` as ``(x0, y0, x1, y1)`` from ``(x, y, w, h)``, or a clear error."""
    x, y, w, h = (float(v) for v in box)
    if not 0 <= frame < clip.frame_count:
        raise FacesmithError(f"clip '{clip.name}': frame {frame} is outside the clip (0-{clip.frame_count - 1})")
    if w < MIN_BOX or h < MIN_BOX:
        raise FacesmithError(f"the box {w:g}x{h:g} is smaller than {MIN_BOX} px: draw it around the whole face")
    if x < 0 or y < 0 or x + w > clip.width or y + h > clip.height:
        raise FacesmithError(f"the box {x:g},{y:g},{w:g},{h:g} is outside the frame of clip '{clip.name}' "
                             f"({clip.width}x{clip.height})")
    return (x, y, x + w, y + h)


def _fit(backend: Any, image: npt.NDArray[np.uint8], box: Box) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Landmarks, visibility and presence score of the face in ``box`` (dlib, the
    fallback, has neither: its points are taken as they are)."""
    if hasattr(backend, "fit"):
        return backend.fit(image, box)
    return backend.landmarks(image, box), None, 1.0


def _clip_crop_settings(store: ProjectStore, clip_id: int) -> tuple[str, int]:
    rows = store.query("SELECT face_type, crop_size, count(*) AS n FROM faces WHERE clip_id = ? "
                       "GROUP BY face_type, crop_size ORDER BY n DESC LIMIT 1", (clip_id,))
    return (rows[0][0], int(rows[0][1])) if rows else ("whole", 256)


def _insert(store: ProjectStore, clip: Clip, frame: int, f: FoundFace, source: str, face_type: str,
            size: int, track_id: int, person_id: int | None, embedding: np.ndarray | None) -> tuple[int, ChangeSet]:
    idx = store.query("SELECT coalesce(max(idx), -1) + 1 FROM faces WHERE clip_id = ? AND frame = ?",
                      (clip.id, frame))[0][0]
    values: dict[str, Any] = {
        "clip_id": clip.id, "frame": frame, "idx": idx,
        "x0": f.box[0], "y0": f.box[1], "x1": f.box[2], "y1": f.box[3], "score": f.score,
        "landmarks": landmarks_to_blob(f.landmarks), "face_type": face_type, "crop_size": size,
        "alignment": alignment_to_blob(f.matrix), "yaw": f.yaw, "pitch": f.pitch, "roll": f.roll,
        "sharpness": f.sharpness, "mouth_open": f.expression[0], "eyes_open": f.expression[1],
        "smile": f.expression[2], "brow_raise": f.expression[3], "track_id": track_id,
        "person_id": person_id, "created_at": time.time(), "source": source,
        "embedding": None if embedding is None else embedding_to_blob(embedding),
        "visibility": None if f.visibility is None else visibility_to_blob(f.visibility),
    }
    face_id, inserted = store.insert_row("faces", values, label="Add a face")
    rel = crop_path(face_id)
    write_crop(store.root, rel, f.jpeg)
    return face_id, inserted.merged(store.update_rows("faces", {face_id: {"crop_path": rel}}))


def _measure(image: np.ndarray, lm: np.ndarray, vis: np.ndarray | None, box: Box, score: float,
             face_type: str, size: int) -> FoundFace:
    from dataclasses import replace

    found = measure_face(image, lm, face_type, size, box=box, score=score)  # type: ignore[arg-type]
    return found if vis is None else replace(found, visibility=vis)


def _person_for(store: ProjectStore, clip_id: int, frames: set[int], embedding: np.ndarray | None) -> int | None:
    """The existing person this face is (by embedding), never one already on its frame."""
    if embedding is None:
        return None
    from engine.extract.persons import _nearest
    from engine.project.faces import person_mean_embeddings

    marks = ", ".join("?" * len(frames))
    banned = {r[0] for r in store.query(f"SELECT DISTINCT person_id FROM faces WHERE clip_id = ? AND frame IN "
                                        f"({marks}) AND person_id IS NOT NULL", [clip_id, *frames])}
    return _nearest(embedding, person_mean_embeddings(store), 0.6, banned)


def add_face(store: ProjectStore, clip_key: int | str, frame: int, box: tuple[float, float, float, float], *,
             track: bool = False, backend: str = "mediapipe", reader: FrameReader | None = None) -> AddedFaces:
    """Add the face in ``box`` (``x, y, w, h`` frame pixels) on ``frame`` of a clip, and
    with ``track`` follow it into the neighbouring frames. One undoable change set."""
    from engine.faces.dlib_backend import DlibIdentity

    clip = store.find_clip(clip_key)
    rect = check_box(clip, int(frame), box)
    fitter, frames = _fitter_and_frames(store, clip, backend, reader)
    own = reader is None
    try:
        image = frames.read(int(frame))
        face_type, size = _clip_crop_settings(store, clip.id)
        lm, vis, _presence = _fit(fitter, image, rect)
        first = _measure(image, lm, vis, rect, 1.0, face_type, size)
        embedding = DlibIdentity().descriptor(image, first.landmarks)
        track_id = int(store.query("SELECT coalesce(max(track_id), -1) + 1 FROM faces WHERE clip_id = ?",
                                   (clip.id,))[0][0])
        followed: dict[int, FoundFace] = {}
        if track:
            followed = _follow(store, clip, frames, fitter, int(frame), first.box, first.landmarks, face_type, size)
        person = _person_for(store, clip.id, {int(frame), *followed}, embedding)
        face_id, changes = _insert(store, clip, int(frame), first, "manual", face_type, size, track_id, person,
                                   embedding)
        tracked = []
        for f_index in sorted(followed):
            fid, cs = _insert(store, clip, f_index, followed[f_index], "tracked", face_type, size, track_id, person, None)
            tracked.append(fid)
            changes = changes.merged(cs)
    finally:
        if own:
            frames.close()
    label = f"Add a face on frame {frame}" + (f" and track it ({len(tracked)} frames)" if track else "")
    return AddedFaces(face_id, tracked, ChangeSet(changes.rows, changes.touched, label))


def track_face(store: ProjectStore, face_id: int, *, backend: str = "mediapipe",
               reader: FrameReader | None = None) -> AddedFaces:
    """"Track this face": follow a stored face (detected or hand-added) into the
    neighbouring frames that lack it, as one undoable change set. The new faces join the
    face's track and person."""

    face = store.face(face_id)
    clip = store.clip(face.clip_id)
    fitter, frames = _fitter_and_frames(store, clip, backend, reader)
    own = reader is None
    try:
        track_id = face.track_id
        changes = ChangeSet()
        if track_id is None:
            track_id = int(store.query("SELECT coalesce(max(track_id), -1) + 1 FROM faces WHERE clip_id = ?",
                                       (clip.id,))[0][0])
            changes = store.update_rows("faces", {face.id: {"track_id": track_id}})
        followed = _follow(store, clip, frames, fitter, face.frame, face.box, face.landmarks,
                           face.face_type, face.crop_size)
        tracked = []
        for f_index in sorted(followed):
            fid, cs = _insert(store, clip, f_index, followed[f_index], "tracked", face.face_type, face.crop_size,
                              track_id, face.person_id, None)
            tracked.append(fid)
            changes = changes.merged(cs)
    finally:
        if own:
            frames.close()
    return AddedFaces(face.id, tracked, ChangeSet(changes.rows, changes.touched,
                                                  f"Track face {face.id} ({len(tracked)} frames)"))


def _box_of(lm: np.ndarray, like: Box) -> Box:
    """A box around ``lm`` the size the user's box had relative to the previous points."""
    lo, hi = lm.min(axis=0), lm.max(axis=0)
    cx, cy = (lo + hi) / 2
    w, h = like[2] - like[0], like[3] - like[1]
    return (float(cx - w / 2), float(cy - h / 2), float(cx + w / 2), float(cy + h / 2))


def _fitter_and_frames(store: ProjectStore, clip: Clip, backend: str, reader: Any) -> tuple[Any, Any]:
    """The landmark fitter and a frame reader of ``clip`` (any kind: video or images)."""
    from engine.extract.pipeline import ExtractParams, usable_backend
    from engine.faces.backends import get_backend
    from engine.project.images import open_reader

    if clip.missing:
        raise FacesmithError(f"clip '{clip.name}': its file is missing ({clip.path}); relink it first")
    params, _note = usable_backend(ExtractParams(backend=backend))  # type: ignore[arg-type]
    return get_backend(params.backend), reader or open_reader(store, clip, cache_frames=4)


def _follow(store: ProjectStore, clip: Clip, frames: FrameReader, fitter: Any, start: int, start_box: Box,
            start_landmarks: np.ndarray, face_type: str, size: int) -> dict[int, FoundFace]:
    """The face followed from ``start`` both ways (see the module docstring)."""
    from engine.faces.tracks import box_iou

    cut_frames = sorted(cuts(store, clip.id))
    lo_frame, hi_frame = clip.frame_range
    out: dict[int, FoundFace] = {}
    for step in (1, -1):
        box, prev_lm = start_box, start_landmarks
        f = start
        for _ in range(MAX_TRACK):
            nxt = f + step
            if not lo_frame <= nxt < hi_frame:
                break
            # A cut between f and nxt ends the shot (a cut frame is the new shot's first).
            if any(min(f, nxt) < c <= max(f, nxt) for c in cut_frames):
                break
            try:
                image = frames.read(nxt)
            except Exception:
                break
            guess = _box_of(prev_lm, box)
            lm, vis, presence = _fit(fitter, image, guess)
            new_box = _box_of(lm, box)
            if presence < MIN_PRESENCE or box_iou([new_box], [guess])[0, 0] < 0.3:
                break
            existing = store.query("SELECT x0, y0, x1, y1 FROM faces WHERE clip_id = ? AND frame = ?",
                                   (clip.id, nxt))
            if existing and box_iou([new_box], [tuple(r) for r in existing]).max() > 0.4:
                break  # the face is already there (detected or added): stop, do not double it
            out[nxt] = _measure(image, lm, vis, new_box, float(presence), face_type, size)
            f, prev_lm = nxt, lm
    return out
