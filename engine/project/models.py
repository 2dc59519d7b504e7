"""Frozen value types for the rows of a project database.

They carry no connection and no Qt, so the editor's widgets, the engine's jobs and the
tests all pass them around freely. Arrays (landmarks, alignment, embedding) are numpy
arrays decoded from little-endian blobs; equality is by ``id`` for rows that have one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

Role = Literal["src", "dst"]
ROLES: Final = ("src", "dst")
FaceType = Literal["half", "mid_full", "full", "whole", "head"]
FACE_TYPES: Final = ("half", "mid_full", "full", "whole", "head")
JobState = Literal["queued", "running", "paused", "done", "failed", "cancelled"]
JOB_STATES: Final = ("queued", "running", "paused", "done", "failed", "cancelled")
#: States a job never leaves on its own.
FINAL_STATES: Final = frozenset({"done", "failed", "cancelled"})

LANDMARKS_DTYPE: Final = np.dtype("<f4")
ALIGNMENT_DTYPE: Final = np.dtype("<f8")
#: Identity embeddings are stored as float16: distances move by ~1e-3 against a 0.6
#: same-person threshold, and 100,000 faces write half the bytes.
EMBEDDING_DTYPE: Final = np.dtype("<f2")


def landmarks_to_blob(points: np.ndarray) -> bytes:
    arr = points if points.dtype == LANDMARKS_DTYPE else np.asarray(points, dtype=LANDMARKS_DTYPE)
    if arr.shape != (68, 2):
        raise ValueError(f"landmarks must be 68x2, got {arr.shape}")
    return arr.tobytes()


def landmarks_from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=LANDMARKS_DTYPE).reshape(68, 2)


def alignment_to_blob(matrix: np.ndarray) -> bytes:
    arr = matrix if matrix.dtype == ALIGNMENT_DTYPE else np.asarray(matrix, dtype=ALIGNMENT_DTYPE)
    if arr.shape != (2, 3):
        raise ValueError(f"alignment must be 2x3, got {arr.shape}")
    return arr.tobytes()


def alignment_from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=ALIGNMENT_DTYPE).reshape(2, 3)


def embedding_to_blob(vector: np.ndarray | None) -> bytes | None:
    if vector is None:
        return None
    return np.asarray(vector, dtype=EMBEDDING_DTYPE).reshape(-1).tobytes()


def embedding_from_blob(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype=EMBEDDING_DTYPE).astype(np.float32)


@dataclass(frozen=True)
class Clip:
    """A video (``kind`` 'video') or an image clip ('images', 'faceset': one image a frame,
    listed in the ``clip_images`` table) in the project. ``out_frame`` is exclusive;
    ``None`` means the end."""

    id: int
    name: str
    role: Role
    path: Path
    size_bytes: int
    fingerprint: str
    width: int
    height: int
    fps: Fraction
    frame_count: int
    duration_s: float
    rotation: int
    codec: str
    audio_streams: int
    audio_codec: str | None
    in_frame: int
    out_frame: int | None
    added_at: float
    kind: str = "video"

    @property
    def missing(self) -> bool:
        """True when the file (for an image clip: the folder, the pattern's folder or the
        still) is no longer where the project expects it."""
        if self.kind == "video":
            return not self.path.is_file()
        if "%" in self.path.name:
            return not self.path.parent.is_dir()
        return not self.path.exists()

    @property
    def frame_range(self) -> tuple[int, int]:
        """The in/out range as ``(start, stop)``, stop exclusive."""
        stop = self.frame_count if self.out_frame is None else min(self.out_frame, self.frame_count)
        return self.in_frame, stop


@dataclass(frozen=True)
class NewClip:
    """What clip import knows about a file before it has a row."""

    name: str
    role: Role
    path: Path
    size_bytes: int
    fingerprint: str
    width: int
    height: int
    fps: Fraction
    frame_count: int
    duration_s: float
    rotation: int
    codec: str
    audio_streams: int
    audio_codec: str | None
    kind: str = "video"


@dataclass(frozen=True, eq=False)
class NewFace:
    """A face found by extraction, before it has a row (see :class:`Face`)."""

    clip_id: int
    frame: int
    idx: int
    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    face_type: FaceType
    crop_size: int
    alignment: np.ndarray
    yaw: float | None = None
    pitch: float | None = None
    roll: float | None = None
    sharpness: float | None = None
    mouth_open: float | None = None
    eyes_open: float | None = None
    smile: float | None = None
    brow_raise: float | None = None
    embedding: np.ndarray | None = None
    track_id: int | None = None
    person_id: int | None = None
    excluded: bool = False
    crop_path: str | None = None
    swap_excluded: bool = False


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face on one frame of a clip. All geometry is in frame pixels.

    Attributes
    ----------
    box : (x0, y0, x1, y1) of the detection.
    landmarks : float32 (68, 2) iBUG points.
    alignment : float64 (2, 3) similarity transform from frame to the aligned crop.
    crop_path : the crop file relative to the project folder (a re-creatable cache).
    excluded : left out of the training set (its role's face set); still merged.
    swap_excluded : "not swapped": a merge leaves this face as it is in the frame.
    """

    id: int
    clip_id: int
    frame: int
    idx: int
    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    face_type: FaceType
    crop_size: int
    alignment: np.ndarray
    yaw: float | None
    pitch: float | None
    roll: float | None
    sharpness: float | None
    mouth_open: float | None
    eyes_open: float | None
    smile: float | None
    brow_raise: float | None
    embedding: np.ndarray | None
    track_id: int | None
    person_id: int | None
    excluded: bool
    crop_path: str | None
    created_at: float
    swap_excluded: bool = False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Face) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("face", self.id))


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    wanted: bool
    created_at: float
    #: proposed from too few faces or low detection scores (docs/CONTEXT.md, "uncertain person")
    uncertain: bool = False


@dataclass(frozen=True)
class Model:
    id: int
    kind: Literal["xseg", "swap"]
    name: str
    arch: str
    face_type: FaceType
    resolution: int
    config: dict[str, Any] = field(hash=False)
    iteration: int = 0
    path: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class Job:
    """A unit of engine work and everything the engine reported about it."""

    id: int
    kind: str
    params: dict[str, Any] = field(hash=False, compare=False)
    state: JobState = "queued"
    priority: int = 0
    progress: float = 0.0
    status_text: str = ""
    error_text: str | None = None
    result: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    checkpoint: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    preview_path: str | None = None
    cancel_requested: bool = False
    pause_requested: bool = False
    worker: str | None = None
    attempts: int = 0
    heartbeat_at: float | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float = 0.0
    #: the lane a running job holds (``gpu:0``, ``compute``, ``cpu``, ``io``; engine.jobs.lanes)
    lane: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class Render:
    id: int
    clip_id: int
    job_id: int | None
    model_id: int | None
    path: str
    format: str
    frame_start: int
    frame_end: int
    settings: dict[str, Any] = field(hash=False, compare=False)
    created_at: float = 0.0


def json_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)
