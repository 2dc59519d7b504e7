"""Bulk face-table operations of extraction: scanned frames, crops, tracks and persons.

:class:`~engine.project.store.ProjectStore` holds the general, undoable API (one face,
``update_rows``, ``add_faces``). Extraction writes tens of thousands of rows at a time and
needs a few narrower operations that are neither undoable nor worth a place on the
store's surface: which frames a clip already had scanned, storing a batch of faces with
its crops and ``scanned_frames`` rows atomically, and setting one column of many faces at
once. They live here, Qt-free, each one transaction.

Crops are files ``faces/<shard>/<face_id>.jpg``: a re-creatable cache named by the face
id, so a row and its crop can never get out of step by renaming.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from engine.project import layout
from engine.project.models import NewFace, embedding_from_blob, embedding_to_blob, landmarks_from_blob
from engine.project.store import ProjectStore

#: Faces per crop folder: keeps folders small enough for file browsers and backups.
SHARD_SIZE: Final = 1000
PERSON_PREFIX: Final = "Person "


def crop_path(face_id: int) -> str:
    """The crop of ``face_id`` relative to the project folder: ``faces/0012/12345.jpg``."""
    return f"faces/{face_id // SHARD_SIZE:04d}/{face_id}.jpg"


def write_file_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file and a rename.

    A reader (the editor's face grid) then sees either the old file or the new one,
    never half a JPEG, and a kill mid-write leaves at most a stray ``.tmp``.
    """
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def write_crop(root: Path, relative: str, data: bytes) -> None:
    target = layout.inside(root, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomic(target, data)


# ---------------------------------------------------------------------- scanned frames
def scanned_frames(store: ProjectStore, clip_id: int) -> set[int]:
    """Frames of a clip an extraction has already stored (with or without faces)."""
    rows = store.connection.execute("SELECT frame FROM scanned_frames WHERE clip_id = ?", (clip_id,))
    return {r[0] for r in rows}


def store_scan_batch(
    store: ProjectStore,
    faces: Sequence[NewFace],
    crops: Sequence[bytes],
    scanned: Iterable[tuple[int, int, int]],
) -> list[int]:
    """Store faces, their crop files and the frames they came from in one transaction.

    ``crops[i]`` is the JPEG of ``faces[i]``; ``scanned`` holds ``(clip_id, frame,
    face_count)`` for every frame of the batch, faces or not. Either all of it is
    committed or none of the rows are, so a kill at any moment leaves each frame fully
    stored or not stored, and a resumed extraction skips exactly the stored ones.

    The ids are taken inside the write transaction (nobody else can insert meanwhile),
    so the crop files are written under their final names before the rows that point
    at them commit. A crash in between leaves orphan crops that the next batch simply
    overwrites, since it is given the same ids.
    """
    if len(faces) != len(crops):
        raise ValueError(f"{len(faces)} faces but {len(crops)} crops")
    with store.transaction() as c:
        first = (c.execute("SELECT max(id) FROM faces").fetchone()[0] or 0) + 1
        predicted = list(range(first, first + len(faces)))
        paths = [crop_path(i) for i in predicted]
        for rel, data in zip(paths, crops, strict=True):
            write_crop(store.root, rel, data)
        rows = [replace(f, crop_path=p) for f, p in zip(faces, paths, strict=True)]
        ids = sorted(store.add_faces(rows).ids("faces") or ()) if rows else []
        if ids != predicted:  # add_faces numbered them otherwise: move the crops to match
            ids = _renumber_crops(store, paths, ids)
        c.executemany("INSERT OR REPLACE INTO scanned_frames (clip_id, frame, face_count) VALUES (?, ?, ?)",
                      list(scanned))
    return ids


def _renumber_crops(store: ProjectStore, paths: list[str], ids: list[int]) -> list[int]:
    if len(ids) != len(paths):
        raise RuntimeError(f"stored {len(ids)} faces for {len(paths)} crops")
    # Two steps, so a crop never lands on a path another crop still has to leave.
    parked = []
    for old in paths:
        source = layout.inside(store.root, old)
        parked.append(source.with_name(source.name + ".renumber"))
        os.replace(source, parked[-1])
    c = store.connection
    for source, face_id in zip(parked, ids, strict=True):
        new = crop_path(face_id)
        target = layout.inside(store.root, new)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        c.execute("UPDATE faces SET crop_path = ? WHERE id = ?", (new, face_id))
    return ids


# ---------------------------------------------------------------------- bulk columns
_BULK_COLUMNS: Final = frozenset({"track_id", "person_id", "excluded", "swap_excluded", "embedding"})


def set_face_column(store: ProjectStore, column: str, values: Mapping[int, Any]) -> None:
    """Set one column of many faces (job output, not an undoable edit).

    Embeddings are given as arrays and stored as float16 blobs.
    """
    if column not in _BULK_COLUMNS:
        raise ValueError(f"cannot bulk-set faces.{column}")
    if column == "embedding":
        rows = [(embedding_to_blob(v), k) for k, v in values.items()]
    else:
        rows = [(v, k) for k, v in values.items()]
    if rows:
        with store.transaction() as c:
            c.executemany(f"UPDATE faces SET {column} = ? WHERE id = ?", rows)


def set_face_rows(store: ProjectStore, updates: Mapping[int, Mapping[str, Any]]) -> None:
    """Set several columns of many faces, all with the same column names, in one transaction."""
    if not updates:
        return
    names = sorted(next(iter(updates.values())))
    bad = set(names) - store.columns("faces") | ({"id"} & set(names))
    if bad:
        raise ValueError(f"cannot set {sorted(bad)} on faces")
    rows = [[vals[n] for n in names] + [face_id] for face_id, vals in updates.items()]
    with store.transaction() as c:
        c.executemany(f"UPDATE faces SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?", rows)


# ---------------------------------------------------------------------- reading in bulk
def clip_faces(store: ProjectStore, clip_id: int) -> dict[str, npt.NDArray[Any]]:
    """The faces of a clip as column arrays, in frame order, for linking and sampling.

    Keys: ``id``, ``frame``, ``box`` (n, 4), ``landmarks`` (n, 68, 2), ``track_id`` and
    ``person_id`` (-1 for NULL), ``sharpness`` (NaN for NULL), ``has_embedding``.
    """
    rows = store.connection.execute(
        "SELECT id, frame, x0, y0, x1, y1, landmarks, track_id, person_id, sharpness, embedding IS NOT NULL "
        "FROM faces WHERE clip_id = ? ORDER BY frame, idx", (clip_id,)).fetchall()
    n = len(rows)
    return {
        "id": np.fromiter((r[0] for r in rows), np.int64, n),
        "frame": np.fromiter((r[1] for r in rows), np.int64, n),
        "box": np.array([r[2:6] for r in rows], dtype=np.float64).reshape(n, 4),
        "landmarks": (np.stack([landmarks_from_blob(r[6]) for r in rows]) if n
                      else np.zeros((0, 68, 2), np.float32)),
        "track_id": np.fromiter((-1 if r[7] is None else r[7] for r in rows), np.int64, n),
        "person_id": np.fromiter((-1 if r[8] is None else r[8] for r in rows), np.int64, n),
        "sharpness": np.fromiter((np.nan if r[9] is None else r[9] for r in rows), np.float64, n),
        "has_embedding": np.fromiter((bool(r[10]) for r in rows), bool, n),
    }


def embeddings(store: ProjectStore, face_ids: Iterable[int]) -> dict[int, npt.NDArray[np.float32]]:
    """Stored embeddings of these faces (faces without one are left out)."""
    ids = list(face_ids)
    out: dict[int, npt.NDArray[np.float32]] = {}
    for start in range(0, len(ids), 900):  # SQLite's host-parameter limit
        part = ids[start:start + 900]
        rows = store.connection.execute(
            f"SELECT id, embedding FROM faces WHERE embedding IS NOT NULL AND id IN ({', '.join('?' * len(part))})",
            part)
        for face_id, blob in rows:
            vec = embedding_from_blob(blob)
            if vec is not None:
                out[face_id] = vec
    return out


# ---------------------------------------------------------------------- persons
def person_mean_embeddings(store: ProjectStore) -> dict[int, npt.NDArray[np.float32]]:
    """Each person's mean identity embedding over its embedded faces.

    This is what a new extraction matches its tracks against, so the speaker found in
    yesterday's clips is recognised today instead of becoming a second person.
    """
    sums: dict[int, npt.NDArray[np.float64]] = {}
    counts: dict[int, int] = {}
    rows = store.connection.execute(
        "SELECT person_id, embedding FROM faces WHERE person_id IS NOT NULL AND embedding IS NOT NULL")
    for person_id, blob in rows:
        vec = embedding_from_blob(blob)
        if vec is None:
            continue
        sums[person_id] = sums.get(person_id, 0.0) + vec.astype(np.float64)
        counts[person_id] = counts.get(person_id, 0) + 1
    return {p: (sums[p] / counts[p]).astype(np.float32) for p in sums}


def create_persons(store: ProjectStore, count: int) -> list[int]:
    """Create ``count`` persons named "Person k", numbered on from the highest such name."""
    if count <= 0:
        return []
    taken = [int(m.group(1)) for (name,) in store.connection.execute("SELECT name FROM persons")
             if (m := re.fullmatch(re.escape(PERSON_PREFIX) + r"(\d+)", name))]
    start = max(taken, default=0) + 1
    now = time.time()
    ids = []
    with store.transaction() as c:
        for k in range(start, start + count):
            cur = c.execute("INSERT INTO persons (name, created_at) VALUES (?, ?)", (f"{PERSON_PREFIX}{k}", now))
            ids.append(int(cur.lastrowid))
    return ids


def set_person_wanted(store: ProjectStore, person_id: int) -> None:
    with store.transaction() as c:
        c.execute("UPDATE persons SET wanted = 1 WHERE id = ?", (person_id,))
