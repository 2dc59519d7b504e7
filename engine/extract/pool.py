"""The analysis processes of extraction: one face analyzer per process, fed frames in chunks.

Why processes and why *spawn*: detection and landmarks are CPU-bound native code that
holds the GIL for most of a frame, so threads would not scale; and forking a process
that has loaded torch or dlib (or runs a decoder thread) can deadlock or crash, so each
worker starts a fresh interpreter. That costs about 0.9 s on two cores (interpreter,
numpy, cv2, the dlib models), paid once: the pool lives for the whole job, and it
starts while the main process is still opening clips.

What crosses the process boundary is kept small and plain: frames go in as numpy
arrays in chunks of a few megabytes, faces come back as :class:`FoundFace` values whose
crop is already JPEG-encoded (about 20 KB instead of a 196 KB array), so the main
process only writes bytes and rows.

This module must stay cheap to import: a worker imports it before its first frame.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Final, TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from engine.faces.align import alignment_matrix, as_face_type, crop_face, transform_points
from engine.faces.analyze import FaceAnalyzer
from engine.faces.backends import as_landmarks, as_rgb_image
from engine.faces.expression import expression
from engine.faces.pose import estimate_pose
from engine.faces.quality import sharpness
from engine.extract.params import FaceTypeName

M = TypeVar("M")
R = TypeVar("R")

#: JPEG quality of the crops: visually lossless for training, a fifth of PNG's size.
JPEG_QUALITY: Final = 95


@dataclass(frozen=True)
class AnalyzerConfig:
    """What a worker process needs to build its analyzer (picklable, tiny)."""

    backend: str = "dlib"
    face_type: FaceTypeName = "whole"
    size: int = 256
    min_face: float = 40.0
    max_faces: int | None = None
    jpeg_quality: int = JPEG_QUALITY
    max_detect_side: int | None = 960


@dataclass(frozen=True, eq=False)
class FoundFace:
    """One face measured on a frame, ready to become a row and a crop file.

    Geometry is in frame pixels; ``jpeg`` is the aligned crop, encoded.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: npt.NDArray[np.float32]
    matrix: npt.NDArray[np.float64]
    yaw: float
    pitch: float
    roll: float
    sharpness: float
    expression: tuple[float, float, float, float]
    jpeg: bytes
    visibility: npt.NDArray[np.float32] | None = None  # per landmark, when the backend gives it


@dataclass
class ChunkResult:
    """Faces per frame of one chunk, and the seconds each stage took in the worker."""

    frames: list[tuple[int, list[FoundFace]]]
    timings: dict[str, float] = field(default_factory=dict)


