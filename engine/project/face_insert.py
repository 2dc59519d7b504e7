"""The bulk insert of faces: columns in, one ``executemany`` out.

Extraction and imports store tens of thousands of faces at a time. Building one Python
tuple per face from :class:`NewFace` objects (27 attribute reads, three ``tobytes``
calls) used to cost as much as SQLite's own work, so the insert is columnar: a
:class:`FaceBatch` holds each column as one numpy array or list, the landmark,
alignment and embedding blobs are cut from one contiguous array as
``bytes`` (one numpy void view, split in C), and ``zip`` assembles the rows in C while ``executemany`` consumes them.
:meth:`FaceBatch.from_faces` converts a list of :class:`NewFace` for callers that have
objects. The big commit leaves its WAL checkpoint to a background thread
(:mod:`engine.project.wal_checkpoint`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from engine.project.models import ALIGNMENT_DTYPE, EMBEDDING_DTYPE, FACE_TYPES, LANDMARKS_DTYPE, NewFace

if TYPE_CHECKING:
    from engine.project.store import ProjectStore

FACE_COLUMNS: Final = (
    "clip_id, frame, idx, x0, y0, x1, y1, score, landmarks, face_type, crop_size, alignment, "
    "yaw, pitch, roll, sharpness, mouth_open, eyes_open, smile, brow_raise, embedding, "
    "track_id, person_id, excluded, crop_path, created_at, swap_excluded"
)
_INSERT: Final = f"INSERT INTO faces ({FACE_COLUMNS}) VALUES ({', '.join('?' * 27)})"
#: Optional float columns of a face, in table order.
_OPTIONAL_FLOATS: Final = ("yaw", "pitch", "roll", "sharpness", "mouth_open", "eyes_open", "smile", "brow_raise")
#: From this many faces on, the commit's checkpoint runs in the background.
DEFER_CHECKPOINT_ROWS: Final = 5000

_get = attrgetter("clip_id", "frame", "idx", "box", "score", "landmarks", "face_type", "crop_size", "alignment",
                  *_OPTIONAL_FLOATS, "embedding", "track_id", "person_id", "excluded", "crop_path", "swap_excluded")


@dataclass(frozen=True, eq=False)
class FaceBatch:
    """Faces to insert, column by column (row ``i`` of every column is face ``i``).

    ``landmarks`` is (N, 68, 2), ``alignment`` (N, 2, 3), ``boxes`` (N, 4) as x0, y0,
    x1, y1; ``embeddings`` (N, 128) or None. Optional per-face values are lists holding
    None where unknown, so NULL stays NULL.
    """

    clip_id: Sequence[int]
    frame: Sequence[int]
    idx: Sequence[int]
    boxes: np.ndarray
    score: Sequence[float]
    landmarks: np.ndarray
    face_type: Sequence[str]
    crop_size: Sequence[int]
    alignment: np.ndarray
    optional: dict[str, Sequence[float | None]]
    embeddings: np.ndarray | Sequence[np.ndarray | None] | None
    track_id: Sequence[int | None]
    person_id: Sequence[int | None]
    excluded: Sequence[bool]
    crop_path: Sequence[str | None]
    swap_excluded: Sequence[bool]

    def __len__(self) -> int:
        return len(self.clip_id)

    @classmethod
    def from_faces(cls, faces: Iterable[NewFace]) -> FaceBatch:
        """Columns of ``faces`` (one C-level attribute read per face)."""
        values = list(map(_get, faces))
        cols: list[Any] = list(zip(*values, strict=True)) if values else [()] * 23
        n = len(values)
        return cls(
            clip_id=cols[0], frame=cols[1], idx=cols[2],
            boxes=np.asarray(cols[3], dtype=np.float64).reshape(n, 4), score=cols[4],
            landmarks=_stack(cols[5], (68, 2), LANDMARKS_DTYPE, "landmarks"), face_type=cols[6], crop_size=cols[7],
            alignment=_stack(cols[8], (2, 3), ALIGNMENT_DTYPE, "alignment"),
            optional={name: cols[9 + k] for k, name in enumerate(_OPTIONAL_FLOATS)},
            embeddings=cols[17], track_id=cols[18], person_id=cols[19], excluded=cols[20], crop_path=cols[21],
            swap_excluded=cols[22],
        )

    def rows(self, created_at: float) -> Iterable[tuple[Any, ...]]:
        """The rows for ``executemany``, after checking what SQLite would not."""
        n = len(self)
        unknown = set(self.face_type) - set(FACE_TYPES)
        if unknown:
            raise ValueError(f"unknown face type {sorted(unknown)[0]!r} (expected one of {', '.join(FACE_TYPES)})")
        for name, arr, shape in (("landmarks", self.landmarks, (68, 2)), ("alignment", self.alignment, (2, 3)),
                                 ("boxes", self.boxes, (4,))):
            if arr.shape != (n, *shape):
                raise ValueError(f"{name} must be {n}x{'x'.join(map(str, shape))}, got {'x'.join(map(str, arr.shape))}")
        for name in ("clip_id", "frame", "idx", "score", "crop_size", "track_id", "person_id", "excluded", "crop_path",
                     "swap_excluded"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"column {name} has {len(getattr(self, name))} values for {n} faces")
        lm = _blobs(self.landmarks, LANDMARKS_DTYPE)
        al = _blobs(self.alignment, ALIGNMENT_DTYPE)
        box = np.asarray(self.boxes, dtype=np.float64)
        return zip(
            self.clip_id, self.frame, self.idx, box[:, 0].tolist(), box[:, 1].tolist(), box[:, 2].tolist(),
            box[:, 3].tolist(), self.score, lm, self.face_type, self.crop_size, al,
            *(self.optional.get(k, (None,) * n) for k in _OPTIONAL_FLOATS),
            _embedding_blobs(self.embeddings, n), self.track_id, self.person_id, map(int, self.excluded),
            self.crop_path, (created_at,) * n, map(int, self.swap_excluded), strict=True,
        )


def insert_faces(store: ProjectStore, faces: FaceBatch | Iterable[NewFace]) -> range:
    """Insert faces in one transaction; returns the new ids (consecutive)."""
    batch = faces if isinstance(faces, FaceBatch) else FaceBatch.from_faces(faces)
    if not len(batch):
        return range(0)
    rows = batch.rows(time.time())
    with store.transaction() as c:
        if len(batch) >= DEFER_CHECKPOINT_ROWS:
            store.defer_checkpoint()
        first = (c.execute("SELECT max(id) FROM faces").fetchone()[0] or 0) + 1
        c.executemany(_INSERT, rows)
        last = c.execute("SELECT max(id) FROM faces").fetchone()[0] or 0
    return range(first, last + 1)


def _stack(values: Sequence[np.ndarray], shape: tuple[int, ...], dtype: np.dtype, name: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=dtype).reshape(len(values), *shape)
    except ValueError:
        bad = next((np.shape(v) for v in values if np.shape(v) != shape), None)
        raise ValueError(f"{name} must be {'x'.join(map(str, shape))}, got {bad}") from None


def _blobs(arr: np.ndarray, dtype: np.dtype) -> list[bytes]:
    """Row ``i`` of ``arr`` as ``bytes``: one numpy void view, split into objects in C."""
    if not len(arr):
        return []
    flat = np.ascontiguousarray(arr, dtype=dtype).reshape(len(arr), -1)
    return flat.view(np.dtype((np.void, flat.shape[1] * dtype.itemsize))).ravel().tolist()


def _embedding_blobs(emb: np.ndarray | Sequence[np.ndarray | None] | None, n: int) -> Iterable[bytes | None]:
    if emb is None:
        return (None,) * n
    if isinstance(emb, np.ndarray):
        return _blobs(emb.reshape(n, -1), EMBEDDING_DTYPE)
    if n and all(e is not None and np.size(e) == 128 for e in emb):
        return _blobs(np.asarray(emb, dtype=EMBEDDING_DTYPE).reshape(n, 128), EMBEDDING_DTYPE)
    return [None if e is None else np.asarray(e, dtype=EMBEDDING_DTYPE).reshape(-1).tobytes() for e in emb]
