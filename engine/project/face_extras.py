"""Store code of faces at every angle: landmark visibility, face source, shot cuts, and
uncertain persons (the tables and columns of the schema's "pose robust faces" migration).

Kept out of :mod:`engine.project.store` (already past its size budget); like
:mod:`engine.project.faces` these are narrow bulk operations of extraction, each one
transaction, not undoable edits. The undoable edit of this area, adding a face by hand,
lives in :mod:`engine.extract.manual` and uses the store's generic ``insert_row``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Final

import numpy as np
import numpy.typing as npt

from engine.project.store import ProjectStore

SOURCES: Final = ("detected", "manual", "tracked")
#: Faces the user made: re-extraction keeps them (and their frames) as they are.
USER_SOURCES: Final = ("manual", "tracked")


def visibility_to_blob(visibility: npt.ArrayLike) -> bytes:
    arr = np.asarray(visibility, dtype=np.float32).reshape(-1)
    if arr.shape != (68,) or not np.isfinite(arr).all():
        raise ValueError(f"visibility must be 68 finite values, got shape {arr.shape}")
    return np.clip(arr, 0.0, 1.0).tobytes()


def visibility_from_blob(blob: bytes | None) -> npt.NDArray[np.float32] | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float32).copy()


def set_visibility(store: ProjectStore, values: Mapping[int, npt.ArrayLike]) -> None:
    """Store the per-landmark visibility of many faces (one transaction)."""
    rows = [(visibility_to_blob(v), int(k)) for k, v in values.items()]
    if rows:
        with store.transaction() as c:
            c.executemany("UPDATE faces SET visibility = ? WHERE id = ?", rows)


def visibility(store: ProjectStore, face_id: int) -> npt.NDArray[np.float32] | None:
    """The 68 visibilities of a face, or None when its backend gave none."""
    row = store.query("SELECT visibility FROM faces WHERE id = ?", (face_id,))
    return visibility_from_blob(row[0][0]) if row else None


def face_sources(store: ProjectStore, clip_id: int) -> dict[int, str]:
    """``{face_id: source}`` of a clip's faces."""
    return {r[0]: r[1] for r in store.query("SELECT id, source FROM faces WHERE clip_id = ?", (clip_id,))}


# ---------------------------------------------------------------------- shot cuts
def set_cuts(store: ProjectStore, clip_id: int, cuts: Iterable[tuple[int, float]], detector: str) -> None:
    """Replace the stored cuts of a clip (``(first frame of the new shot, score)``)."""
    with store.transaction() as c:
        c.execute("DELETE FROM cuts WHERE clip_id = ?", (clip_id,))
        c.executemany("INSERT INTO cuts (clip_id, frame, score) VALUES (?, ?, ?)",
                      [(clip_id, int(f), float(s)) for f, s in cuts])
        c.execute("INSERT OR REPLACE INTO cuts_scanned (clip_id, detector, scanned_at) VALUES (?, ?, ?)",
                  (clip_id, detector, time.time()))


def cuts(store: ProjectStore, clip_id: int) -> list[int]:
    """The cut frames of a clip (first frame of each new shot), ascending."""
    return [r[0] for r in store.query("SELECT frame FROM cuts WHERE clip_id = ? ORDER BY frame", (clip_id,))]


def all_cuts(store: ProjectStore) -> dict[int, list[int]]:
    """Every clip's cut frames (for the timeline): ``{clip_id: [frame, ...]}``."""
    out: dict[int, list[int]] = {}
    for clip_id, frame in store.query("SELECT clip_id, frame FROM cuts ORDER BY clip_id, frame"):
        out.setdefault(clip_id, []).append(frame)
    return out


def cuts_scanned(store: ProjectStore, clip_id: int) -> bool:
    return bool(store.query("SELECT 1 FROM cuts_scanned WHERE clip_id = ?", (clip_id,)))


# ---------------------------------------------------------------------- persons
def set_uncertain(store: ProjectStore, flags: Mapping[int, bool]) -> None:
    """Mark persons as uncertain (too few faces, low detection scores) or not."""
    rows = [(int(bool(v)), int(k)) for k, v in flags.items()]
    if rows:
        with store.transaction() as c:
            c.executemany("UPDATE persons SET uncertain = ? WHERE id = ?", rows)


def uncertain_persons(store: ProjectStore) -> set[int]:
    return {r[0] for r in store.query("SELECT id FROM persons WHERE uncertain = 1")}
