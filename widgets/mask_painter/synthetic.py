"""A synthetic face for the painter's demo, tests and benchmark (deterministic, no files)."""

from __future__ import annotations

import cv2
import numpy as np

from engine.faces.align import alignment_matrix
from engine.masks.hull import DEFAULT_FOREHEAD, hull_label
from engine.masks.raster import rasterize
from engine.masks.shapes import LabelMask
from widgets.frame_view.__main__ import landmarks_in_box, synthetic_frame
from widgets.mask_painter.geometry import canvas_picture
from widgets.mask_painter.model import PainterFace

FRAME_SIZE = (640, 360)
#: The boxes of the synthetic faces; face i (1-based) is on frame i - 1 and drifts right.
FACE_BOX = (150.0, 60.0, 290.0, 250.0)


def face_landmarks(index: int = 0) -> np.ndarray:
    x0, y0, x1, y1 = FACE_BOX
    dx = 6.0 * index
    return landmarks_in_box((x0 + dx, y0, x1 + dx, y1)).astype(np.float64)


def predicted_mask(landmarks: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """A soft, plausible "prediction": the hull with forehead, rounded and blurred a little."""
    hard = rasterize(hull_label(landmarks, forehead=DEFAULT_FOREHEAD), matrix, size)
    k = max(3, size // 64) | 1
    return cv2.GaussianBlur(hard, (k, k), 0)


def synthetic_face(size: int = 256, *, index: int = 0, face_type: str = "whole", margin: int | None = None,
                   label: LabelMask | None = None, with_prediction: bool = True) -> PainterFace:
    """Face ``index + 1`` of the synthetic clip as the painter shows it."""
    lm = face_landmarks(index)
    matrix = alignment_matrix(lm, face_type, size)
    m = size // 4 if margin is None else margin
    frame = synthetic_frame(*FRAME_SIZE)
    return PainterFace(
        face_id=index + 1,
        image=canvas_picture(frame, matrix, size, m),
        matrix=matrix,
        size=size,
        margin=m,
        label=label,
        predicted=predicted_mask(lm, matrix, size) if with_prediction else None,
        landmarks=lm,
    )
