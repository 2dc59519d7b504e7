"""Face alignment: frame -> aligned crop, and back.

An aligned crop is the frame warped by a similarity transform (rotation, uniform scale,
shift) that puts the face's landmarks onto a mean face. We store the 2x3 frame -> crop
matrix with each face; the crop itself is a cache that can always be re-derived from the
frame and the matrix (ARCHITECTURE section 3).

How the matrix is built (the DeepFaceLab recipe users know, our own code and template):

1. Umeyama least-squares similarity of landmarks 17-67 (brows, nose, eyes, mouth; the
   jaw contour is left out because it slides with pose) onto our mean face
   (``shape68.MEAN_SHAPE_68``), which lives in the unit square: frame -> "face units".
2. The face type pads that unit square: padding ``p`` grows its side to
   ``1 + 2*sqrt(2)*p`` face units around its centre (DeepFaceLab's half-diagonal rule),
   so ``half`` is the bare square and ``head`` is ~3x wider.
3. ``whole`` moves the centre up by 0.07 face units to take in the forehead; ``head``
   moves it up by 0.5 and sideways by a yaw estimate, because the skull sits behind
   the face.
4. The padded square is mapped onto the ``size x size`` crop, its corners on the crop's
   outer pixel edges (pixel centres are on integer coordinates throughout).

Our template is derived from our own data (see ``shape68``), not copied; its placement
in the unit square follows the shared convention, so crops are framed within a few
percent of DeepFaceLab's for the same face type.
"""

from __future__ import annotations

import enum
import math
from typing import Final, Literal

import cv2
import numpy as np
import numpy.typing as npt

from engine.faces.backends import RgbImage, as_landmarks, as_rgb_image
from engine.faces.errors import FaceAnalysisError
from engine.faces.shape68 import MEAN_SHAPE_68

Matrix = npt.NDArray[np.float64]

ALIGN_POINTS: Final = slice(17, 68)
MIN_SIZE: Final = 64
MAX_SIZE: Final = 1024


class FaceType(enum.StrEnum):
    """How much of the head an aligned crop shows (DeepFaceLab's face types)."""

    HALF = "half"
    MID_FULL = "mid_full"
    FULL = "full"
    WHOLE = "whole"
    HEAD = "head"


FaceTypeName = Literal["half", "mid_full", "full", "whole", "head"]

#: DeepFaceLab's paddings, kept exactly so a "whole face" here frames like theirs.
PADDING: Final[dict[FaceType, float]] = {
    FaceType.HALF: 0.0,
    FaceType.MID_FULL: 0.0675,
    FaceType.FULL: 0.2109375,
    FaceType.WHOLE: 0.40,
    FaceType.HEAD: 0.70,
}
#: Upward centre shift in face units (the unit square's side).
_UP_SHIFT: Final[dict[FaceType, float]] = {FaceType.WHOLE: 0.07, FaceType.HEAD: 0.50}

# DeepFaceLab writes these names into its face files; accept them on import.
_ALIASES: Final[dict[str, FaceType]] = {
    "half_face": FaceType.HALF,
    "midfull_face": FaceType.MID_FULL,
    "mid_full_face": FaceType.MID_FULL,
    "full_face": FaceType.FULL,
    "whole_face": FaceType.WHOLE,
}


def as_face_type(value: FaceType | str) -> FaceType:
    """A :class:`FaceType` from itself, its value, or a DeepFaceLab name (``whole_face``)."""
    if isinstance(value, FaceType):
        return value
    key = str(value).strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return FaceType(key)
    except ValueError:
        known = ", ".join(t.value for t in FaceType)
        raise FaceAnalysisError(f"unknown face type {value!r}; known: {known}") from None


