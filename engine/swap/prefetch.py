"""Batch prefetch: the next step's batches are prepared on a thread while this step runs.

Preparing a step's batches (:meth:`~engine.swap.trainer.Trainer.next_batches`) is index
draws, the gather from the face set (on a disk-backed set, ``preadv`` into the pinned
staging buffer and one copy to the device) and the augmentation (on the device: on a
GPU its kernels are only queued from here). :class:`BatchSource` runs it on one
**prefetch thread** that keeps at most :data:`DEPTH` prepared steps ready in a bounded
queue, so on a GPU the host-side part overlaps the device's step and on a CPU the
preparation overlaps the step's single-threaded stretches.

Exactness: the prefetch thread is the only user of the trainer's batch generator and
samplers while it runs, and it draws in the order a loop without prefetch would, so the
batches are the same ones. Each prepared step carries the **draw position** after it
(the generator state and the samplers' counts); before the session checkpoints, rolls
back or stops it calls :meth:`BatchSource.settle`, which stops the thread, drops what was
prepared ahead and rewinds the trainer to the position after the last batch it used. A
checkpoint therefore holds what it holds without prefetch, and a resumed step gives the
same loss.

An exception on the prefetch thread is not swallowed: it is handed through the queue and
raised again in the training loop (with a note saying where it came from), so the job
fails with its message.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import torch

#: Prepared steps kept ready (each holds a src and a dst batch).
DEPTH: Final = 2
_POLL_S: Final = 0.1
_JOIN_S: Final = 30.0


@dataclass(frozen=True)
class _Failed:
    exc: BaseException


class Prefetcher:
    """Runs ``produce`` on a thread, at most ``depth`` results ahead of :meth:`get`."""

    def __init__(self, produce: Callable[[], Any], *, depth: int = DEPTH, init: Callable[[], None] | None = None,
                 name: str = "facesmith-prefetch") -> None:
        if depth < 1:
            raise ValueError(f"prefetch depth must be >= 1, got {depth}")
        self._produce, self._init, self._name, self.depth = produce, init, name, depth
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._queue = queue.Queue(maxsize=self.depth)
        self._thread = threading.Thread(target=self._run, args=(self._queue,), name=self._name, daemon=True)
        self._thread.start()

    def _put(self, q: queue.Queue[Any], item: Any) -> bool:
        while not self._stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, q: queue.Queue[Any]) -> None:
        try:
            if self._init is not None:
                self._init()
            while not self._stop.is_set():
                if not self._put(q, self._produce()):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(q, _Failed(exc))

    def get(self) -> Any:
        """The next result; an exception raised by ``produce`` is raised here."""
        if self._thread is None:
            self.start()
        thread = self._thread
        assert thread is not None
        while True:
            try:
                item = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if not thread.is_alive():
                    self._thread = None
                    raise RuntimeError("the batch prefetch thread ended without a batch") from None
                continue
            if isinstance(item, _Failed):
                self.stop()
                item.exc.add_note("(raised while preparing a batch on the prefetch thread)")
                raise item.exc
            return item

    def stop(self) -> None:
        """Stop the thread and drop what it prepared ahead (idempotent)."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        if thread is not threading.current_thread():
            thread.join(timeout=_JOIN_S)
        self._thread = None
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break


class BatchSource:
    """A trainer's batches for the training loop, prefetched or drawn inline.

    ``fault_at``: testing aid, the preparation of this iteration's batches raises once.
    """

    def __init__(self, trainer: Any, *, prefetch: bool = True, depth: int = DEPTH,
                 fault_at: int | None = None) -> None:
        self.trainer = trainer
        self.fault_at = fault_at
        self._next_step = 0  # the iteration whose batches are drawn next
        self._consumed: Any = None
        device = trainer.device
        init = (lambda: torch.cuda.set_device(device)) if device.type == "cuda" else None
        self._pf = Prefetcher(self._produce, depth=depth, init=init) if prefetch else None

    @property
    def prefetching(self) -> bool:
        return self._pf is not None

    def _draw(self) -> Any:
        self._next_step += 1
        if self.fault_at is not None and self._next_step == self.fault_at:
            self.fault_at = None
            raise RuntimeError(f"injected fault in the batch preparation of iteration {self._next_step}")
        with torch.no_grad():
            return self.trainer.next_batches()

    def _produce(self) -> tuple[Any, Any]:
        batches = self._draw()
        return batches, self.trainer.draw_position()

    def next(self) -> Any:
        """The batches of the next step."""
        if self._pf is None:
            self._next_step = self.trainer.iteration
            return self._draw()
        if not self._pf.running:
            self._consumed = self.trainer.draw_position()
            self._next_step = self.trainer.iteration
            self._pf.start()
        batches, position = self._pf.get()
        self._consumed = position
        return batches

    def settle(self) -> None:
        """Stop prefetching and rewind the trainer's draws to just after the last batch
        used (before a checkpoint, a rollback or a stop); :meth:`next` starts again."""
        if self._pf is None or not self._pf.running:
            return
        self._pf.stop()
        if self._consumed is not None:
            self.trainer.set_draw_position(self._consumed)

    def close(self) -> None:
        self.settle()
