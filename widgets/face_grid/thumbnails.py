"""Thumbnails for the face grid: decoded off the main thread, on demand, and kept in an LRU cache.

The grid asks only for the faces it is painting (:meth:`ThumbnailLoader.request`), so opening
a project with 100,000 faces decodes nothing up front. Each request *replaces* the pending
queue: when the user scrolls fast, the faces that scrolled past are simply never loaded.
Decoding runs in a private ``QThreadPool`` (two threads, so the GUI thread keeps a core) and
the worker code calls only the source and numpy/OpenCV — no Qt — following the superqt
``thread_worker`` rule; results come back through a queued signal and become ``QImage``s on the
GUI thread.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple, Protocol, runtime_checkable

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal
from PySide6.QtGui import QImage

#: Thumbnails are handed to QImage in the byte order of Format_RGB32 (0xffRRGGBB), the format
#: the raster paint engine blits without converting.
_LITTLE_ENDIAN: Final = sys.byteorder == "little"
_QIMAGE_FORMAT: Final = QImage.Format.Format_RGB32 if _LITTLE_ENDIAN else QImage.Format.Format_RGBX8888


@runtime_checkable
class ThumbnailSource(Protocol):
    """Where the grid gets a face's picture. The presenter provides it (in the editor it reads
    ``faces/<shard>/<id>.jpg``).

    ``load`` is called in worker threads, two at a time: it must be thread-safe, must not touch
    Qt, and returns an RGB ``uint8`` array (H, W, 3); grey (H, W) and RGBA (H, W, 4) are
    accepted. Raising marks the face as failed until :meth:`ThumbnailLoader.invalidate`.
    """

    def load(self, face_id: int) -> np.ndarray: ...


def fit_thumbnail(image: np.ndarray, size: int) -> np.ndarray:
    """Scale an RGB/grey/RGBA uint8 image so its longest side is ``size`` and return it as a
    contiguous (h, w, 4) array in the QImage byte order. Runs in worker threads (no Qt)."""
    import cv2  # imported on first use: the grid must not slow the editor's start-up

    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise TypeError(f"thumbnail must be uint8, got {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"thumbnail must be (H, W, 3) RGB, got shape {arr.shape}")
    h, w = arr.shape[:2]
    scale = size / max(h, w)
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    if (tw, th) != (w, h):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        arr = cv2.resize(np.ascontiguousarray(arr), (tw, th), interpolation=interp)
    if _LITTLE_ENDIAN:
        code = cv2.COLOR_RGBA2BGRA if arr.shape[2] == 4 else cv2.COLOR_RGB2BGRA
    else:
        code = cv2.COLOR_RGBA2RGBA if arr.shape[2] == 4 else cv2.COLOR_RGB2RGBA
    out = cv2.cvtColor(np.ascontiguousarray(arr), code)
    out[:, :, 3] = 255
    return out


class _Request(NamedTuple):
    face_id: int
    size: int
    epoch: int
    generation: int
    source: ThumbnailSource


class _Emitter(QObject):
    """Carries results from the pool threads to the GUI thread (a queued connection)."""

    delivered = Signal(object)  # (_Request, np.ndarray | None, str | None)


class _LoadQueue:
    """The state the GUI thread and the pool threads share, guarded by one lock.

    It holds no Qt object except the emitter, which is parentless and kept alive by this queue,
    so a worker finishing after its grid was deleted emits into nothing instead of crashing.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: deque[_Request] = deque()
        self.in_flight: set[int] = set()
        self.active = 0
        self.emitter = _Emitter()

    def drop_pending(self) -> None:
        with self.lock:
            self.pending.clear()

    def work(self) -> None:
        """Runs in a pool thread: load pending faces until none are left."""
        while True:
            with self.lock:
                if not self.pending:
                    self.active -= 1
                    return
                request = self.pending.popleft()
                self.in_flight.add(request.face_id)
            try:
                image: np.ndarray | None = fit_thumbnail(request.source.load(request.face_id), request.size)
                error = None
            except Exception:  # noqa: BLE001 - any failure of the source is reported, not raised
                image, error = None, traceback.format_exc()
            self.emitter.delivered.emit((request, image, error))


