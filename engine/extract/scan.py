"""The scan phase of extraction: decode frames, analyze them in the pool, store the faces.

The flow, per job: a decode thread reads the frames still to do, clip after clip, and
cuts them into chunks; the main thread keeps a bounded number of chunks in the worker
processes and takes the results back *in order*; every batch of results (about a
second of work) is written in one transaction with its ``scanned_frames`` rows. That
order is what makes the job resumable: a kill at any moment leaves a prefix of frames
fully stored, and the next run plans only the frames that have no ``scanned_frames``
row. Between batches the job's ``check`` runs, so cancel and pause act within a second.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np

from engine.extract.params import FaceTypeName
from engine.extract.pool import AnalyzerPool, ChunkResult, FoundFace, analyze_chunk
from engine.media import DecodeStats, iter_frames
from engine.project.face_extras import set_visibility
from engine.project.faces import scanned_frames, store_scan_batch
from engine.project.models import Clip, NewFace
from engine.project.images import FrameSource, frame_source
from engine.project.store import ProjectStore

#: A chunk holds about this many bytes of frames: enough to amortise the IPC, small
#: enough that the last chunks of a clip do not leave a worker idle for long.
CHUNK_BYTES: Final = 3_000_000
MAX_CHUNK_FRAMES: Final = 12
#: Results are stored once this much time has passed since the last write (or at the
#: end of a clip): transactions stay few, and a kill loses at most this much work.
BATCH_SECONDS: Final = 1.0
#: More separate runs of missing frames than this are decoded in one pass, filtered.
MAX_RUNS: Final = 16


@dataclass(frozen=True)
class ClipPlan:
    """The frames of one clip an extraction still has to scan."""

    clip: Clip
    frames: tuple[int, ...]
    step: int
    already_done: int

    def runs(self) -> list[tuple[int, int]]:
        """``(start, stop)`` ranges (stop exclusive) that cover the frames with ``step``."""
        if not self.frames:
            return []
        f = self.frames
        starts = [0] + [i for i in range(1, len(f)) if f[i] - f[i - 1] != self.step]
        spans = [(f[a], f[b - 1] + 1) for a, b in zip(starts, [*starts[1:], len(f)], strict=True)]
        if len(spans) > MAX_RUNS:
            return [(self.frames[0], self.frames[-1] + 1)]
        return spans


def plan_clip(store: ProjectStore, clip: Clip, start: int | None, stop: int | None, step: int) -> ClipPlan:
    """Which frames of ``clip`` to scan: the range (default: the clip's in/out range),
    every ``step``-th frame, minus the frames already stored."""
    lo, hi = clip.frame_range
    first = lo if start is None else max(0, start)
    end = hi if stop is None else min(stop, clip.frame_count)
    wanted = range(first, max(first, end), step)
    done = scanned_frames(store, clip.id)
    todo = tuple(f for f in wanted if f not in done)
    return ClipPlan(clip, todo, step, len(wanted) - len(todo))


@dataclass
class ScanReport:
    """What the scan did, per clip and in total."""

    frames: dict[int, int] = field(default_factory=dict)
    faces: dict[int, int] = field(default_factory=dict)
    skipped: dict[int, list[int]] = field(default_factory=dict)
    face_ids: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: The clip of the last stored batch (for progress text).
    last_clip: int | None = None

    @property
    def total_frames(self) -> int:
        return sum(self.frames.values())

    @property
    def total_skipped(self) -> int:
        return sum(len(v) for v in self.skipped.values())


_Chunk = tuple[int, list[tuple[int, np.ndarray]]]  # (clip id, [(frame, image)])
_END: Final = object()


class _Decoder(threading.Thread):
    """Decodes the planned frames into chunks on a background thread.

    PyAV releases the GIL while it decodes, so this overlaps the main thread's
    pickling and writing. A clip's end is marked with its :class:`DecodeStats`, which
    holds the corrupt frames that were skipped.
    """

    def __init__(self, plans: Sequence[ClipPlan], cache_dir: Path, depth: int,
                 sources: dict[int, FrameSource] | None = None) -> None:
        super().__init__(name="facesmith-extract-decode", daemon=True)
        self.plans = plans
        self.sources = sources or {}
        self.cache_dir = cache_dir
        self.out: queue.Queue[object] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.seconds = 0.0

    def _put(self, item: object) -> bool:
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            for plan in self.plans:
                if not self._decode_clip(plan):
                    return
            self._put(_END)
        except BaseException as error:  # handed to the consumer, raised there
            self._put(error)

    def _decode_clip(self, plan: ClipPlan) -> bool:
        stats = DecodeStats()
        wanted = set(plan.frames)
        delivered: set[int] = set()
        chunk: list[tuple[int, np.ndarray]] = []
        for start, stop in plan.runs():
            source = self.sources.get(plan.clip.id)
            frames = (source.frames(start=start, stop=stop, step=plan.step, threaded=False, stats=stats)
                      if source is not None else
                      iter_frames(plan.clip.path, start=start, stop=stop, step=plan.step, threaded=False,
                                  stats=stats, index_cache_dir=self.cache_dir))
            try:
                t = time.perf_counter()
                for index, image in frames:
                    self.seconds += time.perf_counter() - t
                    if index in wanted:
                        delivered.add(index)
                        chunk.append((index, image))
                        if len(chunk) >= max(1, min(MAX_CHUNK_FRAMES, CHUNK_BYTES // max(1, image.nbytes))):
                            if not self._put((plan.clip.id, chunk)):
                                return False
                            chunk = []
                    t = time.perf_counter()
            finally:
                frames.close()  # type: ignore[attr-defined]
        if chunk and not self._put((plan.clip.id, chunk)):
            return False
        # Frames asked for and never delivered: flagged corrupt, or missing at the end of
        # a clip that holds fewer frames than its header promised.
        stats.skipped_indexes[:] = sorted(wanted - delivered)
        return self._put((plan.clip.id, stats))

    def chunks(self) -> Iterator[tuple[tuple[int, DecodeStats | None], list[tuple[int, np.ndarray]] | None]]:
        """Items for :meth:`AnalyzerPool.imap`, in order: ``((clip_id, None), chunk)`` for
        frames, then ``((clip_id, stats), None)`` at the end of each clip."""
        while True:
            item = self.out.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            clip_id, payload = item  # type: ignore[misc]
            if isinstance(payload, DecodeStats):
                yield (clip_id, payload), None
            else:
                yield (clip_id, None), payload

    def close(self) -> None:
        self.stop.set()
        self.join(timeout=10)


def _new_face(clip: Clip, frame: int, idx: int, f: FoundFace, face_type: FaceTypeName, size: int) -> NewFace:
    return NewFace(
        clip_id=clip.id, frame=frame, idx=idx, box=f.box, score=f.score, landmarks=f.landmarks,
        face_type=face_type, crop_size=size, alignment=f.matrix, yaw=f.yaw, pitch=f.pitch, roll=f.roll,
        sharpness=f.sharpness, mouth_open=f.expression[0], eyes_open=f.expression[1], smile=f.expression[2],
        brow_raise=f.expression[3],
    )


def scan(
    store: ProjectStore,
    plans: Sequence[ClipPlan],
    pool: AnalyzerPool,
    *,
    after_batch: Callable[[ScanReport], None],
) -> ScanReport:
    """Scan the planned frames; ``after_batch`` runs after each stored batch (progress,
    cancel/pause checks: it may raise to stop, and what was stored stays stored)."""
    report = ScanReport()
    clips = {p.clip.id: p.clip for p in plans}
    for p in plans:
        report.frames[p.clip.id] = 0
        report.faces[p.clip.id] = 0
        report.skipped[p.clip.id] = []
    config = pool.config
    pending: list[tuple[int, ChunkResult]] = []
    last_write = time.monotonic()

    def flush() -> None:
        nonlocal last_write
        if not pending:
            return
        t = time.perf_counter()
        faces: list[NewFace] = []
        crops: list[bytes] = []
        visible: list[np.ndarray | None] = []
        scanned: list[tuple[int, int, int]] = []
        for clip_id, result in pending:
            clip = clips[clip_id]
            for frame, found in result.frames:
                scanned.append((clip_id, frame, len(found)))
                for idx, f in enumerate(found):
                    faces.append(_new_face(clip, frame, idx, f, config.face_type, config.size))
                    crops.append(f.jpeg)
                    visible.append(f.visibility)
        ids = store_scan_batch(store, faces, crops, scanned)
        set_visibility(store, {i: v for i, v in zip(ids, visible, strict=True) if v is not None})
        report.face_ids.extend(ids)
        for clip_id, result in pending:
            report.frames[clip_id] += len(result.frames)
            report.faces[clip_id] += sum(len(found) for _, found in result.frames)
            report.last_clip = clip_id
        pending.clear()
        report.timings["store"] = report.timings.get("store", 0.0) + time.perf_counter() - t
        last_write = time.monotonic()
        after_batch(report)

    in_flight = 2 * max(1, pool.processes)
    decoder = _Decoder(plans, store.root / "cache", depth=in_flight + 2,
                       sources={p.clip.id: frame_source(store, p.clip) for p in plans})
    decoder.start()
    wait_t = time.perf_counter()
    try:
        for (clip_id, stats), result in pool.imap(analyze_chunk, decoder.chunks(), in_flight=in_flight):
            report.timings["wait"] = report.timings.get("wait", 0.0) + time.perf_counter() - wait_t
            if stats is not None:  # the clip's last chunk came before: store it whole
                report.skipped[clip_id] = list(stats.skipped_indexes)
                flush()
            elif result is not None:
                for name, seconds in result.timings.items():
                    report.timings[name] = report.timings.get(name, 0.0) + seconds
                pending.append((clip_id, result))
                if time.monotonic() - last_write >= BATCH_SECONDS:
                    flush()
            wait_t = time.perf_counter()
        flush()
    finally:
        decoder.close()
        report.timings["decode"] = decoder.seconds
    return report
