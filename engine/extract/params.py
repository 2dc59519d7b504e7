"""The parameters of an extraction, checked when the job is queued.

Kept apart from the pipeline so the job registry, the CLI and the editor can import them
without pulling in numpy, OpenCV or dlib.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final, Literal

FaceTypeName = Literal["half", "mid_full", "full", "whole", "head"]
BackendName = Literal["mediapipe", "dlib", "fan"]
MIN_SIZE: Final = 64
MAX_SIZE: Final = 1024


def default_processes() -> int:
    """One analysis process per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def check_fan_backend() -> None:
    """Refuse the FAN backend when its packages (face-alignment, numba: the bundled app has
    neither) or its weight file are missing (ValueError naming what and where).

    Checked when the job is queued, so ``extract --backend fan`` without them is refused
    at once with what to fix, instead of a job that starts and then fails with a
    traceback. Facesmith never downloads the file and never silently swaps in another
    backend: the user picks the default (or dlib) if that is what they want.
    """
    from engine.faces.errors import BackendUnavailable
    from engine.faces.fan_backend import check_fan_installed, fan_weights_path

    try:
        check_fan_installed()
        fan_weights_path()
    except BackendUnavailable as exc:
        raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class ExtractParams:
    """What to extract and how.

    Attributes
    ----------
    clips : clip names or ids; empty = every clip (of ``role``, when given).
    role : ``src`` or ``dst``: all clips of that role.
    start, stop : frame range (stop exclusive), applied to each clip; ``None`` = the
        clip's own in/out range.
    every_nth : scan every n-th frame of the range.
    min_face : ignore detections narrower than this many frame pixels.
    max_faces : keep at most this many faces per frame, the largest; ``None``: all.
    face_type, size : framing and side of the aligned crops (64-1024).
    backend : face detector + landmarker: ``mediapipe`` (default; profiles and small
        faces), ``dlib`` (HOG, fast; also the fallback when mediapipe's weights are
        missing), ``fan``.
    smooth : temporal landmark smoothing along each track, 0 (off) to 1 (strong).
    embed_sample : identity embeddings computed per track (the sharpest faces of
        equal stretches); persons are clustered from track means of these.
    processes : analysis processes; ``None``: one per core; 0: in the job's process.
    reference_face, reference_image : keep only faces of the person of this face (id)
        or of the face in this image; the others are excluded (not deleted).
    jpeg_quality : of the crop files.
    redo : extract the range again with these settings, replacing its detected faces
        but keeping the user's (hand-added, landmark-edited, masked faces; persons):
        :mod:`engine.extract.redo`.
    """

    clips: list[int | str] = field(default_factory=list)
    role: Literal["src", "dst"] | None = None
    start: int | None = None
    stop: int | None = None
    every_nth: int = 1
    min_face: int = 40
    max_faces: int | None = None
    face_type: FaceTypeName = "whole"
    size: int = 256
    backend: BackendName = "mediapipe"
    smooth: float = 0.0
    embed_sample: int = 5
    processes: int | None = None
    reference_face: int | None = None
    reference_image: str | None = None
    jpeg_quality: int = 95
    redo: bool = False

    def __post_init__(self) -> None:
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(f"size must be {MIN_SIZE}-{MAX_SIZE} pixels, got {self.size}")
        if self.every_nth < 1:
            raise ValueError(f"every_nth must be >= 1, got {self.every_nth}")
        if self.min_face < 0:
            raise ValueError(f"min_face must be >= 0, got {self.min_face}")
        if self.max_faces is not None and self.max_faces < 1:
            raise ValueError(f"max_faces must be >= 1 (or null for all), got {self.max_faces}")
        if self.start is not None and self.start < 0:
            raise ValueError(f"start must be >= 0, got {self.start}")
        if self.start is not None and self.stop is not None and self.stop <= self.start:
            raise ValueError(f"the frame range {self.start}:{self.stop} is empty")
        if not 0.0 <= self.smooth <= 1.0:
            raise ValueError(f"smooth must be within 0-1, got {self.smooth}")
        if not 1 <= self.embed_sample <= 100:
            raise ValueError(f"embed_sample must be 1-100, got {self.embed_sample}")
        if self.processes is not None and not 0 <= self.processes <= 256:
            raise ValueError(f"processes must be 0-256, got {self.processes}")
        if self.reference_face is not None and self.reference_image is not None:
            raise ValueError("give reference_face or reference_image, not both")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1-100, got {self.jpeg_quality}")
        if self.clips and self.role is not None:
            raise ValueError("give clips or role, not both")
        if self.backend == "fan":
            check_fan_backend()

    @property
    def process_count(self) -> int:
        return default_processes() if self.processes is None else self.processes
