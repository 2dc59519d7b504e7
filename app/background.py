"""Short background tasks for the editor (thumbnails, frame decodes), and the hand-off every
worker thread of the editor uses to give results back.

Worker code never touches Qt: it puts a value into a plain queue (:class:`MainThreadInbox`),
and a timer on the main thread drains it and hands each value on. (A worker thread emitting
a queued signal with a Python payload can deadlock PySide6: the copy of the payload waits
for the GIL while holding Qt's connection lock, which the main thread, holding the GIL,
waits for in any ``connect``.) Errors go to one reporter with their traceback.
"""

from __future__ import annotations

import logging
import queue
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

log = logging.getLogger("facesmith.editor")


class MainThreadInbox(QObject):
    """Values put from any thread, handed to ``deliver(value)`` on the main thread.

    The timer that drains the queue runs only while work is out: :meth:`expect` (main
    thread, when work is handed to a worker) starts it, and it stops after a drain once
    ``busy()`` says nothing more will come. A worker may :meth:`put` at any time.
    """

    def __init__(self, deliver: Callable[[Any], None], busy: Callable[[], bool], parent: QObject | None = None,
                 *, interval_ms: int = 10) -> None:
        super().__init__(parent)
        self._deliver, self._busy = deliver, busy
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.drain)

    def put(self, value: Any) -> None:
        """From any thread: queue ``value`` for the main thread (no Qt call here)."""
        self._queue.put(value)

    def expect(self) -> None:
        """Main thread: work is out, drain until ``busy()`` is false."""
        if not self._timer.isActive():
            self._timer.start()

    def drain(self) -> None:
        """Main thread: hand on everything queued so far."""
        while True:
            try:
                value = self._queue.get_nowait()
            except queue.Empty:
                break
            self._deliver(value)
        if not self._busy():
            self._timer.stop()

    def discard(self) -> None:
        """Main thread: stop draining and drop what is queued (the worker is gone)."""
        self._timer.stop()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break


class _Task(QRunnable):
    def __init__(self, out: MainThreadInbox, key: Any, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._out, self._key, self._fn = out, key, fn

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception:  # reported on the main thread, with the traceback
            self._out.put((self._key, False, traceback.format_exc()))
            return
        self._out.put((self._key, True, result))


class TaskRunner(QObject):
    """Runs ``fn()`` on a small thread pool and emits ``finished(key, result)`` on the main thread.

    Repeated keys while a task for that key is in flight are coalesced.
    """

    finished = Signal(object, object)
    failed = Signal(object, str)

    def __init__(self, parent: QObject | None = None, *, threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._pending: set[Any] = set()
        self._inbox = MainThreadInbox(self._on_result, lambda: bool(self._pending), self)

    def submit(self, key: Any, fn: Callable[[], Any]) -> None:
        if key in self._pending:
            return
        self._pending.add(key)
        self._pool.start(_Task(self._inbox, key, fn))
        self._inbox.expect()

    def _on_result(self, item: tuple[Any, bool, Any]) -> None:
        key, ok, value = item
        self._pending.discard(key)
        if ok:
            self.finished.emit(key, value)
        else:
            log.error("background task %r failed:\n%s", key, value)
            self.failed.emit(key, value)

    def wait(self, msecs: int = 5000) -> bool:
        done = self._pool.waitForDone(msecs)
        self._inbox.drain()
        return done
