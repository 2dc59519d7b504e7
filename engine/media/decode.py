"""Decoding frames of a clip: exact random access, fast sequential reading, thumbnails.

Two ways to read, because the editor and the jobs need different things. The editor's
timeline asks for arbitrary frames one at a time and must get exactly frame *i* (a face
found on frame 1203 has to be drawn on frame 1203): :class:`FrameReader` seeks to the
keyframe before it and decodes forward, recognising frames by timestamp. Jobs (face
extraction, merge) read long runs in order and want throughput: :func:`iter_frames`
decodes on a background thread into a bounded queue so decoding overlaps the consumer's
work, and it survives damaged frames by skipping and counting them.

Every frame comes out as a C-contiguous ``uint8`` array of shape ``(H, W, 3)`` in RGB
order, turned upright when the file's display matrix says it was recorded rotated.
Frame numbers are 0-based and in presentation order, identical in both ways of reading.
"""

from __future__ import annotations

import operator
import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar, cast

import cv2
import numpy as np

from engine.errors import MediaError
from engine.media._container import header_fps, measured_fps
from engine.media._cursor import Cursor
from engine.media.indexing import FrameIndex, frame_index

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator
    from fractions import Fraction
    from types import TracebackType

    from av.video.frame import VideoFrame

__all__ = ["DecodeStats", "FrameReader", "iter_frames", "thumbnail"]

#: A forward read this close to the last decoded frame decodes on instead of seeking.
_FORWARD_FRAMES: Final = 4

#: Decoder messages kept in :attr:`DecodeStats.errors`; the count goes on past it.
_MAX_MESSAGES: Final = 20


def to_rgb(frame: VideoFrame, *, autorotate: bool = True) -> np.ndarray:
    """The frame as an ``(H, W, 3)`` RGB ``uint8`` array, upright when ``autorotate``."""
    image = frame.to_ndarray(format="rgb24")
    turns = (round((frame.rotation or 0) / 90) % 4) if autorotate else 0
    if turns:
        image = np.rot90(image, k=turns)
    # PyAV hands out a view of the frame's buffer, whose rows are padded for alignment;
    # OpenCV and torch want plain contiguous rows.
    return np.ascontiguousarray(image)


@dataclass
class DecodeStats:
    """What a sequential decode met; pass one to :func:`iter_frames` to read it afterwards.

    Attributes
    ----------
    decoded:
        Frames delivered to the caller.
    skipped_indexes:
        Frame numbers asked for but not delivered: damaged (the decoder flagged the
        picture as corrupt) or missing (the decoder produced nothing for them).
    errors:
        The first few decoder messages about refused packets.
    """

    decoded: int = 0
    skipped_indexes: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """How many frames asked for were not delivered."""
        return len(self.skipped_indexes)


