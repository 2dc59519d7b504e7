"""The landmark drag gesture as a small Qt-free state machine.

The frame view feeds it frame-pixel points from its mouse events; tests feed it the same
points by hand (napari's mouse-binding tests do the same for painting). One gesture is
``begin`` -> any number of ``move`` -> ``end`` (or ``abort``), and ``end`` gives at most
one :class:`LandmarkEdit`, so the presenter can turn it into exactly one undo step.

The editor never keeps an edit: after ``end`` it forgets the gesture, and what the view
shows again comes from the presenter's next ``set_faces`` with the stored result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from widgets.frame_view.model import FaceOverlay, GroupName, group_indices, group_of, landmark_at


@dataclass(frozen=True, eq=False)
class LandmarkEdit:
    """The result of one drag.

    Attributes
    ----------
    face_id : the edited face.
    landmarks : the new float32 ``(68, 2)`` landmarks in frame pixels (a fresh array).
    indices : the landmark indices that moved.
    """

    face_id: int
    landmarks: np.ndarray
    indices: np.ndarray


@dataclass(frozen=True, eq=False)
class _Drag:
    face_id: int
    original: np.ndarray
    indices: np.ndarray
    start: np.ndarray
    slop: float
    delta: np.ndarray
    started_moving: bool


class LandmarkEditor:
    """Drags one landmark, or one group of them, of one face at a time.

    A press on a landmark drags that point; with ``group_mode`` (the view passes Shift)
    or on a point of the group chosen with :meth:`set_group` (the group buttons) it drags
    the point's whole group. Points move by the cursor's offset from the press, so
    grabbing a point a little off-centre does not make it jump.
    """

    def __init__(self) -> None:
        self._faces: dict[int, FaceOverlay] = {}
        self._group: GroupName | None = None
        self._drag: _Drag | None = None

    # ------------------------------------------------------------------ configuration
    def set_faces(self, faces: Sequence[FaceOverlay]) -> bool:
        """The faces that can be edited. Returns True if this aborted a drag: the dragged
        face is gone or its landmarks changed underneath the gesture."""
        self._faces = {f.face_id: f for f in faces}
        drag = self._drag
        if drag is None:
            return False
        face = self._faces.get(drag.face_id)
        if face is None or face.landmarks is None or not np.array_equal(face.landmarks, drag.original):
            self._drag = None
            return True
        return False

    def set_group(self, group: GroupName | None) -> None:
        """Drag this whole group when any of its points is pressed (None: single points)."""
        self._group = group

    @property
    def group(self) -> GroupName | None:
        return self._group

    # ------------------------------------------------------------------ state
    @property
    def active(self) -> bool:
        return self._drag is not None

    @property
    def face_id(self) -> int | None:
        return None if self._drag is None else self._drag.face_id

    @property
    def indices(self) -> np.ndarray:
        """The landmark indices being dragged (empty when idle)."""
        return np.empty(0, dtype=np.intp) if self._drag is None else self._drag.indices

    def preview(self) -> np.ndarray | None:
        """The dragged face's landmarks as they would be if the gesture ended now."""
        drag = self._drag
        if drag is None:
            return None
        points = drag.original.copy()
        points[drag.indices] += drag.delta.astype(np.float32)
        return points

    # ------------------------------------------------------------------ the gesture
    def begin(
        self,
        point: tuple[float, float],
        *,
        group_mode: bool = False,
        tolerance_px: float = 6.0,
        scale: float = 1.0,
        prefer: Iterable[int] = (),
        slop_px: float = 0.0,
    ) -> bool:
        """Start a drag if ``point`` (frame pixels) is on a landmark; True if one started.

        ``tolerance_px`` and ``slop_px`` are in view pixels (``scale`` = view pixels per
        frame pixel); the points only start moving once the cursor has gone ``slop_px``
        from the press, so a plain click on a point never edits it.
        """
        hit = landmark_at(list(self._faces.values()), point, tolerance_px=tolerance_px, scale=scale, prefer=prefer)
        if hit is None:
            self._drag = None
            return False
        face_id, index = hit
        group = group_of(index)
        if group_mode or group == self._group:
            indices = group_indices(group)
        else:
            indices = np.array([index], dtype=np.intp)
        landmarks = self._faces[face_id].landmarks
        assert landmarks is not None
        self._drag = _Drag(
            face_id=face_id,
            original=landmarks.astype(np.float32, copy=True),
            indices=indices,
            start=np.asarray(point, dtype=np.float64),
            slop=slop_px / scale,
            delta=np.zeros(2),
            started_moving=slop_px <= 0,
        )
        return True

    def move(self, point: tuple[float, float]) -> np.ndarray | None:
        """Follow the cursor; returns the preview landmarks (None when idle)."""
        drag = self._drag
        if drag is None:
            return None
        delta = np.asarray(point, dtype=np.float64) - drag.start
        started = drag.started_moving or float(np.hypot(*delta)) > drag.slop
        self._drag = _Drag(drag.face_id, drag.original, drag.indices, drag.start, drag.slop,
                           delta if started else np.zeros(2), started)
        return self.preview()

    def end(self) -> LandmarkEdit | None:
        """Finish the gesture: the edit, or None if nothing moved."""
        drag = self._drag
        if drag is None:
            return None
        points = self.preview()
        self._drag = None
        assert points is not None
        if np.array_equal(points, drag.original):
            return None
        return LandmarkEdit(drag.face_id, points, drag.indices.copy())

    def abort(self) -> np.ndarray | None:
        """Drop the gesture (Escape); returns the untouched landmarks, or None when idle."""
        drag = self._drag
        self._drag = None
        return None if drag is None else drag.original.copy()
