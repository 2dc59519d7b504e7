"""Writing imported faces into a project: faces, label and predicted masks, persons.

Imports are all-or-nothing per call: the caller wraps everything in one
``store.transaction()``, so a failure at any step leaves the project as it was.
Predicted masks from another program have no Facesmith model: they are stored with
``model_id`` NULL (the masks table allows it), which :func:`engine.masks.resolve.best_mask`
treats like any other prediction when no model is named.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import numpy.typing as npt

from engine.masks.repo import encode_png, set_labels
from engine.masks.shapes import LabelMask, Shape
from engine.project.models import NewFace
from engine.project.store import ProjectStore


def insert_faces(store: ProjectStore, faces: Sequence[NewFace]) -> list[int]:
    """Insert faces (inside the caller's transaction); their ids in the given order."""
    if not faces:
        return []
    first = (store.scalar("SELECT max(id) FROM faces") or 0) + 1
    store.add_faces(faces)
    last = store.scalar("SELECT max(id) FROM faces") or 0
    ids = list(range(first, last + 1))
    if len(ids) != len(faces):
        raise RuntimeError(f"stored {len(ids)} faces for {len(faces)} imported ones")
    return ids


def label_from_polys(polys: Sequence[tuple[str, npt.NDArray[np.float64]]],
                     matrix: npt.ArrayLike | None = None) -> LabelMask:
    """Polygons (``(kind, points)``) as a label mask, optionally moved by a 2x3 matrix."""
    shapes = []
    mat = None if matrix is None else np.asarray(matrix, np.float64)
    for kind, pts in polys:
        p = np.asarray(pts, np.float64)
        if mat is not None:
            p = p @ mat[:, :2].T + mat[:, 2]
        shapes.append(Shape(kind, "polygon", p))  # type: ignore[arg-type]
    return LabelMask(tuple(shapes))


def put_labels(store: ProjectStore, labels: Mapping[int, LabelMask]) -> int:
    if labels:
        set_labels(store, dict(labels), text="Import label masks")
    return len(labels)


def put_foreign_predictions(store: ProjectStore, rows: Sequence[tuple[int, npt.NDArray[np.uint8], str]]) -> int:
    """Store ``(face_id, mask, face_type)`` predictions (square uint8 masks in the face's
    crop of that face type at the mask's size), replacing earlier foreign ones."""
    if not rows:
        return 0
    now = time.time()
    c = store.connection
    c.executemany("DELETE FROM masks WHERE face_id = ? AND kind = 'predicted' AND model_id IS NULL",
                  [(fid,) for fid, _, _ in rows])
    c.executemany(
        "INSERT INTO masks (face_id, kind, raster, face_type, resolution, model_id, updated_at) "
        "VALUES (?, 'predicted', ?, ?, ?, NULL, ?)",
        [(fid, encode_png(m), ft, int(m.shape[0]), now) for fid, m, ft in rows])
    return len(rows)


def decode_mask(data: bytes) -> npt.NDArray[np.uint8] | None:
    """A DFL ``xseg_mask`` (PNG or JPEG, grey, [0, 255]) as a square uint8 array."""
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if arr is None or arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 8:
        return None
    return arr


def new_person(store: ProjectStore, name: str) -> int:
    cur = store.connection.execute("INSERT INTO persons (name, created_at) VALUES (?, ?)", (name, time.time()))
    return int(cur.lastrowid)


def landmark_columns(landmarks: npt.ArrayLike, frame_size: tuple[int, int] | None = None) -> dict[str, float | None]:
    """Pose and expression from a face's 68 landmarks (cheap: no pixels), so imported
    faces sort, plot and sample by pose like extracted ones. Degenerate landmarks give
    None rather than failing the import."""
    from engine.faces.errors import FaceAnalysisError
    from engine.faces.expression import expression
    from engine.faces.pose import estimate_pose

    out: dict[str, float | None] = dict.fromkeys(("yaw", "pitch", "roll", "mouth_open", "eyes_open", "smile",
                                                  "brow_raise"))
    try:
        p = estimate_pose(landmarks, frame_size)
        out.update(yaw=float(p.yaw), pitch=float(p.pitch), roll=float(p.roll))
        e = expression(landmarks)
        out.update(mouth_open=float(e.mouth_open), eyes_open=float(e.eyes_open), smile=float(e.smile),
                   brow_raise=float(e.brow_raise))
    except (FaceAnalysisError, ValueError, np.linalg.LinAlgError, cv2.error):
        pass
    return {k: (v if v is None or np.isfinite(v) else None) for k, v in out.items()}


def next_indices(store: ProjectStore, clip_id: int) -> dict[int, int]:
    """frame -> the next free face number on it (faces keep ``UNIQUE (clip, frame, idx)``)."""
    rows = store.connection.execute("SELECT frame, max(idx) FROM faces WHERE clip_id = ? GROUP BY frame", (clip_id,))
    return {int(f): int(i) + 1 for f, i in rows}