class _Clock:
    """Accumulates seconds per stage name (cheap enough to wrap every call)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = self.timings.get(name, 0.0) + now - self._t
        self._t = now


def encode_jpeg(crop: npt.NDArray[np.uint8], quality: int = JPEG_QUALITY) -> bytes:
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(crop[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode a face crop as JPEG")
    return data.tobytes()


def crop_face_jpeg(
    frame: npt.NDArray[np.uint8], matrix: npt.ArrayLike, size: int, quality: int = JPEG_QUALITY
) -> bytes:
    """The aligned crop of ``frame`` under ``matrix``, JPEG-encoded (as extraction writes it)."""
    return encode_jpeg(crop_face(frame, matrix, size), quality)


def measure_face(
    frame: npt.NDArray[np.uint8],
    landmarks: npt.ArrayLike,
    face_type: FaceTypeName,
    size: int,
    *,
    box: tuple[float, float, float, float] | None = None,
    score: float = 0.0,
    jpeg_quality: int = JPEG_QUALITY,
    timings: dict[str, float] | None = None,
) -> FoundFace:
    """Alignment, crop, pose, sharpness and expression of a face with these landmarks.

    The one definition shared by extraction and by re-deriving a face after a landmark
    edit, so an edit that puts the landmarks back gives back the same row. Pose uses the
    frame size, which corrects the perspective of faces away from the frame's centre.
    """
    clock = _Clock(timings)
    lm = as_landmarks(landmarks)
    ftype = as_face_type(face_type)
    matrix = alignment_matrix(lm, ftype, size)
    crop = crop_face(frame, matrix, size)
    clock.lap("align_crop")
    pose = estimate_pose(lm, (frame.shape[1], frame.shape[0]))
    clock.lap("pose")
    sharp = sharpness(crop, transform_points(lm, matrix))
    clock.lap("sharpness")
    expr = expression(lm)
    clock.lap("expression")
    jpeg = encode_jpeg(crop, jpeg_quality)
    clock.lap("jpeg")
    if box is None:
        lo, hi = lm.min(axis=0), lm.max(axis=0)
        box = (float(lo[0]), float(lo[1]), float(hi[0]) + 1.0, float(hi[1]) + 1.0)
    return FoundFace(
        box=box, score=score, landmarks=lm, matrix=matrix, yaw=pose.yaw, pitch=pose.pitch, roll=pose.roll,
        sharpness=sharp, expression=(expr.mouth_open, expr.eyes_open, expr.smile, expr.brow_raise), jpeg=jpeg,
    )


# ---------------------------------------------------------------------- worker side
_config: AnalyzerConfig | None = None
_analyzer: FaceAnalyzer | None = None
_init_error: BaseException | None = None


def init_worker(config: AnalyzerConfig, threads: int = 1, *, pool_worker: bool = True) -> None:
    """Build this process's analyzer and load its models (once per process).

    A failure is kept and raised by the first task: an exception escaping a pool
    initializer only shows as "a child process terminated abruptly", which would lose
    the message that says what is missing.
    """
    global _config, _analyzer, _init_error
    _init_error = None
    if pool_worker:
        _exit_with_parent()
    try:
        cv2.setNumThreads(threads)
        if config.backend in ("fan", "mediapipe"):
            import torch

            torch.set_num_threads(threads)
        _config = config
        _analyzer = FaceAnalyzer(config.backend, config.face_type, config.size,
                                 max_detect_side=config.max_detect_side)
        _analyzer.load()
    except Exception as error:
        _init_error = error


def _exit_with_parent() -> None:
    """End this worker when the process that started it dies.

    A killed engine (SIGKILL, a crash) cannot shut its pool down, and a pool worker
    waiting for its next task would otherwise wait forever: it holds its own copy of
    the task pipe's write end, so it never sees end-of-file.
    """
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="facesmith-exit-with-parent", daemon=True).start()


def _state() -> tuple[AnalyzerConfig, FaceAnalyzer]:
    if _init_error is not None:
        raise _init_error
    if _config is None or _analyzer is None:
        raise RuntimeError("extraction worker used before init_worker()")
    return _config, _analyzer


def ready() -> int:
    """A no-op task: submitting one per worker makes the pool start them all now."""
    _state()
    return os.getpid()


def analyze_chunk(frames: list[tuple[int, npt.NDArray[np.uint8]]]) -> ChunkResult:
    """Detect, landmark and measure every face of each frame (largest face first)."""
    config, analyzer = _state()
    backend = analyzer.backend
    timings: dict[str, float] = {}
    out: list[tuple[int, list[FoundFace]]] = []
    images = [as_rgb_image(frame) for _, frame in frames]
    # One GPU batch per chunk where the backend has one; else frame by frame (the
    # backend keeps per-frame hints from detect() for the landmarks that follow).
    detected = backend.detect_frames(images) if getattr(backend, "batched", False) else None
    for k, (index, _frame) in enumerate(frames):
        clock = _Clock(timings)
        img = images[k]
        found = [d for d in (detected[k] if detected is not None else backend.detect(img))
                 if min(d.width, d.height) >= config.min_face]
        found.sort(key=lambda d: d.width * d.height, reverse=True)
        if config.max_faces is not None:
            found = found[: config.max_faces]
        clock.lap("detect")
        faces = []
        with_visibility = getattr(backend, "landmarks_visibility", None)
        for det in found:
            vis = None
            if with_visibility is not None:
                lm, vis = with_visibility(img, det.box)
            else:
                lm = backend.landmarks(img, det.box)
            clock.lap("landmarks")
            face = measure_face(img, lm, config.face_type, config.size, box=det.box, score=det.score,
                                jpeg_quality=config.jpeg_quality, timings=timings)
            faces.append(face if vis is None else replace(face, visibility=vis))
            clock = _Clock(timings)
        out.append((index, faces))
    return ChunkResult(out, timings)


FaceJob = list[tuple[npt.NDArray[np.uint8], list[tuple[int, npt.NDArray[np.float32]]]]]


def rederive_chunk(items: FaceJob) -> list[tuple[int, FoundFace]]:
    """Re-measure faces with new landmarks: ``[(frame, [(face_id, landmarks)])]``."""
    config, _ = _state()
    return [
        (face_id, measure_face(img, lm, config.face_type, config.size, jpeg_quality=config.jpeg_quality))
        for img, faces in items for face_id, lm in faces
    ]


def embed_chunk(items: FaceJob) -> list[tuple[int, npt.NDArray[np.float32]]]:
    """Identity embeddings of faces: ``[(frame, [(face_id, landmarks)])]``."""
    _, analyzer = _state()
    out = []
    for img, faces in items:
        vectors = analyzer.identity.descriptors(as_rgb_image(img), [lm for _, lm in faces])
        out.extend((face_id, vec) for (face_id, _), vec in zip(faces, vectors, strict=True))
    return out


def embed_largest_face(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32] | None:
    """The identity embedding of the largest face of an image (a reference), or None."""
    _, analyzer = _state()
    faces = analyzer.analyze(image, min_face=0, max_faces=1, with_embedding=True)
    return faces[0].embedding if faces else None


# ---------------------------------------------------------------------- main side
class _Done:
    """A finished result, for the in-process mode (same interface as a Future)."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self) -> Any:
        return self._value