def check_size(size: int) -> int:
    """``size`` if it is a supported crop side, else a clear error."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise FaceAnalysisError(f"crop size must be an integer, got {size!r}")
    if not MIN_SIZE <= int(size) <= MAX_SIZE:
        raise FaceAnalysisError(f"crop size must be {MIN_SIZE}-{MAX_SIZE} pixels, got {size}")
    return int(size)


def umeyama(src: npt.ArrayLike, dst: npt.ArrayLike, estimate_scale: bool = True) -> Matrix:
    """Least-squares similarity transform mapping points ``src`` onto ``dst``.

    Umeyama (1991), "Least-squares estimation of transformation parameters between two
    point patterns": the rotation comes from the SVD of the cross-covariance, with a
    reflection guard, and the scale from the singular values over the source variance.
    Returns the homogeneous ``(D+1, D+1)`` matrix, ``(3, 3)`` for 2D points.
    """
    a = np.asarray(src, dtype=np.float64)
    b = np.asarray(dst, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] < 2:
        raise FaceAnalysisError(f"umeyama needs two (n, d) point sets, got {a.shape} and {b.shape}")
    n, dim = a.shape
    mean_a = a.mean(axis=0)
    mean_b = b.mean(axis=0)
    ca = a - mean_a
    cb = b - mean_b
    cov = cb.T @ ca / n
    u, s, vt = np.linalg.svd(cov)
    rank = int((s > s[0] * dim * np.finfo(np.float64).eps).sum()) if s[0] > 0 else 0
    if rank == 0:
        raise FaceAnalysisError("umeyama: degenerate point set (all points coincide)")
    d = np.ones(dim)
    if rank == dim - 1:
        if np.linalg.det(u) * np.linalg.det(vt) < 0:
            d[-1] = -1.0
    elif np.linalg.det(cov) < 0:
        d[-1] = -1.0  # the best orthogonal fit is a reflection: take the best rotation
    rot = u @ np.diag(d) @ vt
    var_a = (ca**2).sum() / n
    scale = float(s @ d / var_a) if estimate_scale else 1.0
    out = np.eye(dim + 1)
    out[:dim, :dim] = scale * rot
    out[:dim, dim] = mean_b - scale * rot @ mean_a
    return out


def transform_points(points: npt.ArrayLike, matrix: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Apply a ``(2, 3)`` or ``(3, 3)`` affine matrix to ``(n, 2)`` points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    mat = np.asarray(matrix, dtype=np.float64)
    return pts @ mat[:2, :2].T + mat[:2, 2]


def invert_alignment(matrix: npt.ArrayLike) -> Matrix:
    """The crop -> frame ``(2, 3)`` matrix of a frame -> crop ``(2, 3)`` matrix."""
    mat = np.asarray(matrix, dtype=np.float64)[:2]
    if abs(np.linalg.det(mat[:, :2])) < 1e-12:
        raise FaceAnalysisError("alignment matrix is singular")
    return cv2.invertAffineTransform(mat).astype(np.float64)


def _head_yaw_shift(face_units: npt.NDArray[np.float64]) -> float:
    """Sideways shift of the head centre, in face units, from the face's turn.

    The jaw-to-nose widths on each side differ when the face is turned; the skull is
    behind the face, so the crop centre moves toward the wider (far) side. Damped with
    ``|tanh(2d)|`` so near-frontal faces do not jitter.
    """
    nose = face_units[27:30, 0]
    right = (nose - face_units[0:3, 0]).mean()  # image-left side width
    left = (face_units[16:13:-1, 0] - nose).mean()  # image-right side width
    d = float(left - right)
    return 0.5 * d * abs(math.tanh(2.0 * d))


def alignment_matrix(landmarks: npt.ArrayLike, face_type: FaceType | str, size: int) -> Matrix:
    """The frame -> crop ``(2, 3)`` float64 matrix for a ``size x size`` aligned crop."""
    lm = as_landmarks(landmarks).astype(np.float64)
    ftype = as_face_type(face_type)
    side_px = check_size(size)
    to_units = umeyama(lm[ALIGN_POINTS], MEAN_SHAPE_68[ALIGN_POINTS])
    side = 1.0 + 2.0 * math.sqrt(2.0) * PADDING[ftype]
    cx, cy = 0.5, 0.5 - _UP_SHIFT.get(ftype, 0.0)
    if ftype is FaceType.HEAD:
        cx += _head_yaw_shift(transform_points(lm, to_units))
    # face units -> crop pixels: the padded square's edges land on -0.5 and size - 0.5.
    k = side_px / side
    units_to_crop = np.array(
        [[k, 0.0, (side_px - 1) / 2.0 - k * cx], [0.0, k, (side_px - 1) / 2.0 - k * cy], [0.0, 0.0, 1.0]]
    )
    return (units_to_crop @ to_units)[:2].copy()


InterpolationName = Literal["lanczos", "cubic", "linear", "area"]
BorderName = Literal["constant", "replicate", "reflect"]
_INTERPOLATION: Final = {
    "lanczos": cv2.INTER_LANCZOS4,
    "cubic": cv2.INTER_CUBIC,
    "linear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
}
_BORDER: Final = {
    "constant": cv2.BORDER_CONSTANT,
    "replicate": cv2.BORDER_REPLICATE,
    "reflect": cv2.BORDER_REFLECT101,
}


def crop_face(
    frame: RgbImage,
    matrix: npt.ArrayLike,
    size: int,
    *,
    interpolation: InterpolationName = "cubic",
    border: BorderName = "constant",
) -> RgbImage:
    """The aligned ``size x size`` uint8 RGB crop of ``frame`` under ``matrix``.

    Defaults: bicubic (within a hair of Lanczos on faces, ~2x faster) and a black
    border where the crop leaves the frame, as DeepFaceLab does: an honest edge that
    masks exclude, rather than replicated streaks a model would learn.
    """
    img = as_rgb_image(frame)
    side = check_size(size)
    mat = np.asarray(matrix, dtype=np.float64)[:2]
    return cv2.warpAffine(
        img, mat, (side, side), flags=_INTERPOLATION[interpolation], borderMode=_BORDER[border], borderValue=0
    )


def resize_alignment(matrix: npt.ArrayLike, from_size: int, to_size: int) -> Matrix:
    """The matrix for the same framing at another crop size (e.g. 512 -> 256 preview)."""
    mat = np.asarray(matrix, dtype=np.float64)[:2]
    k = check_size(to_size) / check_size(from_size)
    shift = (k - 1.0) / 2.0  # keep pixel centres consistent: u' + 0.5 = k (u + 0.5)
    scale = np.array([[k, 0.0, shift], [0.0, k, shift], [0.0, 0.0, 1.0]])
    return (scale @ np.vstack([mat, [0.0, 0.0, 1.0]]))[:2].copy()


def crop_quad(matrix: npt.ArrayLike, size: int) -> npt.NDArray[np.float64]:
    """The crop's four outer corners in frame pixels, clockwise from top-left; the area
    of this quadrilateral is the crop's footprint on the frame."""
    edge = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [size - 0.5, size - 0.5], [-0.5, size - 0.5]])
    return transform_points(edge, invert_alignment(matrix))