class ThumbnailLoader(QObject):
    """Loads face thumbnails in a thread pool and caches them as ``QImage``s (LRU).

    Parameters
    ----------
    max_threads : worker threads (default 2).
    max_items, max_bytes : cache bounds; the least recently drawn thumbnails go first.

    Signals: ``thumbnails_ready(object)`` (np.ndarray of face ids that arrived, batched about
    every 16 ms), ``load_failed(int, str)`` (face id, traceback; once per failure).
    """

    thumbnails_ready = Signal(object)
    load_failed = Signal(int, str)

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 2, max_items: int = 5000,
                 max_bytes: int = 256 * 1024 * 1024) -> None:
        super().__init__(parent)
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._source: ThumbnailSource | None = None
        self._cache: OrderedDict[int, QImage] = OrderedDict()
        self._bytes = 0
        self._failed: set[int] = set()
        self._stale: set[int] = set()
        self._generation: dict[int, int] = {}
        self._epoch = 0
        self._ready: list[int] = []
        self._queue = _LoadQueue()
        self._queue.emitter.delivered.connect(self._on_delivered)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        # destroyed is emitted before the children go, so the pool's destructor, which waits
        # for its threads, waits only for the loads already running, not for the whole queue.
        self.destroyed.connect(self._queue.drop_pending)
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(16)
        self._flush.timeout.connect(self._emit_ready)

    # ------------------------------------------------------------------ source and cache
    def set_source(self, source: ThumbnailSource | None) -> None:
        """Use this source from now on; drops the cache and whatever is pending."""
        self._epoch += 1
        self._source = source
        self.clear()

    def source(self) -> ThumbnailSource | None:
        return self._source

    def clear(self) -> None:
        """Forget every cached thumbnail and failure, and drop pending loads."""
        self._cache.clear()
        self._bytes = 0
        self._failed.clear()
        self._stale.clear()
        self._epoch += 1
        self._queue.drop_pending()

    def invalidate(self, face_ids: Iterable[int], *, keep_old: bool = True) -> None:
        """These faces' pictures changed (e.g. a new crop): reload them when next requested.
        With ``keep_old`` the old picture is still returned by :meth:`get` until the new one
        arrives (no placeholder flash). A load already running for one of them is discarded."""
        for face_id in (int(i) for i in face_ids):
            if keep_old and face_id in self._cache:
                self._stale.add(face_id)
            else:
                self._drop(face_id)
            self._failed.discard(face_id)
            self._generation[face_id] = self._generation.get(face_id, 0) + 1

    def get(self, face_id: int) -> QImage | None:
        """The cached thumbnail (any size), marking it recently used; None if not loaded."""
        image = self._cache.get(face_id)
        if image is not None:
            self._cache.move_to_end(face_id)
        return image

    def failed(self, face_id: int) -> bool:
        return face_id in self._failed

    def cached_count(self) -> int:
        return len(self._cache)

    def cached_bytes(self) -> int:
        return self._bytes

    def is_idle(self) -> bool:
        """Nothing pending, nothing loading and nothing waiting to be announced."""
        with self._queue.lock:
            busy = bool(self._queue.pending) or bool(self._queue.in_flight) or self._queue.active > 0
        return not busy and not self._ready

    # ------------------------------------------------------------------ loading
    def request(self, face_ids: Sequence[int], size: int) -> None:
        """Load these faces, first ones first, at ``size`` px (longest side); this replaces the
        pending queue, so faces asked for before and not asked for now are dropped."""
        source = self._source
        if source is None or size <= 0:
            return
        wanted = []
        for face_id in face_ids:
            image = self._cache.get(face_id)
            fresh = image is not None and max(image.width(), image.height()) == size and face_id not in self._stale
            if not fresh and face_id not in self._failed:
                wanted.append(face_id)
        epoch, generation = self._epoch, self._generation
        with self._queue.lock:
            in_flight = self._queue.in_flight
            self._queue.pending = deque(
                _Request(i, size, epoch, generation.get(i, 0), source) for i in wanted if i not in in_flight
            )
            start = min(self._pool.maxThreadCount() - self._queue.active, len(self._queue.pending))
            start = max(start, 0)
            self._queue.active += start
        for _ in range(start):
            self._pool.start(self._queue.work)

    def cancel_pending(self, *, wait: bool = True) -> None:
        """Drop the queue and (with ``wait``) block until the loads already running end."""
        self._queue.drop_pending()
        if wait:
            self._pool.waitForDone()

    def load_now(self, face_ids: Iterable[int], size: int) -> None:
        """Load these faces synchronously on this thread (tests, benchmarks, warm-up)."""
        if self._source is None:
            return
        for face_id in (int(i) for i in face_ids):
            request = _Request(face_id, size, self._epoch, self._generation.get(face_id, 0), self._source)
            try:
                image, error = fit_thumbnail(self._source.load(face_id), size), None
            except Exception:  # noqa: BLE001
                image, error = None, traceback.format_exc()
            self._on_delivered((request, image, error))

    # ------------------------------------------------------------------ results (GUI thread)
    def _on_delivered(self, result: tuple[_Request, np.ndarray | None, str | None]) -> None:
        request, image, error = result
        with self._queue.lock:
            self._queue.in_flight.discard(request.face_id)
        if request.epoch != self._epoch or request.generation != self._generation.get(request.face_id, 0):
            return  # the source changed or the face was invalidated while it was loading
        face_id = request.face_id
        if error is not None or image is None:
            self._failed.add(face_id)
            self.load_failed.emit(face_id, error or "no image")
        else:
            h, w = image.shape[:2]
            qimage = QImage(image.data, w, h, int(image.strides[0]), _QIMAGE_FORMAT).copy()
            self._drop(face_id)
            self._cache[face_id] = qimage
            self._bytes += qimage.sizeInBytes()
            self._evict()
        self._ready.append(face_id)
        if not self._flush.isActive():
            self._flush.start()

    def _drop(self, face_id: int) -> None:
        image = self._cache.pop(face_id, None)
        if image is not None:
            self._bytes -= image.sizeInBytes()
        self._stale.discard(face_id)

    def _evict(self) -> None:
        while self._cache and (len(self._cache) > self.max_items or self._bytes > self.max_bytes):
            face_id, image = self._cache.popitem(last=False)
            self._bytes -= image.sizeInBytes()
            self._stale.discard(face_id)

    def _emit_ready(self) -> None:
        ready, self._ready = self._ready, []
        if ready:
            self.thumbnails_ready.emit(np.asarray(ready, dtype=np.int64))
