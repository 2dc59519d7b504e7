"""What the frame view draws, and the pure geometry to hit-test it. No Qt in here.

Coordinates are **frame pixels** as the rest of Facesmith stores them (boxes, landmarks):
the pixel in column ``i`` and row ``j`` has its *centre* at ``(i, j)`` (the OpenCV and
dlib convention), so the picture covers ``[-0.5, w - 0.5] x [-0.5, h - 0.5]``. Keeping the
convention here, and not in each caller, is what makes a landmark drawn at 32x zoom sit in
the middle of the pixel it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

import numpy as np

if TYPE_CHECKING:
    from engine.project.models import Face

GroupName = Literal["jaw", "right_brow", "left_brow", "nose", "right_eye", "left_eye", "mouth"]

#: The iBUG 68-point groups, by index range. "Right" is the subject's right (image left).
LANDMARK_GROUPS: Final[dict[GroupName, range]] = {
    "jaw": range(0, 17),
    "right_brow": range(17, 22),
    "left_brow": range(22, 27),
    "nose": range(27, 36),
    "right_eye": range(36, 42),
    "left_eye": range(42, 48),
    "mouth": range(48, 68),
}
GROUP_NAMES: Final[tuple[GroupName, ...]] = tuple(LANDMARK_GROUPS)

#: The lines drawn between landmarks: (indices, closed). A group can have several lines
#: (the nose bridge and the nostrils; the outer and inner lips).
POLYLINES: Final[tuple[tuple[tuple[int, ...], bool], ...]] = (
    (tuple(range(0, 17)), False),
    (tuple(range(17, 22)), False),
    (tuple(range(22, 27)), False),
    (tuple(range(27, 31)), False),
    (tuple(range(30, 36)), True),
    (tuple(range(36, 42)), True),
    (tuple(range(42, 48)), True),
    (tuple(range(48, 60)), True),
    (tuple(range(60, 68)), True),
)

_GROUP_OF_INDEX: Final[tuple[GroupName, ...]] = tuple(
    name for name, indices in LANDMARK_GROUPS.items() for _ in indices
)


def group_of(index: int) -> GroupName:
    """The group a landmark index belongs to."""
    return _GROUP_OF_INDEX[index]


def group_indices(group: GroupName) -> np.ndarray:
    return np.arange(LANDMARK_GROUPS[group].start, LANDMARK_GROUPS[group].stop)


@dataclass(frozen=True, eq=False)
class FaceOverlay:
    """One face as the frame view draws it.

    Parameters
    ----------
    face_id : the face's id; selection and every signal speak in these ids.
    box : ``(x0, y0, x1, y1)`` in frame pixels.
    landmarks : float32 ``(68, 2)`` in frame pixels, or None when the face has none.
    label : short text drawn above the box ("" draws nothing).
    excluded : drawn grey and dashed (the face is left out of its face set).
    colour : the box and landmark colour as ``#rrggbb``; None for the default.
    not_swapped : "not swapped" (the merge leaves the face): an amber box with dots.
    """

    face_id: int
    box: tuple[float, float, float, float]
    landmarks: np.ndarray | None = None
    label: str = ""
    excluded: bool = False
    colour: str | None = None
    not_swapped: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "face_id", int(self.face_id))
        object.__setattr__(self, "box", tuple(float(v) for v in self.box))
        if len(self.box) != 4:
            raise ValueError(f"box must be (x0, y0, x1, y1), got {self.box}")
        if self.landmarks is not None:
            points = np.asarray(self.landmarks, dtype=np.float32)
            if points.shape != (68, 2):
                raise ValueError(f"landmarks must be 68x2, got {points.shape}")
            object.__setattr__(self, "landmarks", points)

    @classmethod
    def from_face(cls, face: Face, *, label: str = "", colour: str | None = None) -> FaceOverlay:
        """The overlay of a stored :class:`engine.project.models.Face`."""
        return cls(face.id, face.box, face.landmarks, label, face.excluded, colour,
                   bool(getattr(face, "swap_excluded", False)))


def face_at(faces: Sequence[FaceOverlay], point: tuple[float, float]) -> int | None:
    """The id of the face whose box holds ``point``; the smallest box wins where boxes overlap."""
    x, y = point
    best: tuple[float, int] | None = None
    for face in faces:
        x0, y0, x1, y1 = face.box
        if min(x0, x1) <= x <= max(x0, x1) and min(y0, y1) <= y <= max(y0, y1):
            area = abs((x1 - x0) * (y1 - y0))
            if best is None or area < best[0]:
                best = (area, face.face_id)
    return None if best is None else best[1]


def nearest_point(points: np.ndarray, point: tuple[float, float], tolerance: float) -> int | None:
    """Index of the row of ``points`` (N, 2) nearest ``point`` within ``tolerance``, else None."""
    if len(points) == 0:
        return None
    d2 = np.sum((points - np.asarray(point, dtype=np.float64)) ** 2, axis=1)
    index = int(np.argmin(d2))
    return index if d2[index] <= tolerance * tolerance else None


def landmark_at(
    faces: Sequence[FaceOverlay],
    point: tuple[float, float],
    *,
    tolerance_px: float,
    scale: float,
    prefer: Iterable[int] = (),
) -> tuple[int, int] | None:
    """``(face_id, landmark index)`` of the landmark under ``point``, or None.

    ``point`` is in frame pixels; ``tolerance_px`` is in *view* pixels, so grabbing a point
    feels the same at every zoom (``scale`` is view pixels per frame pixel). Faces in
    ``prefer`` (the selection) are searched first, so the face being edited wins where two
    faces' landmarks crowd together.
    """
    tolerance = tolerance_px / scale
    preferred = set(prefer)
    ordered = sorted(faces, key=lambda f: f.face_id not in preferred)
    best: tuple[bool, float, int, int] | None = None
    for face in ordered:
        if face.landmarks is None:
            continue
        index = nearest_point(face.landmarks, point, tolerance)
        if index is None:
            continue
        distance = float(np.hypot(*(face.landmarks[index] - np.asarray(point))))
        candidate = (face.face_id not in preferred, distance, face.face_id, index)
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    return None if best is None else (best[2], best[3])
