"""Reading face rows: the WHERE of a face query, a row to a :class:`Face`, faces to columns.

Split out of :mod:`engine.project.store` (which keeps the queries) to keep that module
small; ``store.face_arrays`` stays importable from there.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.project.models import (
    ALIGNMENT_DTYPE,
    EMBEDDING_DTYPE,
    LANDMARKS_DTYPE,
    Face,
    alignment_from_blob,
    embedding_from_blob,
    landmarks_from_blob,
)

__all__ = ["face_arrays", "face_filter", "face_from_row", "faces_from_rows"]


def face_filter(clip_id: int | None, frames: tuple[int, int] | None, include_excluded: bool) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if clip_id is not None:
        where.append("clip_id = ?")
        params.append(clip_id)
    if frames is not None:
        where.append("frame >= ? AND frame < ?")
        params.extend(frames)
    if not include_excluded:
        where.append("excluded = 0")
    return where, params


def face_from_row(r: sqlite3.Row) -> Face:
    return Face(
        r[0], r[1], r[2], r[3], (r[4], r[5], r[6], r[7]), r[8], landmarks_from_blob(r[9]), r[10], r[11],
        alignment_from_blob(r[12]), r[13], r[14], r[15], r[16], r[17], r[18], r[19], r[20],
        embedding_from_blob(r[21]), r[22], r[23], bool(r[24]), r[25], r[26], bool(r[27]),
    )


_FACE_FIELDS = tuple(f.name for f in dataclasses.fields(Face))


def faces_from_rows(rows: Sequence[sqlite3.Row]) -> list[Face]:
    """Many rows at once: the blobs of all faces decoded in one numpy call each.

    A 1,000-frame range load spent most of its time turning rows into :class:`Face`
    objects (three ``frombuffer`` calls and a 28-field frozen ``__init__`` per face).
    Here landmarks and alignments are decoded for the whole batch and each face gets a
    (read-only) view of its row; the frozen dataclass is filled through its ``__dict__``,
    which is what its ``__init__`` does, minus the per-field ``object.__setattr__``.
    """
    n = len(rows)
    if n == 0:
        return []
    landmarks = np.frombuffer(b"".join(r[9] for r in rows), dtype=LANDMARKS_DTYPE).reshape(n, 68, 2)
    alignments = np.frombuffer(b"".join(r[12] for r in rows), dtype=ALIGNMENT_DTYPE).reshape(n, 2, 3)
    blobs = [r[21] for r in rows]
    if all(b is not None and len(b) == 128 * EMBEDDING_DTYPE.itemsize for b in blobs):
        emb = np.frombuffer(b"".join(blobs), dtype=EMBEDDING_DTYPE).reshape(n, 128).astype(np.float32)
        embeddings: list[np.ndarray | None] = list(emb)
    else:
        embeddings = [embedding_from_blob(b) for b in blobs]
    out = []
    new = object.__new__
    for i, r in enumerate(rows):
        face = new(Face)
        face.__dict__.update(zip(_FACE_FIELDS, (
            r[0], r[1], r[2], r[3], (r[4], r[5], r[6], r[7]), r[8], landmarks[i], r[10], r[11], alignments[i],
            r[13], r[14], r[15], r[16], r[17], r[18], r[19], r[20], embeddings[i], r[22], r[23], bool(r[24]),
            r[25], r[26], bool(r[27])), strict=True))
        out.append(face)
    return out


def face_arrays(faces: Sequence[Face]) -> dict[str, np.ndarray]:
    """Columns of ``faces`` as arrays (ids, frames, yaw, pitch, ...) for plots and grids."""
    nan = float("nan")
    return {
        "id": np.fromiter((f.id for f in faces), np.int64, len(faces)),
        "clip_id": np.fromiter((f.clip_id for f in faces), np.int64, len(faces)),
        "frame": np.fromiter((f.frame for f in faces), np.int64, len(faces)),
        "yaw": np.fromiter((nan if f.yaw is None else f.yaw for f in faces), np.float64, len(faces)),
        "pitch": np.fromiter((nan if f.pitch is None else f.pitch for f in faces), np.float64, len(faces)),
        "excluded": np.fromiter((f.excluded for f in faces), bool, len(faces)),
    }