class AnalyzerPool:
    """The worker processes of one extraction, or the current process with ``processes=0``.

    ``concurrent.futures`` rather than ``multiprocessing.Pool``: when a worker dies (a
    native crash in a detector) the futures fail with ``BrokenProcessPool`` instead of
    waiting forever for a result that will never come.
    """

    def __init__(self, config: AnalyzerConfig, processes: int) -> None:
        self.config = config
        self.processes = processes
        self._executor: cf.ProcessPoolExecutor | None = None
        self._started = time.perf_counter()
        self._ready_at: list[float] = []
        if processes <= 0:
            init_worker(config, threads=cv2.getNumThreads(), pool_worker=False)
            _state()
            return
        self._executor = cf.ProcessPoolExecutor(
            max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker, initargs=(config,),
        )
        # Workers are spawned on demand: ask for all of them now, so they boot while
        # the main process opens the clips.
        for _ in range(processes):
            self._executor.submit(ready).add_done_callback(lambda _: self._ready_at.append(time.perf_counter()))

    @property
    def startup_seconds(self) -> float | None:
        """From creation until every worker had loaded its models (None: not yet)."""
        if self._executor is None and not self._ready_at:
            return 0.0
        if len(self._ready_at) < self.processes:
            return None
        return max(self._ready_at) - self._started

    def submit(self, fn: Callable[..., R], *args: Any) -> cf.Future[R] | _Done:
        if self._executor is None:
            return _Done(fn(*args))
        return self._executor.submit(fn, *args)

    def imap(
        self, fn: Callable[[Any], R], items: Iterable[tuple[M, Any]], *, in_flight: int
    ) -> Iterator[tuple[M, R | None]]:
        """``(meta, fn(arg))`` for each ``(meta, arg)`` of ``items``, in order (``arg``
        ``None``: no call, ``(meta, None)`` comes out in its place).

        At most ``in_flight`` calls are queued or running at a time, so a long clip is
        never decoded far ahead of the analysis (memory stays bounded), while each
        worker always has its next chunk waiting.
        """
        pending: deque[tuple[M, cf.Future[R] | _Done]] = deque()
        source = iter(items)
        exhausted = False
        while True:
            while not exhausted and len(pending) < max(1, in_flight):
                try:
                    meta, arg = next(source)
                except StopIteration:
                    exhausted = True
                    break
                # ``None`` marks an item that only carries its meta through, in order.
                pending.append((meta, _Done(None) if arg is None else self.submit(fn, arg)))
            if not pending:
                return
            meta, future = pending.popleft()
            yield meta, future.result()

    def close(self, *, cancel: bool = False) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=cancel)
            self._executor = None

    def __enter__(self) -> AnalyzerPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self.close(cancel=exc_type is not None)
