"""The face columns curation needs, read from a project in one query.

Coverage and the best-faces picker need a handful of numbers per face, not
:class:`~engine.project.models.Face` objects with their landmark and alignment blobs:
100,000 faces as ten numpy columns load in a fraction of the time and memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np

from engine.curation.coverage import PLANES

if TYPE_CHECKING:
    from engine.project.store import ProjectStore

ROLE_SRC: Final = 0
ROLE_DST: Final = 1
#: ``person`` value of faces not assigned to a person.
NO_PERSON: Final = -1

_SQL: Final = (
    "SELECT f.id, f.clip_id, c.role, f.person_id, f.yaw, f.pitch, f.mouth_open, f.eyes_open, f.smile, "
    "f.sharpness FROM faces f JOIN clips c ON c.id = f.clip_id"
)


@dataclass(frozen=True, eq=False)
class FaceColumns:
    """One array per column, all of one length (faces in id order).

    Attributes
    ----------
    id, clip_id : int64.
    role : int8, :data:`ROLE_SRC` or :data:`ROLE_DST`.
    person : int64 person id, :data:`NO_PERSON` where unassigned.
    yaw, pitch, mouth_open, eyes_open, smile, sharpness : float64, NaN where unknown.
    """

    id: np.ndarray
    clip_id: np.ndarray
    role: np.ndarray
    person: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    mouth_open: np.ndarray
    eyes_open: np.ndarray
    smile: np.ndarray
    sharpness: np.ndarray

    def __len__(self) -> int:
        return len(self.id)

    def xy(self, plane: str) -> np.ndarray:
        """``(n, 2)`` positions of every face on a coverage plane (``"pose"``, ...)."""
        ax, ay = PLANES[plane].axes
        return np.column_stack((getattr(self, ax), getattr(self, ay)))

    def is_src(self) -> np.ndarray:
        return self.role == ROLE_SRC

    def is_dst(self) -> np.ndarray:
        return self.role == ROLE_DST


def load_face_columns(store: ProjectStore, *, include_excluded: bool = False) -> FaceColumns:
    """The curation columns of the project's faces (excluded ones left out by default).

    Excluded faces neither supply a pose (they will not be trained on) nor demand one
    (the user has dropped them), so coverage ignores them unless asked.
    """
    sql = _SQL + ("" if include_excluded else " WHERE f.excluded = 0") + " ORDER BY f.id"
    rows = store.connection.execute(sql).fetchall()
    n = len(rows)

    def col(i: int, dtype: type, missing: float | int) -> np.ndarray:
        return np.fromiter((missing if r[i] is None else r[i] for r in rows), dtype, n)

    nan = float("nan")
    return FaceColumns(
        id=col(0, np.int64, 0),
        clip_id=col(1, np.int64, 0),
        role=np.fromiter((ROLE_DST if r[2] == "dst" else ROLE_SRC for r in rows), np.int8, n),
        person=col(3, np.int64, NO_PERSON),
        yaw=col(4, np.float64, nan),
        pitch=col(5, np.float64, nan),
        mouth_open=col(6, np.float64, nan),
        eyes_open=col(7, np.float64, nan),
        smile=col(8, np.float64, nan),
        sharpness=col(9, np.float64, nan),
    )
