"""The face-analysis pipeline for one frame: detect, landmark, align, crop and measure.

:class:`FaceAnalyzer` is what the extraction job runs per frame; :func:`rederive` is what
runs after a user moves landmarks (everything but detection is re-derived from the frame
and the new landmarks, which is why the project stores landmarks in frame pixels and
treats crops as a cache).

A ``FaceAnalyzer`` holds only settings and builds its backend on first use, so it can be
constructed in the parent process and pickled to worker processes, each of which loads
the models once (about half a second for dlib).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.faces.align import (
    FaceType,
    InterpolationName,
    alignment_matrix,
    as_face_type,
    check_size,
    crop_face,
    transform_points,
)
from engine.faces.backends import (
    Box,
    FaceBackend,
    Landmarks,
    RgbImage,
    as_landmarks,
    as_rgb_image,
    get_backend,
)
from engine.faces.dlib_backend import DlibIdentity
from engine.faces.errors import FaceAnalysisError
from engine.faces.expression import Expression, expression
from engine.faces.pose import Pose, estimate_pose
from engine.faces.quality import sharpness
from engine.faces.tracks import link_tracks


@dataclass(frozen=True, eq=False)
class DerivedFace:
    """Everything that follows from a frame and a face's landmarks.

    Attributes
    ----------
    face_type, size:
        The framing and side of the crop.
    matrix:
        ``(2, 3)`` float64 frame -> crop alignment.
    crop:
        The aligned ``(size, size, 3)`` uint8 RGB crop.
    pose:
        Yaw, pitch, roll in degrees (``engine.faces.pose``).
    sharpness:
        Laplacian variance inside the landmark hull at 256 px (``engine.faces.quality``).
    expression:
        Mouth/eye openness, smile, brow raise (``engine.faces.expression``).
    """

    face_type: FaceType
    size: int
    matrix: npt.NDArray[np.float64]
    crop: RgbImage
    pose: Pose
    sharpness: float
    expression: Expression


@dataclass(frozen=True, eq=False)
class AnalyzedFace:
    """One face found on a frame, with everything the face table stores about it.

    ``box``/``landmarks`` are frame pixels; ``embedding`` is the 128-d identity vector
    when it was asked for, else ``None``.
    """

    box: Box
    score: float
    landmarks: Landmarks
    face_type: FaceType
    size: int
    matrix: npt.NDArray[np.float64]
    crop: RgbImage
    pose: Pose
    sharpness: float
    expression: Expression
    embedding: npt.NDArray[np.float32] | None

    @property
    def landmarks_in_crop(self) -> npt.NDArray[np.float32]:
        return transform_points(self.landmarks, self.matrix).astype(np.float32)


def rederive(
    frame: RgbImage,
    landmarks: npt.ArrayLike,
    face_type: FaceType | str = FaceType.WHOLE,
    size: int = 256,
    *,
    interpolation: InterpolationName = "cubic",
) -> DerivedFace:
    """Alignment, crop, pose, sharpness and expression from a frame and 68 landmarks."""
    img = as_rgb_image(frame)
    lm = as_landmarks(landmarks)
    ftype = as_face_type(face_type)
    side = check_size(size)
    matrix = alignment_matrix(lm, ftype, side)
    crop = crop_face(img, matrix, side, interpolation=interpolation)
    return DerivedFace(
        face_type=ftype,
        size=side,
        matrix=matrix,
        crop=crop,
        pose=estimate_pose(lm),
        sharpness=sharpness(crop, transform_points(lm, matrix)),
        expression=expression(lm),
    )


class FaceAnalyzer:
    """Per-frame face analysis with one backend and one crop setting.

    Parameters
    ----------
    backend:
        Backend name for :func:`~engine.faces.backends.get_backend` ("dlib", "fan").
    face_type, size:
        Crop framing and side (64-1024).
    max_detect_side:
        Frames whose longer side exceeds this are detected on a downscaled copy (boxes
        mapped back). 960 keeps 720p/1080p detection fast while still finding faces of
        about 110/160 px at the first pyramid level and half that at the second.
        ``None`` detects at full size.
    backend_options:
        Extra keyword options for the backend.
    interpolation:
        Resampling filter of the crops.
    """

    def __init__(
        self,
        backend: str = "dlib",
        face_type: FaceType | str = FaceType.WHOLE,
        size: int = 256,
        *,
        max_detect_side: int | None = 960,
        backend_options: Mapping[str, Any] | None = None,
        interpolation: InterpolationName = "cubic",
    ) -> None:
        self.backend_name = backend
        self.face_type = as_face_type(face_type)
        self.size = check_size(size)
        self.max_detect_side = max_detect_side
        self.backend_options = dict(backend_options or {})
        self.interpolation: InterpolationName = interpolation
        self._backend: FaceBackend | None = None
        self._identity: DlibIdentity | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_backend"] = None  # rebuilt (and models reloaded) in the receiving process
        state["_identity"] = None
        return state

    def __repr__(self) -> str:
        return f"FaceAnalyzer({self.backend_name!r}, {self.face_type.value!r}, {self.size})"

    @property
    def backend(self) -> FaceBackend:
        if self._backend is None:
            options = {"max_detect_side": self.max_detect_side, **self.backend_options}
            self._backend = get_backend(self.backend_name, **options)
        return self._backend

    @property
    def identity(self) -> DlibIdentity:
        if self._identity is None:
            self._identity = DlibIdentity()
        return self._identity

    def load(self, *, with_embedding: bool = False) -> None:
        """Load the models now (a worker calls this once before its first frame)."""
        loader = getattr(self.backend, "load", None)
        if callable(loader):
            loader()
        if with_embedding:
            self.identity.load()

    def analyze(
        self,
        frame: RgbImage,
        *,
        min_face: float = 40.0,
        max_faces: int | None = None,
        with_embedding: bool = False,
    ) -> list[AnalyzedFace]:
        """All faces of ``frame``, largest first.

        ``min_face`` drops detections whose box is narrower than that many pixels;
        ``max_faces`` keeps only the largest ones (as DeepFaceLab's "max faces from
        image"); ``with_embedding`` adds the identity vector (~60 ms a face, so
        extraction embeds a sample of each track rather than every frame).
        """
        img = as_rgb_image(frame)
        if max_faces is not None and max_faces < 0:
            raise FaceAnalysisError(f"max_faces must be >= 0, got {max_faces}")
        found = [d for d in self.backend.detect(img) if min(d.width, d.height) >= min_face]
        found.sort(key=lambda d: d.width * d.height, reverse=True)
        if max_faces is not None:
            found = found[:max_faces]
        landmarks = [self.backend.landmarks(img, d.box) for d in found]
        embeddings: Sequence[npt.NDArray[np.float32] | None]
        if with_embedding and landmarks:
            embeddings = list(self.identity.descriptors(img, landmarks))
        else:
            embeddings = [None] * len(found)
        faces = []
        for det, lm, emb in zip(found, landmarks, embeddings, strict=True):
            derived = self.rederive(img, lm)
            faces.append(
                AnalyzedFace(
                    box=det.box,
                    score=det.score,
                    landmarks=lm,
                    face_type=derived.face_type,
                    size=derived.size,
                    matrix=derived.matrix,
                    crop=derived.crop,
                    pose=derived.pose,
                    sharpness=derived.sharpness,
                    expression=derived.expression,
                    embedding=emb,
                )
            )
        return faces

    def rederive(self, frame: RgbImage, landmarks: npt.ArrayLike) -> DerivedFace:
        """:func:`rederive` with this analyzer's face type, size and filter."""
        return rederive(frame, landmarks, self.face_type, self.size, interpolation=self.interpolation)

    def embed(self, frame: RgbImage, landmarks: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """The identity embedding of one face (for sampled faces of a track)."""
        return self.identity.descriptor(frame, landmarks)


def link_faces(
    faces_by_frame: Sequence[Sequence[AnalyzedFace]],
    *,
    frame_indices: Sequence[int] | None = None,
    max_gap: int = 2,
) -> list[npt.NDArray[np.int64]]:
    """:func:`~engine.faces.tracks.link_tracks` on analyzer output."""
    boxes = [np.array([f.box for f in faces], dtype=np.float64).reshape(-1, 4) for faces in faces_by_frame]
    lms = [
        np.stack([f.landmarks for f in faces]) if faces else np.zeros((0, 68, 2), np.float32)
        for faces in faces_by_frame
    ]
    return link_tracks(boxes, lms, frame_indices=frame_indices, max_gap=max_gap)
