"""dlib backend: HOG face detector, 68-point shape predictor, 128-d identity descriptor.

The offline default (ARCHITECTURE section 8): everything runs on the CPU and the weights
come from the ``face-recognition-models`` package, loaded by path. That package is never
imported: its ``__init__`` uses ``pkg_resources``, which current setuptools no longer
ships, so we locate its folder with ``importlib.util.find_spec`` instead.

Speed notes (360x288 frame, one core): HOG at upsample 0 on the grey image ~4.5 ms, on
RGB ~6 ms; upsample 1 is ~4x slower. HOG misses some faces at one pyramid level and finds
them at another, so :meth:`DlibBackend.detect` tries the levels in ``upsample_levels``
in order and stops at the first that finds anything. ``max_detect_side`` detects on a
downscaled copy of large frames (the boxes are mapped back), trading the smallest
findable face for speed: the HOG window is 80 px, so the smallest face found is about
``80 * scale_back / 2**upsample`` frame pixels.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from engine.faces.backends import (
    Box,
    Detection,
    Landmarks,
    RgbImage,
    as_landmarks,
    as_rgb_image,
)
from engine.faces.errors import BackendUnavailable, FaceAnalysisError

if TYPE_CHECKING:
    import dlib

SHAPE_PREDICTOR_FILE: Final = "shape_predictor_68_face_landmarks.dat"
FACE_RECOGNITION_FILE: Final = "dlib_face_recognition_resnet_model_v1.dat"
#: The HOG detector's sliding window side in pixels (dlib's frontal face detector).
HOG_WINDOW: Final = 80


def dlib_model_dir() -> Path:
    """The ``models`` folder of the installed ``face-recognition-models`` package, or of
    the folder of that name the bundle carries (a namespace package: no ``__init__``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders:
        raise BackendUnavailable(
            "dlib",
            "the package face-recognition-models is not installed "
            "(run `make setup`, or `pip install face-recognition-models`)",
        )
    return Path(folders[0]) / "models"


def _model_file(name: str) -> str:
    path = dlib_model_dir() / name
    if not path.is_file():
        raise BackendUnavailable("dlib", f"model file {path} is missing; reinstall face-recognition-models")
    return str(path)


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - dlib is a hard dependency
        raise BackendUnavailable("dlib", "the package dlib-bin is not installed (run `make setup`)") from exc
    return dlib


# One copy of each model per process, shared by every backend object in it: the objects
# themselves stay tiny and picklable, and a worker process pays the ~0.5 s load once.
@functools.cache
def _hog_detector() -> dlib.fhog_object_detector:
    return _import_dlib().get_frontal_face_detector()


@functools.cache
def _shape_predictor() -> dlib.shape_predictor:
    return _import_dlib().shape_predictor(_model_file(SHAPE_PREDICTOR_FILE))


@functools.cache
def _recognition_model() -> dlib.face_recognition_model_v1:
    return _import_dlib().face_recognition_model_v1(_model_file(FACE_RECOGNITION_FILE))


@functools.cache
def _descriptor_net() -> Any:
    """The same network run in torch (:mod:`engine.faces.dlib_resnet`, ~6x faster)."""
    from engine.faces.dlib_resnet import DlibResNet

    return DlibResNet(Path(_model_file(FACE_RECOGNITION_FILE))).eval()


def _to_dlib_rect(box: Box) -> dlib.rectangle:
    """Our float box (exclusive right/bottom) as dlib's inclusive integer rectangle."""
    dlib_mod = _import_dlib()
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise FaceAnalysisError(f"face box is too small: {box}")
    return dlib_mod.rectangle(x0, y0, x1 - 1, y1 - 1)


class DlibBackend:
    """HOG detection + 68-point shape predictor.

    Parameters
    ----------
    upsample_levels:
        HOG pyramid upsampling levels to try, in order, per frame; the first level that
        finds at least one face wins. ``(0, 1)``: fast level first, finer level only for
        frames where it found nothing.
    max_detect_side:
        If set and the frame's longer side exceeds it, detection runs on a copy scaled
        down to this side (boxes are mapped back to frame pixels). ``None``: full size.
    adjust_threshold:
        Added to dlib's detection threshold; negative finds more (and worse) faces.
    grayscale:
        Run HOG on the grey image (about 25 % faster, same faces on our test set).
    """

    name = "dlib"

    def __init__(
        self,
        *,
        upsample_levels: Sequence[int] = (0, 1),
        max_detect_side: int | None = None,
        adjust_threshold: float = 0.0,
        grayscale: bool = True,
    ) -> None:
        levels = tuple(int(u) for u in upsample_levels)
        if not levels or min(levels) < 0 or max(levels) > 3:
            raise FaceAnalysisError(f"upsample_levels must be 0..3, got {upsample_levels!r}")
        if max_detect_side is not None and max_detect_side < HOG_WINDOW:
            raise FaceAnalysisError(f"max_detect_side must be at least {HOG_WINDOW}, got {max_detect_side}")
        self.upsample_levels = levels
        self.max_detect_side = max_detect_side
        self.adjust_threshold = float(adjust_threshold)
        self.grayscale = grayscale

    def __repr__(self) -> str:
        return (
            f"DlibBackend(upsample_levels={self.upsample_levels}, "
            f"max_detect_side={self.max_detect_side}, adjust_threshold={self.adjust_threshold})"
        )

    def load(self) -> None:
        """Load the models now (otherwise the first call does), e.g. before timing."""
        _hog_detector()
        _shape_predictor()

    def detect(self, image: RgbImage) -> list[Detection]:
        """Faces in ``image``, best score first; see the class docstring for the levels."""
        rgb = as_rgb_image(image)
        work = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if self.grayscale else rgb
        height, width = rgb.shape[:2]
        scale = 1.0
        if self.max_detect_side is not None and max(height, width) > self.max_detect_side:
            scale = self.max_detect_side / max(height, width)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            work = cv2.resize(work, size, interpolation=cv2.INTER_AREA)
        detector = _hog_detector()
        for level in self.upsample_levels:
            rects, scores, _ = detector.run(work, level, self.adjust_threshold)
            if len(rects) > 0:
                break
        else:
            return []
        back = 1.0 / scale
        found = [
            Detection(
                box=(r.left() * back, r.top() * back, (r.right() + 1) * back, (r.bottom() + 1) * back),
                score=float(s),
            )
            for r, s in zip(rects, scores, strict=True)
        ]
        found.sort(key=lambda d: d.score, reverse=True)
        return found

    def landmarks(self, image: RgbImage, box: Box) -> Landmarks:
        """The shape predictor's 68 points for the face in ``box``."""
        rgb = as_rgb_image(image)
        shape = _shape_predictor()(rgb, _to_dlib_rect(box))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


class DlibIdentity:
    """dlib's ResNet face descriptor: 128-d, L2 distance < 0.6 means "same person".

    The descriptor is computed from the frame and *our* landmarks (which may come from
    any backend or from a user's edit): dlib aligns its own 150x150 chip from them.
    The network runs in torch (:mod:`engine.faces.dlib_resnet`, ~10 ms a face on one
    core, ~2-4 ms batched; dlib's own build takes ~60 ms) and gives dlib's numbers.
    """

    name = "dlib"

    def __init__(self, *, num_jitters: int = 0, padding: float = 0.25) -> None:
        self.num_jitters = int(num_jitters)
        self.padding = float(padding)

    def load(self) -> None:
        """Load the model now (otherwise the first call does)."""
        if self.num_jitters:
            _recognition_model()
        else:
            _descriptor_net()

    def descriptor(self, image: RgbImage, landmarks: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """The 128-d descriptor of the face with these 68 landmarks (frame pixels)."""
        return self.descriptors(image, [landmarks])[0]

    def descriptors(
        self, image: RgbImage, landmarks_list: Sequence[npt.ArrayLike]
    ) -> npt.NDArray[np.float32]:
        """Descriptors of several faces of one image, ``(n, 128)`` float32."""
        if len(landmarks_list) == 0:
            return np.zeros((0, 128), dtype=np.float32)
        dlib_mod = _import_dlib()
        rgb = as_rgb_image(image)
        shapes = dlib_mod.full_object_detections()
        for pts in landmarks_list:
            lm = as_landmarks(pts)
            lo = np.floor(lm.min(axis=0))
            hi = np.ceil(lm.max(axis=0)) + 1.0
            rect = _to_dlib_rect((lo[0], lo[1], max(hi[0], lo[0] + 2), max(hi[1], lo[1] + 2)))
            parts = dlib_mod.points([dlib_mod.point(int(round(x)), int(round(y))) for x, y in lm])
            shapes.append(dlib_mod.full_object_detection(rect, parts))
        if self.num_jitters:  # dlib's own random jitter
            vectors = _recognition_model().compute_face_descriptor(rgb, shapes, self.num_jitters, self.padding)
            return np.array([np.asarray(v) for v in vectors], dtype=np.float32)
        # dlib cuts the aligned 150 px chips (as compute_face_descriptor does); the
        # network runs in torch, all faces of the image in one batch.
        import torch

        chips = dlib_mod.get_face_chips(rgb, shapes, size=150, padding=self.padding)
        out = _descriptor_net()(torch.from_numpy(np.stack([np.asarray(c) for c in chips])))
        return out.numpy().astype(np.float32, copy=False)
