"""Head pose (yaw, pitch, roll in degrees) from 68 landmarks by perspective-n-point.

We fit a generic rigid 3D face to the 2D landmarks with ``cv2.solvePnP`` and read the
angles off the rotation. The 3D face is our own: x and y are our 2D mean face
(``shape68.MEAN_SHAPE_68``, so "frontal" means the same here as in alignment), and depth
is a per-point table in millimetres from average adult facial anthropometry (nose tip 0,
eye inner corners about 28 mm behind it, outer corners 45 mm, the jaw contour near the
ears about 90 mm), converted to face units with an outer-eye-corner distance of 90 mm.
Only points that do not move with expression are fitted: the upper jaw contour (0-2,
14-16), brows, nose and eyes. The mouth and chin are left out, so speech does not tilt
the head.

Sign conventions (image coordinates: x right, y down; "left/right" are the subject's):

- ``yaw`` > 0: the face turns toward the image's right (the subject's left), i.e. the
  nose points right in the picture.
- ``pitch`` > 0: the face tilts up (the nose points up in the picture).
- ``roll`` > 0: the head tilts clockwise in the picture (the subject's left eye, on the
  image's right, drops).

A frontal face gives (0, 0, 0); mirroring an image negates yaw and roll, not pitch.
The angles are the pose *as seen*, relative to the line of sight from the camera to the
face (so a face looking into the lens is frontal wherever it sits in the frame; this is
what its aligned crop shows). With ``frame_size`` the camera is a pinhole with focal
length = the frame's longer side (a ~53 degree field of view, typical of video) centred
on the frame, which models the perspective of off-centre faces; without it, an almost
orthographic camera centred on the face is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from engine.faces.backends import as_landmarks
from engine.faces.errors import FaceAnalysisError
from engine.faces.shape68 import MEAN_SHAPE_68, MIRROR_INDEX

#: Depth of each point in mm toward the camera relative to the nose tip (so all <= 0),
#: for the points of the subject's right half and the midline; the left half mirrors.
_DEPTH_MM_RIGHT: Final[dict[int, float]] = {
    # jaw contour, ear level down to the chin
    0: -88, 1: -86, 2: -80, 3: -72, 4: -62, 5: -50, 6: -38, 7: -29, 8: -25,
    # right brow, outer to inner
    17: -48, 18: -36, 19: -27, 20: -21, 21: -18,
    # nose bridge and base
    27: -21, 28: -15, 29: -8, 30: 0, 31: -24, 32: -17, 33: -14,
    # right eye: outer corner, upper lid, inner corner, lower lid
    36: -45, 37: -33, 38: -31, 39: -28, 40: -31, 41: -35,
    # mouth
    48: -35, 49: -22, 50: -15, 51: -13, 57: -15, 58: -17, 59: -24,
    60: -33, 61: -18, 62: -16, 66: -17, 67: -19,
}  # fmt: skip
_OUTER_EYE_MM: Final = 90.0
#: Rigid points used for the fit (no mouth, no lower jaw).
POSE_POINTS: Final = (0, 1, 2, 14, 15, 16, *range(17, 48))


def _build_model() -> npt.NDArray[np.float64]:
    depth = np.zeros(68)
    for i, z in _DEPTH_MM_RIGHT.items():
        depth[i] = z
        depth[MIRROR_INDEX[i]] = z
    unit_per_mm = float(np.linalg.norm(MEAN_SHAPE_68[45] - MEAN_SHAPE_68[36])) / _OUTER_EYE_MM
    model = np.zeros((68, 3))
    model[:, :2] = MEAN_SHAPE_68 - MEAN_SHAPE_68[30]
    model[:, 2] = -depth * unit_per_mm  # camera convention: z grows away from the camera
    return model


#: The generic 3D face in face units: x right, y down, z away from the camera, nose tip
#: at the origin; a frontal face seen by the camera has the identity rotation.
FACE_MODEL_3D: Final = _build_model()
FACE_MODEL_3D.setflags(write=False)


@dataclass(frozen=True)
class Pose:
    """Head rotation in degrees; see the module docstring for the signs."""

    yaw: float
    pitch: float
    roll: float


def _rot_x(a: float) -> npt.NDArray[np.float64]:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(a: float) -> npt.NDArray[np.float64]:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_z(a: float) -> npt.NDArray[np.float64]:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_from_pose(pose: Pose) -> npt.NDArray[np.float64]:
    """The model -> camera rotation with these angles (inverse of :func:`pose_from_rotation`).

    Built as yaw, then pitch, then roll about the face's own forward axis, so yaw and
    pitch are exactly the direction the nose points and roll the tilt around it.
    """
    yaw, pitch, roll = (math.radians(v) for v in (pose.yaw, pose.pitch, pose.roll))
    return _rot_y(-yaw) @ _rot_x(-pitch) @ _rot_z(roll)


def pose_from_rotation(rotation: npt.ArrayLike) -> Pose:
    """Yaw, pitch and roll (degrees) of a model -> camera rotation matrix."""
    rot = np.asarray(rotation, dtype=np.float64)
    forward = rot @ np.array([0.0, 0.0, -1.0])  # the nose's direction, toward the camera
    yaw = math.atan2(forward[0], -forward[2])
    pitch = math.atan2(-forward[1], math.hypot(forward[0], forward[2]))
    rest = (_rot_y(-yaw) @ _rot_x(-pitch)).T @ rot
    roll = math.atan2(rest[1, 0], rest[0, 0])
    return Pose(yaw=math.degrees(yaw), pitch=math.degrees(pitch), roll=math.degrees(roll))


def camera_matrix(
    landmarks: npt.NDArray[np.float32], frame_size: tuple[int, int] | None
) -> npt.NDArray[np.float64]:
    """Pinhole intrinsics for the frame (``(width, height)``), or near-orthographic."""
    if frame_size is not None:
        width, height = frame_size
        focal = float(max(width, height))
        cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    else:
        span = float(np.ptp(landmarks, axis=0).max())
        focal = 20.0 * max(span, 1.0)
        cx, cy = (float(v) for v in landmarks.mean(axis=0))
    return np.array([[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]])


def estimate_pose(landmarks: npt.ArrayLike, frame_size: tuple[int, int] | None = None) -> Pose:
    """Yaw, pitch and roll in degrees of the face with these 68 landmarks.

    ``frame_size`` is ``(width, height)`` of the frame the landmarks are in; pass it for
    video frames so off-centre faces are corrected for perspective.
    """
    lm = as_landmarks(landmarks)
    if float(np.ptp(lm, axis=0).min()) < 2.0:
        raise FaceAnalysisError("landmarks are degenerate (the face is under 2 pixels)")
    image_pts = lm[list(POSE_POINTS)].astype(np.float64)
    object_pts = FACE_MODEL_3D[list(POSE_POINTS)]
    cam = camera_matrix(lm, frame_size)
    ok, rvec, _tvec = cv2.solvePnP(object_pts, image_pts, cam, None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        raise FaceAnalysisError("head pose could not be estimated from these landmarks")
    rot, _ = cv2.Rodrigues(rvec)
    # Report the pose as seen along the line of sight to the face, not relative to the
    # optical axis: a face looking into the lens is frontal wherever it is in the frame
    # (that is what its aligned crop shows, and what sorting by pose wants).
    return pose_from_rotation(_ray_rotation(_tvec.ravel()).T @ rot)


def _ray_rotation(target: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The smallest rotation taking the optical axis (0, 0, 1) onto ``target``'s direction."""
    ray = target / np.linalg.norm(target)
    axis = np.cross([0.0, 0.0, 1.0], ray)
    sin_a = float(np.linalg.norm(axis))
    if sin_a < 1e-12:
        return np.eye(3)
    angle = math.atan2(sin_a, float(ray[2]))
    rot, _ = cv2.Rodrigues(axis / sin_a * angle)
    return rot


def project_model(
    pose: Pose, *, focal: float, center: tuple[float, float], distance: float, scale: float = 1.0
) -> npt.NDArray[np.float32]:
    """68 image points of the generic face at ``pose``: a synthetic face for tests and
    for drawing a pose gizmo. ``scale`` is face units -> model size; ``distance`` the
    nose tip's depth in the same units."""
    rot = rotation_from_pose(pose)
    cam = np.array([[focal, 0.0, center[0]], [0.0, focal, center[1]], [0.0, 0.0, 1.0]])
    rvec, _ = cv2.Rodrigues(rot)
    tvec = np.array([0.0, 0.0, distance])
    pts, _ = cv2.projectPoints(FACE_MODEL_3D * scale, rvec, tvec, cam, None)
    return pts.reshape(68, 2).astype(np.float32)
