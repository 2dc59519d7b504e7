"""Short background tasks for the editor (thumbnails, frame decodes).

Worker code never touches Qt: it returns a value into a plain queue, and a timer on the
main thread hands it on as a signal. (A worker thread emitting a queued signal with a
Python payload can deadlock PySide6: the copy of the payload waits for the GIL while
holding Qt's connection lock, which the main thread, holding the GIL, waits for in any
``connect``.) Errors go to one reporter with their traceback.
"""

from __future__ import annotations

import logging
import queue
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

log = logging.getLogger("facesmith.editor")


class _Task(QRunnable):
    def __init__(self, out: queue.SimpleQueue[tuple[Any, bool, Any]], key: Any, fn: Callable[[], Any]) -> None:
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
        self._out: queue.SimpleQueue[tuple[Any, bool, Any]] = queue.SimpleQueue()
        self._timer = QTimer(self)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._drain)
        self._pending: set[Any] = set()

    def submit(self, key: Any, fn: Callable[[], Any]) -> None:
        if key in self._pending:
            return
        self._pending.add(key)
        self._pool.start(_Task(self._out, key, fn))
        self._timer.start()

    def _drain(self) -> None:
        while True:
            try:
                key, ok, value = self._out.get_nowait()
            except queue.Empty:
                break
            if ok:
                self._on_done(key, value)
            else:
                self._on_failed(key, value)
        if not self._pending:
            self._timer.stop()

    def _on_done(self, key: Any, result: Any) -> None:
        self._pending.discard(key)
        self.finished.emit(key, result)

    def _on_failed(self, key: Any, text: str) -> None:
        self._pending.discard(key)
        log.error("background task %r failed:\n%s", key, text)
        self.failed.emit(key, text)

    def wait(self, msecs: int = 5000) -> bool:
        done = self._pool.waitForDone(msecs)
        self._drain()
        return done
