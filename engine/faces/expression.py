"""Expression descriptors: four numbers that say how open the mouth and eyes are, how
wide the smile and how high the brows.

They let an editor find matching expressions between source and destination faces
("give me src faces with the mouth open like this dst frame") and spot blinks. Each is a
ratio of landmark distances, so it does not change with face size, position or in-plane
rotation; strong yaw or pitch foreshortens some of them (they are 2D measures).

Notation: ``|a-b|`` is the distance between landmarks a and b (0-based iBUG indices);
``eye_c(R)``, ``eye_c(L)`` the mean of points 36-41 and 42-47; ``iod`` (inter-ocular
distance) = ``|eye_c(R) - eye_c(L)|``.

``mouth_open``
    Inner-lip gap over mouth width: ``mean(|61-67|, |62-66|, |63-65|) / |48-54|``.
    Closed lips 0.00-0.05 (our mean face: 0.10, an average over speech), speech
    0.1-0.4, wide open 0.4-0.7.
``eyes_open``
    Eye aspect ratio (Soukupova & Cech 2016), both eyes averaged:
    ``(|37-41| + |38-40|) / (2 |36-39|)``. Open 0.22-0.38 (mean face 0.29), a blink
    < 0.15.
``smile``
    Mouth width over inter-ocular distance: ``|48-54| / iod``. Neutral 0.8-0.9
    (mean face 0.89); a broad smile pulls the corners out to 1.0-1.2; rounded lips
    ("oo") 0.7-0.8.
``brow_raise``
    Brow height over the eyes: the mean distance from each brow's points (17-21, 22-26)
    to its eye's centre, over ``iod``. Neutral 0.37-0.45 (mean face 0.42); raised
    brows 0.5 and up, a frown lower.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

import numpy as np
import numpy.typing as npt

from engine.faces.backends import as_landmarks
from engine.faces.errors import FaceAnalysisError
from engine.faces.shape68 import LEFT_BROW, LEFT_EYE, RIGHT_BROW, RIGHT_EYE


@dataclass(frozen=True)
class Expression:
    """Scale-invariant expression descriptors; see the module docstring for formulas
    and typical values."""

    mouth_open: float
    eyes_open: float
    smile: float
    brow_raise: float

    def as_array(self) -> npt.NDArray[np.float32]:
        """``[mouth_open, eyes_open, smile, brow_raise]`` for distance computations."""
        return np.array(astuple(self), dtype=np.float32)


def _dist(pts: npt.NDArray[np.float64], a: int, b: int) -> float:
    return float(np.linalg.norm(pts[a] - pts[b]))


def expression(landmarks: npt.ArrayLike) -> Expression:
    """The four expression descriptors of one face (68 landmarks, any coordinates)."""
    pts = as_landmarks(landmarks).astype(np.float64)
    eye_r = pts[RIGHT_EYE].mean(axis=0)
    eye_l = pts[LEFT_EYE].mean(axis=0)
    iod = float(np.linalg.norm(eye_l - eye_r))
    mouth_w = _dist(pts, 48, 54)
    eye_w_r = _dist(pts, 36, 39)
    eye_w_l = _dist(pts, 42, 45)
    if min(iod, mouth_w, eye_w_r, eye_w_l) < 1e-6:
        raise FaceAnalysisError("landmarks are degenerate (eyes or mouth collapse to a point)")
    gap = (_dist(pts, 61, 67) + _dist(pts, 62, 66) + _dist(pts, 63, 65)) / 3.0
    ear_r = (_dist(pts, 37, 41) + _dist(pts, 38, 40)) / (2.0 * eye_w_r)
    ear_l = (_dist(pts, 43, 47) + _dist(pts, 44, 46)) / (2.0 * eye_w_l)
    brow_r = np.linalg.norm(pts[RIGHT_BROW] - eye_r, axis=1).mean()
    brow_l = np.linalg.norm(pts[LEFT_BROW] - eye_l, axis=1).mean()
    return Expression(
        mouth_open=gap / mouth_w,
        eyes_open=(ear_r + ear_l) / 2.0,
        smile=mouth_w / iod,
        brow_raise=float((brow_r + brow_l) / 2.0 / iod),
    )
