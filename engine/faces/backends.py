"""The one small interface every face backend implements, and the backend registry.

A backend does two things: find faces (:meth:`FaceBackend.detect` -> boxes with a
score) and place the 68 iBUG landmarks inside a box (:meth:`FaceBackend.landmarks`).
Everything after that (alignment, pose, quality, expression) is backend-independent
geometry in the other modules, so adding a backend never touches its callers.

Backends are created by name through :func:`get_backend`; the heavy packages (dlib,
torch) are imported only when a backend that needs them is asked for, so importing
``engine.faces`` stays cheap. Backend objects hold only their settings and load their
models lazily, once per process, which keeps them picklable for worker processes.

Conventions (shared by all of ``engine.faces``): images are uint8 ``(H, W, 3)`` RGB;
boxes are ``(x0, y0, x1, y1)`` floats in frame pixels with ``x1``/``y1`` exclusive
edges; landmarks are float32 ``(68, 2)`` in frame pixels, pixel centres on integers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from engine.faces.errors import FaceAnalysisError

RgbImage = npt.NDArray[np.uint8]
Landmarks = npt.NDArray[np.float32]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    """One face found by a detector.

    Attributes
    ----------
    box:
        ``(x0, y0, x1, y1)`` in frame pixels (``x1``, ``y1`` exclusive).
    score:
        The detector's own confidence. Its scale is backend-specific (dlib HOG gives an
        SVM margin, typically 0..3), so compare scores only within one backend.
    """

    box: Box
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


@runtime_checkable
class FaceBackend(Protocol):
    """What the rest of the engine needs from a detector + landmarker."""

    name: str

    def detect(self, image: RgbImage) -> list[Detection]:
        """Faces in ``image``, best score first."""
        ...

    def landmarks(self, image: RgbImage, box: Box) -> Landmarks:
        """The 68 landmarks of the face in ``box``, float32 ``(68, 2)`` frame pixels."""
        ...


def as_rgb_image(image: npt.ArrayLike) -> RgbImage:
    """``image`` as a C-contiguous uint8 ``(H, W, 3)`` array, or a clear error.

    Native libraries (dlib in particular) refuse strided views such as the padded rows
    PyAV returns, so every entry point normalises its input here.
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise FaceAnalysisError(
            f"expected an RGB image as uint8 (H, W, 3), got {arr.dtype} {arr.shape}"
        )
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise FaceAnalysisError(f"image is too small: {arr.shape[1]}x{arr.shape[0]} pixels")
    return np.ascontiguousarray(arr)


def as_landmarks(landmarks: npt.ArrayLike) -> Landmarks:
    """``landmarks`` as float32 ``(68, 2)``, or a clear error (wrong shape, NaN)."""
    arr = np.asarray(landmarks, dtype=np.float32)
    if arr.shape != (68, 2):
        raise FaceAnalysisError(f"expected 68 landmarks as (68, 2), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise FaceAnalysisError("landmarks contain NaN or infinite values")
    return arr


def _make_dlib(**options: Any) -> FaceBackend:
    from engine.faces.dlib_backend import DlibBackend

    return DlibBackend(**options)


def _make_fan(**options: Any) -> FaceBackend:
    from engine.faces.fan_backend import FanBackend

    return FanBackend(**options)


def _make_mediapipe(**options: Any) -> FaceBackend:
    from engine.faces.mediapipe_backend import MediapipeBackend

    return MediapipeBackend(**options)


_REGISTRY: Final[dict[str, Callable[..., FaceBackend]]] = {
    "dlib": _make_dlib,
    "fan": _make_fan,
    "mediapipe": _make_mediapipe,
}

#: The pose-robust default; "dlib" (HOG) is the fast option and the fallback.
DEFAULT_BACKEND: Final = "mediapipe"
#: What extraction uses when a backend's weights are missing or corrupt.
FALLBACK_BACKEND: Final = "dlib"


def backend_names() -> tuple[str, ...]:
    """Names :func:`get_backend` accepts."""
    return tuple(_REGISTRY)


def get_backend(name: str = DEFAULT_BACKEND, **options: Any) -> FaceBackend:
    """Create the backend called ``name`` with its keyword ``options``.

    ``"mediapipe"`` (default): full-range BlazeFace + face mesh mapped to 68 points, run
    in torch from the ``.tflite`` files of the mediapipe wheel (profiles, three-quarter
    and small faces). ``"dlib"``: HOG detector + 68-point shape predictor, CPU, weights shipped in
    the ``face-recognition-models`` package. ``"fan"``: face_alignment's 2D FAN landmarks
    (more accurate on hard poses), HOG detection; needs its weight file in the torch hub
    cache and raises :class:`~engine.faces.errors.BackendUnavailable` saying where to
    put it when it is missing.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise FaceAnalysisError(f"unknown face backend {name!r}; known: {known}") from None
    return factory(**options)