class FrameReader:
    """Frame-accurate random access to one clip's frames by 0-based frame number.

    Opening demuxes the file once to build its :class:`FrameIndex` (or loads it from
    ``index_cache_dir``, the project's ``cache/`` folder) and decodes frame 0. Reading
    frame *i* right after frame *i-1* (or a few frames later) just decodes on; anything
    else seeks to the keyframe at or before *i*. Recently read frames are kept in a small
    LRU, so going back and forth over a few frames costs nothing. Every returned array is
    the caller's own copy. A reader may be shared between threads (calls are serialised).

    Parameters
    ----------
    path:
        The video file.
    index_cache_dir:
        Folder for the frame index cache, keyed by content fingerprint; None to not cache.
    cache_frames:
        How many decoded frames the LRU keeps.
    autorotate:
        Turn frames upright per the display matrix (``size`` is then the upright size).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        index_cache_dir: Path | None = None,
        cache_frames: int = 16,
        autorotate: bool = True,
    ) -> None:
        self.path = Path(path)
        self._index = frame_index(self.path, cache_dir=index_cache_dir)
        if self._index.frame_count == 0:
            raise MediaError(self.path, "truncated or damaged: it holds no video frame")
        self._autorotate = autorotate
        self._cache_frames = max(0, cache_frames)
        self._lru: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False
        # Single-frame latency matters more than throughput here: slice threads add
        # none, while frame threads hold back one frame per thread after every seek.
        self._cursor = Cursor(self.path, self._index, thread_type="SLICE")
        try:
            self._fps = self._frame_rate()
            first = self.read(0)
        except BaseException:
            self._cursor.close()
            raise
        self._size = (int(first.shape[1]), int(first.shape[0]))

    def _frame_rate(self) -> Fraction:
        """The header's rate, else the one the timestamps imply (as :func:`probe` does)."""
        fps = header_fps(self._cursor.stream)
        index = self._index
        if fps is None and index.by_pts and index.frame_count > 1:
            span = float((index.pts[-1] - index.pts[0]) * index.time_base)
            fps = measured_fps(index.frame_count - 1, span)
        if fps is None:
            raise MediaError(self.path, "unsupported: the frame rate cannot be determined")
        return fps

    @property
    def frame_count(self) -> int:
        return self._index.frame_count

    @property
    def fps(self) -> Fraction:
        return self._fps

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the frames :meth:`read` returns."""
        return self._size

    @property
    def index(self) -> FrameIndex:
        return self._index

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as an ``(H, W, 3)`` RGB ``uint8`` array (a fresh copy).

        Raises IndexError for a frame number outside ``0..frame_count-1`` and
        :class:`MediaError` when the frame's data cannot be decoded.
        """
        i = operator.index(index)
        count = self._index.frame_count
        if not 0 <= i < count:
            raise IndexError(
                f"frame {i} is out of range: {self.path.name} has {count} frames (0..{count - 1})"
            )
        with self._lock:
            if self._closed:
                raise ValueError(f"{self.path.name}: the frame reader is closed")
            cached = self._lru.get(i)
            if cached is not None:
                self._lru.move_to_end(i)
                return cached.copy()
            image = to_rgb(self._decode(i), autorotate=self._autorotate)
            if self._cache_frames:
                self._lru[i] = image
                while len(self._lru) > self._cache_frames:
                    self._lru.popitem(last=False)
                return image.copy()
            return image

    def _decode(self, i: int) -> VideoFrame:
        cursor = self._cursor
        if cursor.position is not None and cursor.position < i:
            index = self._index
            same_group = index.keyframe_slot(i) == index.keyframe_slot(cursor.position)
            if same_group or i - cursor.position <= _FORWARD_FRAMES or not index.seekable:
                frame = cursor.advance_to(i)
                if frame is not None:
                    return frame
        cursor.seek_before(i)
        frame = cursor.advance_to(i)
        if frame is None and self._index.seekable:
            cursor.rewind()  # the seek was not trustworthy; decode from the start
            frame = cursor.advance_to(i)
        if frame is None:
            detail = f": {cursor.last_error}" if cursor.last_error else ""
            raise MediaError(self.path, f"frame {i} cannot be decoded (damaged data{detail})")
        return frame

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._cursor.close()
            self._lru.clear()

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def iter_frames(
    path: str | Path,
    *,
    start: int = 0,
    stop: int | None = None,
    step: int = 1,
    threaded: bool = True,
    queue_size: int = 16,
    stats: DecodeStats | None = None,
    index_cache_dir: Path | None = None,
    autorotate: bool = True,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, frame)`` for frames ``start, start+step, ...`` below ``stop``, in order.

    Frame numbers match :class:`FrameReader`'s. A frame the decoder flags as corrupt, or
    cannot produce at all, is skipped and recorded in ``stats`` rather than ending the
    run, so one damaged spot does not cost a whole extraction. With ``threaded`` a
    background thread decodes up to ``queue_size`` frames ahead; closing the generator
    (``break`` in a ``for`` loop, or ``.close()``) stops and joins that thread.

    Arguments are checked now; the file is opened on the first ``next()``.
    """
    if start < 0 or (stop is not None and stop < 0):
        raise ValueError(f"start and stop must be >= 0, got start={start}, stop={stop}")
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    if queue_size < 1:
        raise ValueError(f"queue_size must be >= 1, got {queue_size}")
    stats = stats if stats is not None else DecodeStats()
    frames = _sequential(
        Path(path), start, stop, step, stats, index_cache_dir=index_cache_dir, autorotate=autorotate
    )
    return read_ahead(frames, queue_size) if threaded else frames


def _sequential(
    path: Path,
    start: int,
    stop: int | None,
    step: int,
    stats: DecodeStats,
    *,
    index_cache_dir: Path | None,
    autorotate: bool,
) -> Generator[tuple[int, np.ndarray], None, None]:
    index = frame_index(path, cache_dir=index_cache_dir)
    end = index.frame_count if stop is None else min(stop, index.frame_count)
    wanted = range(start, end, step)
    if not wanted:
        return
    # Throughput matters here: frame threads decode several pictures at once.
    cursor = Cursor(path, index, thread_type="AUTO")
    errors_seen = 0
    try:
        if index.seekable and wanted[0] > 0:
            cursor.seek_before(wanted[0])
        k = 0  # position in `wanted` of the next frame to deliver
        while k < len(wanted):
            frame = cursor.next_frame()
            if cursor.errors > errors_seen:
                errors_seen = cursor.errors
                if len(stats.errors) < _MAX_MESSAGES:
                    stats.errors.append(cursor.last_error)
            if frame is None:
                break
            i = cursor.position
            if i is None or i < wanted[k]:
                continue
            while k < len(wanted) and wanted[k] < i:  # asked for, never produced
                stats.skipped_indexes.append(wanted[k])
                k += 1
            if k < len(wanted) and wanted[k] == i:
                k += 1
                if frame.is_corrupt:
                    stats.skipped_indexes.append(i)
                else:
                    stats.decoded += 1
                    yield i, to_rgb(frame, autorotate=autorotate)
            if k < len(wanted) and index.seekable and wanted[k] - i > _FORWARD_FRAMES:
                # A long step over a keyframe: seeking beats decoding frames nobody wants.
                if index.keyframe_slot(wanted[k]) > index.keyframe_slot(i):
                    cursor.seek_before(wanted[k])
        stats.skipped_indexes.extend(wanted[k:])
    finally:
        cursor.close()


_DONE: Final = object()
_T = TypeVar("_T")


def read_ahead(
    frames: Generator[_T, None, None], queue_size: int, *, name: str = "facesmith-decode"
) -> Generator[_T, None, None]:
    """Run ``frames`` on a worker thread, handing results over through a bounded queue.

    PyAV (and cv2, for image clips) release the GIL while decoding and converting, so the
    worker really runs in parallel with the consumer. Errors raised on the worker are
    re-raised here; closing the consumer stops the worker and closes ``frames``.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_size))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in frames:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:  # handed to the consumer, re-raised there
            put(error)
        finally:
            frames.close()

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast("_T", item)
    finally:
        stop.set()
        worker.join()


def thumbnail(source: str | Path | FrameReader, index: int, max_size: int = 160) -> np.ndarray:
    """Frame ``index`` scaled down so its longer side is at most ``max_size`` (RGB).

    The aspect ratio is kept and small frames are not enlarged. ``INTER_AREA`` averages
    the pixels each thumbnail pixel covers, which avoids the aliasing (jagged edges,
    shimmering) of bilinear scaling at large reductions.
    """
    if max_size < 1:
        raise ValueError(f"max_size must be >= 1, got {max_size}")
    if hasattr(source, "read"):  # a FrameReader or an ImageFrameReader
        image = source.read(index)  # type: ignore[union-attr]
    else:
        with FrameReader(source, cache_frames=0) as reader:
            image = reader.read(index)
    height, width = image.shape[:2]
    scale = max_size / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
